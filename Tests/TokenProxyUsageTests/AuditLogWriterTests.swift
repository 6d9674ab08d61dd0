import Foundation
import Synchronization
import Testing
import TokenProxyCore

@testable import TokenProxyUsage

#if canImport(Glibc)
import Glibc
#endif

/// A scratch directory and the audit log in it, removed when the test ends.
struct AuditLogScratch: ~Copyable {
    let directory: String
    let path: String

    init() throws {
        directory = (NSTemporaryDirectory() as NSString)
            .appendingPathComponent("tokenproxy-audit-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("state/audit.jsonl")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A usage event whose path carries `number`, so records can be told apart.
    static func event(_ number: Int, status: Int = 200) -> UsageEvent {
        UsageEvent(
            time: Date(timeIntervalSince1970: 1_704_164_645.5 + Double(number)), client: "127.0.0.1:\(50_000 + number)",
            method: "GET", host: "api.github.com", port: 443, path: "/v1/items/\(number)", rule: 0,
            credential: "github", status: status, bytesIn: number, bytesOut: 2 * number, durationMilliseconds: 1.25,
            decision: .injected, reason: nil
        )
    }

    /// Writes events `first..<first+count` in batches of `batch` through a fresh writer, then flushes and closes it.
    func write(
        _ range: Range<Int>, batch: Int = 5, maxBytes: Int? = nil, sync: AuditSync = .default
    ) throws {
        let writer = try AuditLogWriter(path: path, maxBytes: maxBytes, sync: sync)
        defer { writer.close() }
        var number = range.lowerBound
        while number < range.upperBound {
            let end = min(number + batch, range.upperBound)
            try writer.write((number..<end).map { Self.event($0) })
            try writer.flush(final: false)
            number = end
        }
        try writer.flush(final: true)
    }

    /// Every file of the log, oldest first.
    var files: [String] {
        get throws { try AuditChain.files(ofLiveLog: path) }
    }

    /// The verifier's verdict over every file of the log.
    func verify() throws -> AuditChainVerifier.Result {
        try AuditChainVerifier().verify(files: try files)
    }

    /// The lines of `file` (default: the live log), without their newlines; expects the file to end with one.
    static func lines(of file: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [String] {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(
            text.isEmpty || text.hasSuffix("\n"), "\(file) does not end with a newline", sourceLocation: sourceLocation
        )
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// The `seq` and `prev` of a record line.
    static func chainFields(of line: String) throws -> (seq: Int, prev: String) {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return (try #require(object["seq"] as? Int), try #require(object["prev"] as? String))
    }

    /// Expects the verifier to find the log intact with `records` records, the last of them seq `lastSeq`.
    func expectIntact(
        records: Int, lastSeq: Int? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let result = try verify()
        guard case .intact(let summary) = result else {
            Issue.record("the chain is not intact: \(result)", sourceLocation: sourceLocation)
            return
        }
        #expect(summary.records == records, sourceLocation: sourceLocation)
        #expect(summary.lastSeq == lastSeq ?? records, sourceLocation: sourceLocation)
    }
}

/// System calls that count `fsync`s and can be made to run out of space, around the real ones.
final class ScriptedAuditIO: Sendable {
    struct State {
        var fsyncs = 0
        /// When set, writes succeed for this many more bytes, then fail with `ENOSPC`.
        var spaceLeft: Int?
    }

    let state = Mutex(State())

    var io: AuditLogIO {
        AuditLogIO(
            write: { [self] descriptor, bytes in
                let allowed = state.withLock { state -> Int in
                    guard let left = state.spaceLeft else { return bytes.count }
                    let allowed = min(left, bytes.count)
                    state.spaceLeft = left - allowed
                    return allowed
                }
                guard allowed > 0 else { return -Int(ENOSPC) }
                return AuditLogIO.system.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes[..<allowed]))
            },
            fsync: { [self] descriptor in
                state.withLock { $0.fsyncs += 1 }
                return AuditLogIO.system.fsync(descriptor)
            }
        )
    }
}

@Suite("AuditLogWriter")
struct AuditLogWriterTests {
    @Test("the SHA-256 of a line is its lowercase hex digest")
    func hashKnownAnswer() {
        #expect(
            AuditChain.hash(ofLine: Data("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
        #expect(AuditChain.genesisHash == String(repeating: "0", count: 64))
    }

    @Test("each record is the event plus seq and prev, keys sorted, one line")
    func recordFormat() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(1..<3)
        let lines = try AuditLogScratch.lines(of: scratch.path)
        try #require(lines.count == 2)
        let keys = lines[0].matches(of: #/"([a-z_]+)":/#).map { String($0.1) }
        #expect(keys == keys.sorted())
        // Every field of the event (more may be added to it), plus the chain's two.
        let eventKeys: Set<String> = [
            "bytes_in", "bytes_out", "client", "credential", "decision", "duration_ms", "host", "method", "path",
            "port", "reason", "rule", "status", "time",
        ]
        #expect(Set(keys).isSuperset(of: eventKeys.union(["seq", "prev"])))
        #expect(keys.count == Set(keys).count)
        #expect(lines[0].hasPrefix("{\"bytes_in\":1,\"bytes_out\":2,\"client\":"))
        #expect(lines[0].contains("\"prev\":\"\(AuditChain.genesisHash)\""))
        #expect(lines[0].contains("\"seq\":1,"))
        #expect(lines[1].contains("\"prev\":\"\(AuditChain.hash(ofLine: Data(lines[0].utf8)))\""))
        let decoded = try makeRecordDecoder().decode(UsageEvent.self, from: Data(lines[1].utf8))
        #expect(decoded == AuditLogScratch.event(2))
    }

    @Test("the chain runs through many batches: seq counts up, prev is the hash of the line before")
    func chainAcrossBatches() throws {
        let scratch = try AuditLogScratch()
        let writer = try AuditLogWriter(path: scratch.path)
        var number = 0
        for batch in 0..<60 {
            let size = batch % 7 + 1
            try writer.write((number..<number + size).map { AuditLogScratch.event($0) })
            try writer.flush(final: false)
            number += size
        }
        try writer.flush(final: true)
        #expect(writer.lastSeq == number)
        writer.close()

        let lines = try AuditLogScratch.lines(of: scratch.path)
        #expect(lines.count == number)
        var previousHash = AuditChain.genesisHash
        for (index, line) in lines.enumerated() {
            let (seq, prev) = try AuditLogScratch.chainFields(of: line)
            #expect(seq == index + 1)
            #expect(prev == previousHash)
            previousHash = AuditChain.hash(ofLine: Data(line.utf8))
        }
        #expect(writer.lastHash == previousHash)
        try scratch.expectIntact(records: number)
    }

    @Test("reopening continues the chain where the file ends")
    func restartContinues() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<7)
        let writer = try AuditLogWriter(path: scratch.path)
        #expect(writer.lastSeq == 7)
        #expect(writer.recoveryNotice == nil)
        let before = try AuditLogScratch.lines(of: scratch.path)
        #expect(writer.lastHash == AuditChain.hash(ofLine: Data(before[6].utf8)))
        try writer.write([AuditLogScratch.event(7)])
        writer.close()
        try scratch.write(8..<12)

        let lines = try AuditLogScratch.lines(of: scratch.path)
        #expect(try AuditLogScratch.chainFields(of: lines[7]).seq == 8)
        #expect(try AuditLogScratch.chainFields(of: lines[7]).prev == AuditChain.hash(ofLine: Data(lines[6].utf8)))
        try scratch.expectIntact(records: 12)
    }

    @Test("an incomplete last line left by a crash is cut off on open, and the chain goes on from the last record")
    func crashLeftPartialLine() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<5)
        let handle = try #require(FileHandle(forWritingAtPath: scratch.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"bytes_in\":5,\"bytes_out\":10,\"cli".utf8))
        try handle.close()

        // Before the restart the verifier reports the cut record, and everything before it as verified.
        guard case .broken(let broken) = try scratch.verify() else {
            Issue.record("a partial last line was not reported")
            return
        }
        #expect(broken.kind == .truncated)
        #expect(broken.seq == 6)
        #expect(broken.line == 6)
        #expect(broken.verified.records == 5)

        let writer = try AuditLogWriter(path: scratch.path)
        #expect(writer.lastSeq == 5)
        #expect(writer.recoveryNotice?.contains("removed an incomplete last line (33 bytes") == true)
        try writer.write([AuditLogScratch.event(5), AuditLogScratch.event(6)])
        writer.close()
        #expect(try AuditLogScratch.lines(of: scratch.path).count == 7)
        try scratch.expectIntact(records: 7)
    }

    @Test("a file holding only an incomplete line is emptied and the chain starts (or continues) from before it")
    func onlyPartialLine() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<3, batch: 1, maxBytes: 400)
        #expect(try scratch.files.count == 3)
        try Data("{\"bytes_in\":".utf8).write(to: URL(fileURLWithPath: scratch.path))
        let writer = try AuditLogWriter(path: scratch.path, maxBytes: 400)
        #expect(writer.lastSeq == 2)
        try writer.write([AuditLogScratch.event(3)])
        writer.close()
        try scratch.expectIntact(records: 3)
    }

    @Test("records written before the log was chained stay; the chain starts after them at seq 1")
    func unchainedPrefix() throws {
        let scratch = try AuditLogScratch()
        try FileManager.default.createDirectory(
            atPath: (scratch.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true
        )
        try "{\"earlier\":true}\n".write(toFile: scratch.path, atomically: false, encoding: .utf8)
        try scratch.write(0..<3)
        let lines = try AuditLogScratch.lines(of: scratch.path)
        #expect(lines.first == "{\"earlier\":true}")
        #expect(try AuditLogScratch.chainFields(of: lines[1]).seq == 1)
        #expect(try AuditLogScratch.chainFields(of: lines[1]).prev == AuditChain.genesisHash)
        guard case .intact(let summary) = try scratch.verify() else {
            Issue.record("a log with an unchained prefix is not intact")
            return
        }
        #expect(summary.records == 3)
        #expect(summary.unchainedLines == 1)
    }

    @Test("a log that ends in something other than a record is refused, not silently restarted")
    func refusesCorruptEnd() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<3)
        let handle = try #require(FileHandle(forWritingAtPath: scratch.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("not a record\n".utf8))
        try handle.close()
        #expect {
            _ = try AuditLogWriter(path: scratch.path)
        } throws: { error in
            (error as? RecorderError)?.description.contains("ends with a line that is not an audit record") == true
        }
    }

    @Test("rotation renames full files after their last seq; the chain runs on through every file")
    func rotation() throws {
        let scratch = try AuditLogScratch()
        let maxBytes = 2_000
        try scratch.write(0..<100, batch: 2, maxBytes: maxBytes)
        let files = try scratch.files
        #expect(files.count > 10)
        #expect(files.last == scratch.path)
        var previousHash = AuditChain.genesisHash
        var seq = 0
        for file in files {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= maxBytes)
            #expect(try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
                == 0o600)
            let lines = try AuditLogScratch.lines(of: file)
            for line in lines {
                let fields = try AuditLogScratch.chainFields(of: line)
                seq += 1
                #expect(fields.seq == seq)
                #expect(fields.prev == previousHash)
                previousHash = AuditChain.hash(ofLine: Data(line.utf8))
            }
            if file != scratch.path {
                // <path>.<yyyyMMdd'T'HHmmss'Z'>-<seq of the last record, 12 digits>
                let suffix = String(file.dropFirst(scratch.path.count))
                #expect(suffix.wholeMatch(of: #/\.[0-9]{8}T[0-9]{6}Z-[0-9]{12}/#) != nil, "\(suffix)")
                #expect(suffix.hasSuffix(String(format: "-%012d", seq)))
            }
        }
        #expect(seq == 100)
        try scratch.expectIntact(records: 100)
    }

    @Test("a batch larger than the maximum size gets a file of its own: batches are never split")
    func oversizedBatches() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<4, batch: 1, maxBytes: 100)
        try scratch.write(4..<7, batch: 3, maxBytes: 100)
        try scratch.write(7..<8, batch: 1, maxBytes: 100)
        let files = try scratch.files
        #expect(try files.map { try AuditLogScratch.lines(of: $0).count } == [1, 1, 1, 1, 3, 1])
        try scratch.expectIntact(records: 8)
    }

    @Test("when the live file is gone, the chain continues from the newest rotated file")
    func continuesFromRotated() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<30, maxBytes: 1_500)
        let newest = try #require(try AuditChain.rotatedFiles(ofLiveLog: scratch.path).last)
        let last = try #require(try AuditLogScratch.lines(of: newest).last)
        let liveLines = try AuditLogScratch.lines(of: scratch.path).count
        // A crash between renaming the full file and creating the next one leaves no live file. (Deleting it leaves
        // the same: records cut off the end, which no chain can show; see AuditChainVerifier.)
        try FileManager.default.removeItem(atPath: scratch.path)
        let writer = try AuditLogWriter(path: scratch.path, maxBytes: 1_500)
        #expect(writer.lastSeq == 30 - liveLines)
        #expect(writer.lastSeq == (try AuditLogScratch.chainFields(of: last).seq))
        #expect(writer.lastHash == AuditChain.hash(ofLine: Data(last.utf8)))
        try writer.write((30..<35).map { AuditLogScratch.event($0) })
        writer.close()
        try scratch.expectIntact(records: 35 - liveLines)
    }

    @Test("fsync follows the policy, and no policy changes what is written", arguments: [
        (AuditSync.always, 6, 6), (.interval(.zero), 6, 6), (.interval(.seconds(3_600)), 0, 1), (.never, 0, 1),
    ])
    func syncPolicies(sync: AuditSync, fsyncsBeforeFinal: Int, fsyncsAfterFinal: Int) throws {
        let scratch = try AuditLogScratch()
        let scripted = ScriptedAuditIO()
        let writer = try AuditLogWriter(path: scratch.path, maxBytes: nil, sync: sync, io: scripted.io)
        for batch in 0..<6 {
            try writer.write((batch * 3..<batch * 3 + 3).map { AuditLogScratch.event($0) })
            try writer.flush(final: false)
        }
        // A flush with nothing new written costs nothing.
        try writer.flush(final: false)
        #expect(scripted.state.withLock(\.fsyncs) == fsyncsBeforeFinal)
        try writer.flush(final: true)
        #expect(scripted.state.withLock(\.fsyncs) == fsyncsAfterFinal)
        writer.close()
        try scratch.expectIntact(records: 18)
    }

    @Test("a failed write leaves the chain where it was; once space returns the chain continues validly",
        arguments: [0, 1, 350, 700])
    func writeFailureRecovers(bytesThatFit: Int) throws {
        let scratch = try AuditLogScratch()
        let scripted = ScriptedAuditIO()
        let writer = try AuditLogWriter(path: scratch.path, maxBytes: nil, sync: .always, io: scripted.io)
        try writer.write((0..<4).map { AuditLogScratch.event($0) })
        let goodSize = try #require(try FileManager.default.attributesOfItem(atPath: scratch.path)[.size] as? Int)
        let goodHash = writer.lastHash

        // The disk fills up partway through the next batch (a few records long).
        scripted.state.withLock { $0.spaceLeft = bytesThatFit }
        #expect {
            try writer.write((4..<8).map { AuditLogScratch.event($0) })
        } throws: { error in
            let text = (error as? RecorderError)?.description ?? ""
            return text.contains("cannot write 4 record(s)") && text.contains("continues from seq 4")
        }
        #expect(writer.lastSeq == 4)
        #expect(writer.lastHash == goodHash)
        #expect(try FileManager.default.attributesOfItem(atPath: scratch.path)[.size] as? Int == goodSize)

        // Still full: fails again, still without advancing.
        #expect(throws: RecorderError.self) { try writer.write([AuditLogScratch.event(8)]) }
        #expect(writer.lastSeq == 4)

        scripted.state.withLock { $0.spaceLeft = nil }
        try writer.write((8..<11).map { AuditLogScratch.event($0) })
        try writer.flush(final: true)
        writer.close()
        let lines = try AuditLogScratch.lines(of: scratch.path)
        #expect(lines.count == 7)
        #expect(try AuditLogScratch.chainFields(of: lines[4]).seq == 5)
        #expect(lines[4].contains("/v1/items/8"))
        try scratch.expectIntact(records: 7)
    }

    @Test("remains of a failed write that could not be cut off at once are cut off before the next write")
    func leftoverBytesRemovedLater() throws {
        let scratch = try AuditLogScratch()
        let writer = try AuditLogWriter(path: scratch.path)
        try writer.write((0..<3).map { AuditLogScratch.event($0) })
        // As if a write had landed partly and the truncate after it had failed.
        let handle = try #require(FileHandle(forWritingAtPath: scratch.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"bytes_in\":3,\"by".utf8))
        try handle.close()
        try writer.write((3..<5).map { AuditLogScratch.event($0) })
        writer.close()
        try scratch.expectIntact(records: 5)
    }

    @Test("records longer than a read block are written, continued after reopening, and verified")
    func longRecords() throws {
        let scratch = try AuditLogScratch()
        let writer = try AuditLogWriter(path: scratch.path)
        var long = AuditLogScratch.event(0)
        long.reason = String(repeating: "r", count: 150_000)
        try writer.write([AuditLogScratch.event(1), long, AuditLogScratch.event(2), long])
        writer.close()
        // The last record spans several of the blocks the tail is read backwards in.
        let reopened = try AuditLogWriter(path: scratch.path)
        #expect(reopened.lastSeq == 4)
        try reopened.write([long, AuditLogScratch.event(3)])
        reopened.close()
        try scratch.expectIntact(records: 6)
    }

    @Test("a second writer on the same log is refused while the first has it open")
    func secondWriterRefused() throws {
        let scratch = try AuditLogScratch()
        let first = try AuditLogWriter(path: scratch.path)
        #expect {
            _ = try AuditLogWriter(path: scratch.path)
        } throws: { error in
            (error as? RecorderError)?.description.contains("cannot lock audit log") == true
        }
        first.close()
        let second = try AuditLogWriter(path: scratch.path)
        second.close()
    }

    @Test("writing after close throws; the file and its directory are private")
    func closedAndPermissions() throws {
        let scratch = try AuditLogScratch()
        let writer = try AuditLogWriter(path: scratch.path)
        writer.close()
        writer.close()
        #expect(throws: RecorderError.self) { try writer.write([AuditLogScratch.event(0)]) }
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.path)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        let directory = (scratch.path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int == 0o700)
        #expect(throws: RecorderError.self) { _ = try AuditLogWriter(path: scratch.path, maxBytes: 0) }
    }

    @Test("the recorder writes a verifiable chain through the writer")
    func throughRecorder() throws {
        let scratch = try AuditLogScratch()
        let recorder = try UsageRecorder(logPath: scratch.path, logger: CapturedLogs().logger)
        for number in 0..<500 { recorder.record(AuditLogScratch.event(number)) }
        recorder.shutdown()
        #expect(recorder.writtenEvents == 500)
        try scratch.expectIntact(records: 500)
    }
}
