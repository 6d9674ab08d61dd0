import Foundation
import Synchronization
import Testing
import TokenProxyCore

@testable import TokenProxyUsage

@Suite("UsageStoreReader")
struct UsageStoreReaderTests {
    typealias Fixture = UsageStoreFixture

    /// A store at `usage.db` in a fresh directory holding `batches`, closed again; returns the path.
    private static func store(_ batches: [[UsageEvent]], in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path)
        for batch in batches { try store.write(batch) }
        store.close()
        return path
    }

    @Test("a missing store is reported as not found (nothing recorded yet) and is not created")
    func missingStore() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("state/usage.db")
        #expect {
            _ = try UsageStoreReader(path: path)
        } throws: { error in
            guard let error = error as? UsageStoreError else { return false }
            return error.isNotFound && error.description == "no usage recorded yet at \(path)"
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: (path as NSString).deletingLastPathComponent))
    }

    @Test("an empty file (a store never migrated) reads as empty, and stays untouched")
    func emptyFile() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let reader = try UsageStoreReader(path: path)
        #expect(try reader.report().isEmpty)
        #expect(try reader.report(since: .distantPast).isEmpty)
        #expect(try reader.stale(days: 1, configured: ["a"]).map(\.credential) == ["a"])
        reader.close()
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 0)
    }

    @Test("a file that is not a database is a clear read error")
    func garbageFile() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        try String(repeating: "not sqlite\n", count: 200).write(toFile: path, atomically: false, encoding: .utf8)
        #expect {
            let reader = try UsageStoreReader(path: path)
            _ = try reader.report()
        } throws: { error in
            guard let error = error as? UsageStoreError else { return false }
            return !error.isNotFound && error.description.contains("cannot read usage store \(path)")
                && error.description.contains("not a usable SQLite database")
        }
    }

    @Test("since: only requests that started at or after the time count, from the rows")
    func sinceFilter() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try Self.store(
            [
                [
                    Fixture.event(0, host: "old.example", client: "10.0.0.1:1000", bytesIn: 1000),
                    Fixture.event(10, client: "10.0.0.2:1000", status: 500),
                    Fixture.event(15, client: "10.0.0.3:1000"),  // exactly at the boundary: included
                ],
                [
                    Fixture.event(20, host: "new.example", client: "10.0.0.3:2000", bytesIn: 7, bytesOut: 8),
                    Fixture.event(12, credential: "openai", client: "10.0.0.4:1000"),
                    Fixture.event(30, credential: nil, host: "tunnel.example", decision: .tunnel),
                ],
            ],
            in: directory
        )
        let reader = try UsageStoreReader(path: path)
        let since = Fixture.epoch.addingTimeInterval(15)
        let report = try reader.report(since: since)
        #expect(report.map(\.credential) == ["github"])
        let github = try #require(report.first)
        #expect(github.requests == 2)
        #expect(github.errors == 0)
        #expect(github.bytesIn == 10 + 7)
        #expect(github.bytesOut == 100 + 8)
        #expect(github.firstUsed == since)
        #expect(github.lastUsed == Fixture.epoch.addingTimeInterval(20))
        #expect(github.lastClient == "10.0.0.3:2000")
        #expect(github.hosts.map(\.host) == ["api.github.com", "new.example"])
        #expect(github.hosts.map(\.requests) == [1, 1])
        #expect(github.clients == ["10.0.0.3"])

        // All time, from the aggregates.
        let all = try reader.report()
        #expect(all.map(\.credential) == ["github", "openai"])
        #expect(all.first?.requests == 4)
        #expect(all.first?.errors == 1)
        #expect(all.first?.hosts.map(\.host) == ["api.github.com", "new.example", "old.example"])

        // After everything: nothing.
        #expect(try reader.report(since: Fixture.epoch.addingTimeInterval(31)).isEmpty)
    }

    @Test("credential: one credential's row, over all time and in a window; an unknown one has none")
    func credentialFilter() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try Self.store(
            [
                [
                    Fixture.event(0), Fixture.event(5, credential: "openai", host: "api.openai.com"),
                    Fixture.event(6, credential: "openai", host: "api.openai.com", client: "10.1.1.1:5"),
                    Fixture.event(7),
                ]
            ],
            in: directory
        )
        let reader = try UsageStoreReader(path: path)
        let openai = try reader.report(credential: "openai")
        #expect(openai.map(\.credential) == ["openai"])
        #expect(openai.first?.requests == 2)
        #expect(openai.first?.clients == ["10.1.1.1", "127.0.0.1"])
        #expect(openai.first?.hosts.map(\.host) == ["api.openai.com"])

        let window = try reader.report(since: Fixture.epoch.addingTimeInterval(6), credential: "openai")
        #expect(window.first?.requests == 1)
        #expect(window.first?.clients == ["10.1.1.1"])
        #expect(try reader.report(credential: "nobody").isEmpty)
        #expect(try reader.report(since: .distantPast, credential: "nobody").isEmpty)
    }

    @Test("stale: configured credentials unused for DAYS or more, never-used ones first, then the oldest")
    func staleCredentials() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let day = 86_400.0
        let now = Fixture.epoch.addingTimeInterval(100 * day)
        let path = try Self.store(
            [
                [
                    Fixture.event(100 * day - 40 * day, credential: "old"),
                    Fixture.event(100 * day - 1 * day, credential: "recent"),
                    Fixture.event(100 * day - 30 * day, credential: "boundary"),  // exactly 30 days: stale
                    Fixture.event(100 * day - 29 * day, credential: "almost"),
                    Fixture.event(100 * day - 90 * day, credential: "removed"),  // no longer configured
                    Fixture.event(100 * day - 60 * day, credential: "older"),
                ]
            ],
            in: directory
        )
        let reader = try UsageStoreReader(path: path)
        let configured = ["recent", "old", "never-a", "boundary", "almost", "older", "never-b", "old"]
        let stale = try reader.stale(days: 30, configured: configured, now: now)
        #expect(stale.map(\.credential) == ["never-a", "never-b", "older", "old", "boundary"])
        #expect(stale[0].lastUsed == nil)
        #expect(stale[2].lastUsed == now.addingTimeInterval(-60 * day))
        let longUnused = try reader.stale(days: 100, configured: configured, now: now)
        #expect(longUnused.map(\.credential) == ["never-a", "never-b"])
        #expect(try reader.stale(days: 1, configured: [], now: now).isEmpty)
        // Without a store at all, every configured credential is never used.
        let none = StaleCredential.select(days: 30, configured: ["b", "a"], lastUsed: [:], now: now)
        #expect(none == ["b", "a"].map { StaleCredential(credential: $0, lastUsed: nil) })
    }

    @Test("a reader in another connection sees whole batches while a writer keeps writing")
    func concurrentReader() async throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path)
        let reader = try UsageStoreReader(path: path)
        let batches = 200
        let batchSize = 25
        let done = Atomic<Bool>(false)
        let writerFailure = Mutex<String?>(nil)
        // The recorder's sink runs on a thread of its own, so the writer does too; it is the store's only user.
        let box = UncheckedBox(store)
        let writer = Thread {
            do {
                for batch in 0..<batches {
                    try box.value.write(
                        (0..<batchSize).map {
                            Fixture.event(Double(batch * batchSize + $0), host: "h\($0 % 3).example")
                        }
                    )
                }
            } catch {
                writerFailure.withLock { $0 = "\(error)" }
            }
            done.store(true, ordering: .releasing)
        }
        writer.start()

        var reads = 0
        var previous = 0
        while !done.load(ordering: .acquiring) {
            let report = try reader.report()
            let requests = report.first?.requests ?? 0
            let hostTotal = report.first?.hosts.reduce(0) { $0 + $1.requests } ?? 0
            #expect(requests % batchSize == 0, "a read saw part of a batch: \(requests) requests")
            #expect(hostTotal == requests, "aggregates of one snapshot disagree: \(hostTotal) vs \(requests)")
            #expect(requests >= previous)
            previous = requests
            reads += 1
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(writerFailure.withLock { $0 } == nil)
        #expect(reads > 0)
        let final = try reader.report()
        #expect(final.first?.requests == batches * batchSize)
        #expect(try reader.report(since: .distantPast) == final)
        reader.close()
        store.close()
    }

    @Test("rows encode as JSON with snake_case keys, RFC 3339 times and explicit nulls")
    func jsonEncoding() throws {
        let encoder = UsageEvent.jsonEncoder()
        let never = String(decoding: try encoder.encode(UsageReport.neverUsed("openai")), as: UTF8.self)
        #expect(
            never == """
                {"bytes_in":0,"bytes_out":0,"clients":[],"credential":"openai","errors":0,"first_used":null,\
                "hosts":[],"last_client":null,"last_used":null,"previous_value_last_used":null,\
                "previous_value_requests":0,"requests":0}
                """
        )
        let used = UsageReport(
            credential: "github", requests: 2, errors: 1, bytesIn: 3, bytesOut: 4, firstUsed: Fixture.epoch,
            lastUsed: Fixture.epoch.addingTimeInterval(0.5), lastClient: "127.0.0.1:5000",
            hosts: [UsageReport.Host(host: "api.github.com", requests: 2, lastUsed: Fixture.epoch)],
            clients: ["127.0.0.1"]
        )
        let text = String(decoding: try encoder.encode(used), as: UTF8.self)
        #expect(text.contains("\"first_used\":\"2024-01-02T03:04:05.000Z\""))
        #expect(text.contains("\"last_used\":\"2024-01-02T03:04:05.500Z\""))
        #expect(text.contains("\"hosts\":[{\"host\":\"api.github.com\",\"last_used\":\"2024-01-02T03:04:05.000Z\","))
        let stale = String(
            decoding: try encoder.encode([StaleCredential(credential: "a", lastUsed: nil)]), as: UTF8.self
        )
        #expect(stale == "[{\"credential\":\"a\",\"last_used\":null}]")
    }
}

/// Hands a non-`Sendable` value to a thread that is its only user from then on.
private final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
