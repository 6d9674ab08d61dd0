import Foundation
import Logging
import Synchronization
import Testing
import TokenProxyCore

@testable import TokenProxyUsage

/// Collects log messages so tests can check what the recorder reports.
final class CapturedLogs: Sendable {
    private let entries = Mutex<[(level: Logger.Level, message: String)]>([])

    var all: [(level: Logger.Level, message: String)] {
        entries.withLock { $0 }
    }

    func append(_ level: Logger.Level, _ message: String) {
        entries.withLock { $0.append((level, message)) }
    }

    var logger: Logger {
        Logger(label: "tokenproxy.tests.recorder") { _ in CapturingLogHandler(sink: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let sink: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    func log(event: LogEvent) {
        sink.append(event.level, event.message.description)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

@Suite("UsageRecorder")
struct UsageRecorderTests {
    private static func temporaryDirectory() throws -> String {
        let path = (NSTemporaryDirectory() as NSString)
            .appendingPathComponent("tokenproxy-usage-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private static func event(_ number: Int, credential: String? = "github") -> UsageEvent {
        UsageEvent(
            time: Date(timeIntervalSince1970: 1_704_164_645.5), client: "127.0.0.1:\(50_000 + number % 10_000)",
            method: "GET", host: "api.github.com", port: 443, path: "/v1/items/\(number)", rule: 0,
            credential: credential, status: 200, bytesIn: number, bytesOut: 2 * number, durationMilliseconds: 1.25,
            decision: .injected, reason: nil
        )
    }

    private static func lines(of path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.isEmpty || text.hasSuffix("\n"), "the log does not end with a newline")
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    private static func permissions(of path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    @Test("recorded events are written as one JSON line each once shutdown flushes")
    func writesJSONLines() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("audit.jsonl")
        let recorder = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
        let events = [Self.event(1), Self.event(2, credential: nil), Self.event(3)]
        for event in events { recorder.record(event) }
        recorder.shutdown()

        #expect(recorder.writtenEvents == 3)
        #expect(recorder.droppedCount == 0)
        let lines = try Self.lines(of: path)
        try #require(lines.count == 3)
        let decoder = makeRecordDecoder()
        for (line, event) in zip(lines, events) {
            #expect(!line.contains("\n"))
            let decoded = try decoder.decode(UsageEvent.self, from: Data(line.utf8))
            #expect(decoded == event)
        }
        // Sorted keys, RFC 3339 UTC timestamps with milliseconds, unescaped slashes, explicit nulls.
        let first = try #require(lines.first)
        #expect(first.hasPrefix("{\"bytes_in\":1,\"bytes_out\":2,\"client\":"))
        #expect(first.contains("\"time\":\"2024-01-02T03:04:05.500Z\""))
        #expect(first.contains("\"path\":\"/v1/items/1\""))
        #expect(first.contains("\"reason\":null"))
        #expect(lines[1].contains("\"credential\":null"))
    }

    @Test("the log file is created with mode 0600 and its directory is created")
    func createsFileAndDirectory() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logDirectory = (directory as NSString).appendingPathComponent("state/nested")
        let path = (logDirectory as NSString).appendingPathComponent("audit.jsonl")
        let recorder = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
        defer { recorder.shutdown() }

        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: logDirectory, isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)
        #expect(try Self.permissions(of: logDirectory) == 0o700)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try Self.permissions(of: path) == 0o600)
    }

    @Test("an existing log is appended to, never truncated")
    func appends() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("audit.jsonl")
        try "{\"earlier\":true}\n".write(toFile: path, atomically: false, encoding: .utf8)

        let recorder = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
        recorder.record(Self.event(1))
        recorder.shutdown()
        let second = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
        second.record(Self.event(2))
        second.shutdown()

        let lines = try Self.lines(of: path)
        #expect(lines.count == 3)
        #expect(lines.first == "{\"earlier\":true}")
        #expect(lines[1].contains("/v1/items/1"))
        #expect(lines[2].contains("/v1/items/2"))
    }

    @Test("a full queue drops and counts events; written + dropped == recorded")
    func boundedQueue() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("audit.jsonl")
        let logs = CapturedLogs()
        let recorder = try UsageRecorder(logPath: path, configuration: .init(queueCapacity: 1), logger: logs.logger)
        let recorded = 20_000
        for number in 0..<recorded { recorder.record(Self.event(number)) }
        recorder.shutdown()

        let written = recorder.writtenEvents
        let dropped = recorder.droppedCount
        #expect(written + dropped == recorded)
        #expect(dropped > 0, "20000 events into a queue of 1 dropped nothing")
        #expect(written >= 1)
        #expect(try Self.lines(of: path).count == written)
        // Nothing is lost silently: the drop is reported.
        let warned = logs.all.contains { $0.level == .warning && $0.message.contains("dropped \(dropped) events") }
        #expect(warned, "no warning reported the dropped events")
    }

    @Test("an event that cannot be encoded is not counted as written")
    func unencodableEvent() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("audit.jsonl")
        let recorder = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
        var broken = Self.event(1)
        broken.durationMilliseconds = .infinity  // JSONEncoder refuses non-finite numbers
        recorder.record(broken)
        recorder.record(Self.event(2))
        recorder.shutdown()

        let lines = try Self.lines(of: path)
        // A duration that is not a number is recorded as 0 rather than losing the record.
        #expect(lines.count == 2)
        #expect(recorder.writtenEvents == lines.count)
        #expect(recorder.droppedCount == 0)
        #expect(lines[0].contains("\"duration_ms\":0"))
    }

    @Test("events recorded after shutdown are dropped and counted, and shutdown is idempotent")
    func afterShutdown() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("audit.jsonl")
        let recorder = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
        recorder.record(Self.event(1))
        recorder.shutdown()
        recorder.record(Self.event(2))
        recorder.shutdown()
        #expect(recorder.writtenEvents == 1)
        #expect(recorder.droppedCount == 1)
        #expect(try Self.lines(of: path).count == 1)
    }

