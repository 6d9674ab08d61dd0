import Foundation
import Testing

@testable import TokenProxyUsage

/// Tampering with a real log and checking that the verifier names the first broken seq, and where.
@Suite("AuditChainVerifier")
struct AuditLogVerifierTests {
    /// Writes a log of `count` records in one file and returns its lines.
    private static func makeLog(_ scratch: borrowing AuditLogScratch, count: Int = 12) throws -> [String] {
        try scratch.write(0..<count, batch: 4)
        return try AuditLogScratch.lines(of: scratch.path)
    }

    /// Replaces the live log with `lines` (each followed by a newline) and then `tail` (none).
    private static func rewrite(_ scratch: borrowing AuditLogScratch, _ lines: [String], tail: String = "") throws {
        let text = lines.map { $0 + "\n" }.joined() + tail
        try Data(text.utf8).write(to: URL(fileURLWithPath: scratch.path))
    }

    /// The break the verifier reports for `files` (default: the whole log); records an issue if it reports none.
    private static func expectBroken(
        _ scratch: borrowing AuditLogScratch,
        files: [String]? = nil,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> AuditChainVerifier.Break? {
        let result = try AuditChainVerifier().verify(files: try files ?? scratch.files)
        guard case .broken(let broken) = result else {
            Issue.record("the verifier found the tampered log intact: \(result)", sourceLocation: sourceLocation)
            return nil
        }
        return broken
    }

    @Test("an untouched log is intact: count, last seq and the hash of the last line")
    func intact() throws {
        let scratch = try AuditLogScratch()
        let lines = try Self.makeLog(scratch)
        let result = try scratch.verify()
        #expect(
            result
                == .intact(
                    .init(
                        records: 12, firstSeq: 1, lastSeq: 12, lastHash: AuditChain.hash(ofLine: Data(lines[11].utf8)),
                        unchainedLines: 0
                    )
                )
        )
        #expect(try AuditChainVerifier().verify(files: []) == .intact(
            .init(records: 0, firstSeq: nil, lastSeq: 0, lastHash: AuditChain.genesisHash, unchainedLines: 0)
        ))
    }

    @Test("an edited field of a middle record names that record")
    func editedField() throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines[4] = lines[4].replacingOccurrences(of: "\"status\":200", with: "\"status\":201")
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .edited)
        #expect(broken.seq == 5)
        #expect(broken.line == 5)
        #expect(broken.file == scratch.path)
        #expect(broken.verified.lastSeq == 4)
        #expect(broken.description.hasPrefix("broken at seq 5 (\(scratch.path):5): edited: "))
    }

    @Test("an edited prev names the record whose prev it is, not the one before")
    func editedPrev() throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        let (_, prev) = try AuditLogScratch.chainFields(of: lines[6])
        lines[6] = lines[6].replacingOccurrences(of: prev, with: String(repeating: "a", count: 64))
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .edited)
        #expect(broken.seq == 7)
        #expect(broken.line == 7)
    }

    @Test("an edited seq names the renumbered record")
    func editedSeq() throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines[2] = lines[2].replacingOccurrences(of: "\"seq\":3,", with: "\"seq\":30,")
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .edited)
        #expect(broken.seq == 3)
        #expect(broken.line == 3)
    }

    @Test("a record that no longer parses names its seq, also when it is the last one")
    func unparsable() throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines[11] = String(lines[11].dropLast())  // the closing brace
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .edited)
        #expect(broken.seq == 12)
        #expect(broken.line == 12)

        lines = try Self.makeLog(try AuditLogScratch())
        lines.insert("garbage", at: 3)
        try Self.rewrite(scratch, lines)
        let garbage = try #require(try Self.expectBroken(scratch))
        #expect(garbage.kind == .edited)
        #expect(garbage.seq == 4)
        #expect(garbage.line == 4)
    }

    @Test("an edit of the last record that keeps it a valid record is not detectable by the chain alone")
    func editedLastRecordUndetectable() throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines[11] = lines[11].replacingOccurrences(of: "\"status\":200", with: "\"status\":201")
        try Self.rewrite(scratch, lines)
        guard case .intact(let summary) = try scratch.verify() else {
            Issue.record("expected the documented limitation; if this is now detected, update the docs")
            return
        }
        // It is caught against the last hash noted before the edit.
        #expect(summary.lastHash != AuditChain.hash(ofLine: Data(try Self.makeLog(try AuditLogScratch())[11].utf8)))
    }

    @Test("a deleted record names the missing seq", arguments: [0, 4, 10])
    func deleted(index: Int) throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines.remove(at: index)
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .deleted)
        #expect(broken.seq == index + 1)
        #expect(broken.line == index + 1)
        #expect(broken.verified.records == index)
    }

    @Test("several deleted records name the first of them")
    func deletedRange() throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines.removeSubrange(4..<7)
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .deleted)
        #expect(broken.seq == 5)
        #expect(broken.detail.contains("records 5…7 are missing"))
    }

    @Test("two swapped records name the first seq out of place", arguments: [(0, 1), (4, 5), (3, 8), (10, 11)])
    func swapped(first: Int, second: Int) throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines.swapAt(first, second)
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .reordered)
        #expect(broken.seq == first + 1)
        #expect(broken.line == first + 1)
    }

    @Test("a record moved back or duplicated is reported as reordered")
    func movedBack() throws {
        let scratch = try AuditLogScratch()
        var lines = try Self.makeLog(scratch)
        lines.append(lines[4])
        try Self.rewrite(scratch, lines)
        let duplicate = try #require(try Self.expectBroken(scratch))
        #expect(duplicate.kind == .reordered)
        #expect(duplicate.seq == 13)
        #expect(duplicate.line == 13)

        lines = try Self.makeLog(try AuditLogScratch())
        let moved = lines.remove(at: 2)
        lines.append(moved)
        try Self.rewrite(scratch, lines)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .reordered)
        #expect(broken.seq == 3)
        #expect(broken.line == 3)
    }

    @Test("a file cut in the middle of a line names the cut record", arguments: [1, 40, 200])
    func truncatedMidLine(keptBytes: Int) throws {
        let scratch = try AuditLogScratch()
        let lines = try Self.makeLog(scratch)
        try Self.rewrite(scratch, Array(lines[..<7]), tail: String(lines[7].prefix(keptBytes)))
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .truncated)
        #expect(broken.seq == 8)
        #expect(broken.line == 8)
        #expect(broken.verified.records == 7)
        #expect(broken.verified.lastHash == AuditChain.hash(ofLine: Data(lines[6].utf8)))
    }

    @Test("a last line missing only its newline is reported as cut")
    func missingFinalNewline() throws {
        let scratch = try AuditLogScratch()
        let lines = try Self.makeLog(scratch)
        try Self.rewrite(scratch, Array(lines[..<11]), tail: lines[11])
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .truncated)
        #expect(broken.seq == 12)
    }

    @Test("a deleted rotated file names the first seq it held")
    func deletedRotatedFile() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<40, batch: 3, maxBytes: 1_500)
        let files = try scratch.files
        try #require(files.count >= 4)
        let firstSeqOfThird = try AuditLogScratch.chainFields(of: try AuditLogScratch.lines(of: files[2])[0]).seq
        let firstSeqOfFourth = try AuditLogScratch.chainFields(of: try AuditLogScratch.lines(of: files[3])[0]).seq
        try FileManager.default.removeItem(atPath: files[2])
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .discontinuous)
        #expect(broken.seq == firstSeqOfThird)
        #expect(broken.file == files[3])
        #expect(broken.line == 1)
        #expect(broken.detail.contains("starts at seq \(firstSeqOfFourth)"))
    }

    @Test("a deleted oldest file is reported unless a later start is allowed")
    func deletedOldestFile() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<40, batch: 3, maxBytes: 1_500)
        let oldest = try #require(try scratch.files.first)
        try FileManager.default.removeItem(atPath: oldest)
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .deleted)
        #expect(broken.seq == 1)
        guard case .intact(let summary) = try AuditChainVerifier(allowsLaterStart: true).verify(files: scratch.files)
        else {
            Issue.record("a log whose oldest file was archived is not intact with a later start allowed")
            return
        }
        #expect(summary.lastSeq == 40)
        #expect(summary.firstSeq ?? 0 > 1)
    }

    @Test("files given out of order, or an edited last record of a rotated file, break between the files")
    func betweenFiles() throws {
        let scratch = try AuditLogScratch()
        try scratch.write(0..<40, batch: 3, maxBytes: 1_500)
        var files = try scratch.files
        files.swapAt(1, 2)
        let reordered = try #require(try Self.expectBroken(scratch, files: files))
        #expect(reordered.kind == .reordered)

        files = try scratch.files
        var lines = try AuditLogScratch.lines(of: files[1])
        lines[lines.count - 1] = lines[lines.count - 1].replacingOccurrences(of: "\"port\":443", with: "\"port\":444")
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: files[1]))
        let broken = try #require(try Self.expectBroken(scratch))
        #expect(broken.kind == .discontinuous)
        #expect(broken.file == files[2])
        #expect(broken.line == 1)
        #expect(broken.description.contains("chain does not continue from the previous file"))
    }

    @Test("an unreadable file is an error, not a verdict")
    func missingFile() throws {
        #expect(throws: AuditChainVerifier.ReadError.self) {
            _ = try AuditChainVerifier().verify(files: ["/nonexistent/audit.jsonl"])
        }
    }

    @Test("rotated files are listed by seq, ignoring other files beside them")
    func listing() throws {
        let scratch = try AuditLogScratch()
        let directory = (scratch.path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let names = [
            "audit.jsonl.20260102T000000Z-000000000100", "audit.jsonl.20260101T000000Z-000000000009",
            "audit.jsonl.20260101T000000Z-000000000010", "audit.jsonl.bak", "audit.jsonl.20260101T000000Z-",
            "other.jsonl.20260101T000000Z-000000000001", "audit.jsonl",
        ]
        for name in names {
            FileManager.default.createFile(atPath: (directory as NSString).appendingPathComponent(name), contents: nil)
        }
        let files = try AuditChain.files(ofLiveLog: scratch.path).map { ($0 as NSString).lastPathComponent }
        #expect(files == [
            "audit.jsonl.20260101T000000Z-000000000009", "audit.jsonl.20260101T000000Z-000000000010",
            "audit.jsonl.20260102T000000Z-000000000100", "audit.jsonl",
        ])
        #expect(try AuditChain.files(ofLiveLog: "/nonexistent/dir/audit.jsonl").isEmpty)
    }
}