    @Test("events recorded concurrently are all written, each line whole")
    func concurrentRecording() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("audit.jsonl")
        let recorder = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for number in 0..<500 { recorder.record(Self.event(task * 1000 + number)) }
                }
            }
        }
        recorder.shutdown()
        #expect(recorder.writtenEvents == 4000)
        #expect(recorder.droppedCount == 0)
        let lines = try Self.lines(of: path)
        #expect(lines.count == 4000)
        let paths = Set(try lines.map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["path"] as? String)
        })
        #expect(paths.count == 4000)
    }

    @Test("a burst of events goes to the sinks in a few batches, and a lone event is written without company")
    func batching() async throws {
        let sink = CountingSink()
        let recorder = UsageRecorder(sinks: [sink], logger: CapturedLogs().logger)
        defer { recorder.shutdown() }
        let clock = ContinuousClock()
        recorder.record(Self.event(0))
        let started = clock.now
        while recorder.writtenEvents < 1 && clock.now - started < .seconds(10) {
            try await Task.sleep(for: .milliseconds(5))
        }
        // Not left waiting for a second event (the time bound is loose: the whole suite may be loading the machine).
        #expect(recorder.writtenEvents == 1)
        let writesBefore = sink.writes
        for number in 1...500 { recorder.record(Self.event(number)) }
        while recorder.writtenEvents < 501 && clock.now - started < .seconds(10) {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(recorder.writtenEvents == 501)
        // One wake-up and one write for the burst; a few more only if this thread was descheduled mid-burst.
        #expect(sink.writes - writesBefore <= 5, "the burst took \(sink.writes - writesBefore) writes")
    }

    @Test("an unwritable path fails at init", arguments: ["file-as-directory", "directory-as-file"])
    func unwritablePath(kind: String) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let blocker = (directory as NSString).appendingPathComponent("blocker")
        let path: String
        if kind == "file-as-directory" {
            try "not a directory".write(toFile: blocker, atomically: false, encoding: .utf8)
            path = (blocker as NSString).appendingPathComponent("audit.jsonl")
        } else {
            try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
            path = blocker
        }
        #expect(throws: (any Error).self) {
            let recorder = try UsageRecorder(logPath: path, logger: CapturedLogs().logger)
            recorder.shutdown()
        }
    }

    @Test("an audit log that is a directory is reported as such")
    func directoryPathMessage() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect {
            let recorder = try UsageRecorder(logPath: directory, logger: CapturedLogs().logger)
            recorder.shutdown()
        } throws: { error in
            (error as? RecorderError)?.description.contains("cannot open audit log \(directory)") == true
        }
    }

    @Test("the configuration defaults to a large queue")
    func configurationDefaults() {
        let configuration = UsageRecorder.Configuration()
        #expect(configuration.queueCapacity == 16_384)
    }
}

/// A decoder for the recorder's RFC 3339 timestamps with fractional seconds.
func makeRecordDecoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: text))
        }
        return date
    }
    return decoder
}

/// A sink that stores nothing and counts the batches it is given.
final class CountingSink: UsageSink, @unchecked Sendable {
    let name = "counting sink"
    private let count = Mutex(0)

    /// Calls of `write` so far.
    var writes: Int { count.withLock { $0 } }

    func write(_ events: [UsageEvent]) throws {
        count.withLock { $0 += 1 }
    }

    func flush(final: Bool) throws {}
    func close() {}
}
