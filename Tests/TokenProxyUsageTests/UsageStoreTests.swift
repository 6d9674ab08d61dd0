import Foundation
import GRDB
import Testing
import TokenProxyTestSupport
import TokenProxyCore

@testable import TokenProxyUsage

/// Shared fixtures for the usage store tests.
enum UsageStoreFixture {
    /// 2024-01-02T03:04:05Z: a whole second, so times round-trip through the store's millisecond text exactly.
    static let epoch = Date(timeIntervalSince1970: 1_704_164_645)

    /// A fresh directory under the system temp directory; the caller removes it.
    static func directory() throws -> String {
        let path = (NSTemporaryDirectory() as NSString)
            .appendingPathComponent("tokenproxy-usage-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// An event `seconds` after ``epoch``.
    static func event(
        _ seconds: Double,
        credential: String? = "github",
        host: String = "api.github.com",
        client: String = "127.0.0.1:50000",
        method: String = "GET",
        status: Int = 200,
        bytesIn: Int = 10,
        bytesOut: Int = 100,
        decision: UsageEvent.Decision = .injected,
        reason: String? = nil,
        duration: Double = 1.5
    ) -> UsageEvent {
        UsageEvent(
            time: epoch.addingTimeInterval(seconds), client: client, method: method, host: host, port: 443,
            path: "/v1/items", rule: credential == nil ? nil : 0, credential: credential, status: status,
            bytesIn: bytesIn, bytesOut: bytesOut, durationMilliseconds: duration, decision: decision, reason: reason
        )
    }

    static func permissions(of path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    /// Every row of `requests`, oldest id first, as `[column: value]` with values as text (`nil` for NULL).
    static func requestRows(at path: String) throws -> [[String: String?]] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db throws in
            try Row.fetchAll(db, sql: "SELECT * FROM requests ORDER BY id").map { row in
                var values: [String: String?] = [:]
                for (column, value) in row {
                    switch value.storage {
                    case .null: values[column] = String?.none
                    case .int64(let number): values[column] = String(number)
                    case .double(let number): values[column] = String(number)
                    case .string(let text): values[column] = text
                    case .blob(let data): values[column] = "<\(data.count) bytes>"
                    }
                }
                return values
            }
        }
    }

    static func count(_ table: String, at path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? -1 }
    }
}

@Suite("SQLiteUsageStore")
struct UsageStoreTests {
    typealias Fixture = UsageStoreFixture

    @Test("the first open creates the schema (tables, indexes, migrations), the file 0600 and its directory 0700")
    func createsSchema() throws {
        let root = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = (root as NSString).appendingPathComponent("state/nested")
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path)
        defer { store.close() }

        #expect(try Fixture.permissions(of: directory) == 0o700)
        #expect(try Fixture.permissions(of: path) == 0o600)
        #expect(store.name == "usage store \(path)")

        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.read { db throws in
            let columns = { (table: String) in try db.columns(in: table).map(\.name) }
            #expect(
                try columns("requests") == [
                    "id", "time", "client", "method", "host", "port", "path", "rule", "credential", "status",
                    "bytes_in", "bytes_out", "duration_ms", "decision", "reason",
                ]
            )
            #expect(
                try columns("credential_usage") == [
                    "credential", "requests", "errors", "bytes_in", "bytes_out", "first_used", "last_used",
                    "last_client",
                ]
            )
            #expect(try columns("credential_hosts") == ["credential", "host", "requests", "last_used"])
            #expect(try db.primaryKey("credential_usage").columns == ["credential"])
            #expect(try db.primaryKey("credential_hosts").columns == ["credential", "host"])
            let indexes = try db.indexes(on: "requests").map(\.columns)
            #expect(indexes.contains(["credential", "time"]))
            #expect(indexes.contains(["time"]))
            #expect(try columns("revocations") == ["credential", "reason", "revoked_at"])
            #expect(try columns("credential_versions") == ["credential", "fingerprint", "first_seen"])
            #expect(try UsageStoreSchema.migrator.appliedIdentifiers(db) == ["v1", "v2"])
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
        }
    }

    @Test("opening an existing store again, and migrating twice, changes nothing and keeps the data")
    func migrationsAreIdempotent() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let first = try SQLiteUsageStore(path: path)
        try first.write([Fixture.event(0), Fixture.event(1)])
        first.close()

        let second = try SQLiteUsageStore(path: path)
        try UsageStoreSchema.migrator.migrate(second.queue)
        try second.write([Fixture.event(2)])
        second.close()

        #expect(try Fixture.count("requests", at: path) == 3)
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.read { db throws in
            #expect(try UsageStoreSchema.migrator.appliedMigrations(db) == ["v1", "v2"])
            #expect(try Int.fetchOne(db, sql: "SELECT requests FROM credential_usage") == 3)
        }
    }

    @Test("every event gets a requests row with every field; only uses of a credential reach the aggregates")
    func rowsAndAggregates() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path)
        let events = [
            Fixture.event(10, client: "127.0.0.1:50001", bytesIn: 5, bytesOut: 50),
            Fixture.event(20, host: "uploads.github.com", client: "10.0.0.7:40000", status: 502, decision: .error),
            Fixture.event(5, client: "127.0.0.1:50002"),  // finished later, started earlier
            Fixture.event(30, credential: nil, host: "example.com", method: "CONNECT", decision: .tunnel),
            Fixture.event(40, credential: "openai", host: "api.openai.com", client: "::1:6000", status: 503),
            Fixture.event(
                50, credential: "github", host: "", client: "tokenproxy", method: "REFRESH", status: 0, bytesIn: 0,
                bytesOut: 0, decision: .error, reason: "source refresh failed"
            ),
        ]
        try store.write(events)
        // A second batch: counts add up, first/last use move only outwards, the newest use names the last client.
        try store.write([
            Fixture.event(1, client: "127.0.0.1:50003", status: 403, decision: .denied),
            Fixture.event(25, client: "127.0.0.1:50004", bytesIn: 1, bytesOut: 2),
            Fixture.event(15, client: "192.168.1.9:1234"),
        ])
        store.close()

        let rows = try Fixture.requestRows(at: path)
        #expect(rows.count == 9)
        let first = try #require(rows.first)
        #expect(first["time"] == "2024-01-02T03:04:15.000Z")
        #expect(first["client"] == "127.0.0.1:50001")
        #expect(first["method"] == "GET")
        #expect(first["host"] == "api.github.com")
        #expect(first["port"] == "443")
        #expect(first["path"] == "/v1/items")
        #expect(first["rule"] == "0")
        #expect(first["credential"] == "github")
        #expect(first["status"] == "200")
        #expect(first["bytes_in"] == "5")
        #expect(first["bytes_out"] == "50")
        #expect(first["duration_ms"] == "1.5")
        #expect(first["decision"] == "injected")
        #expect(first["reason"] == String?.none)
        #expect(rows[3]["credential"] == String?.none)
        #expect(rows[5]["reason"] == "source refresh failed")

        let reader = try UsageStoreReader(path: path)
        let report = try reader.report()
        #expect(report.map(\.credential) == ["github", "openai"])
        let github = report[0]
        // Six GitHub uses (the REFRESH record is not a use; the tunnel has no credential).
        #expect(github.requests == 6)
        #expect(github.errors == 2)  // the 502 error and the denial
        #expect(github.bytesIn == 10 + 5 + 10 + 10 + 10 + 1)
        #expect(github.bytesOut == 100 + 50 + 100 + 100 + 100 + 2)
        #expect(github.firstUsed == Fixture.epoch.addingTimeInterval(1))
        #expect(github.lastUsed == Fixture.epoch.addingTimeInterval(25))
        #expect(github.lastClient == "127.0.0.1:50004")
        #expect(
            github.hosts == [
                UsageReport.Host(host: "api.github.com", requests: 5, lastUsed: Fixture.epoch.addingTimeInterval(25)),
                UsageReport.Host(
                    host: "uploads.github.com", requests: 1, lastUsed: Fixture.epoch.addingTimeInterval(20)
                ),
            ]
        )
        // Addresses without the connection's port, most requests first.
        #expect(github.clients == ["127.0.0.1", "10.0.0.7", "192.168.1.9"])

        let openai = report[1]
        #expect(openai.requests == 1)
        #expect(openai.errors == 1)  // a 503 from the origin
        #expect(openai.lastClient == "::1:6000")
        #expect(openai.clients == ["::1"])
        #expect(openai.hosts.map(\.host) == ["api.openai.com"])
    }

    @Test("a report computed from the rows (since the beginning) equals the one read from the aggregates")
    func windowMatchesAggregates() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path)
        defer { store.close() }
        var generator = SeededGenerator(seed: 7)
        for batch in 0..<10 {
            let events = (0..<25).map { index -> UsageEvent in
                let credentials = ["github", "openai", "stripe", nil]
                return Fixture.event(
                    Double(generator.next() % 10_000),
                    credential: credentials[Int(generator.next() % 4)],
                    host: ["a.example", "b.example", "c.example"][Int(generator.next() % 3)],
                    client: "127.0.0.\(generator.next() % 4):\(40_000 + batch * 100 + index)",
                    status: [200, 201, 404, 500, 502][Int(generator.next() % 5)],
                    bytesIn: Int(generator.next() % 1000),
                    bytesOut: Int(generator.next() % 100_000),
                    decision: [.injected, .injected, .error, .denied][Int(generator.next() % 4)]
                )
            }
            try store.write(events)
        }
        let reader = try UsageStoreReader(path: path)
        let aggregates = try reader.report()
        let fromRows = try reader.report(since: .distantPast)
        #expect(aggregates.count == 3)
        #expect(aggregates == fromRows)
    }

    @Test("a batch is one transaction: a write that cannot finish (disk full) stores nothing and says why")
    func fullDiskStoresNothing() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path)
        defer { store.close() }
        try store.write([Fixture.event(0)])
        // Cap the file at its current size: SQLite then fails the next growth with SQLITE_FULL, as on a full disk.
        try store.queue.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        let large = (0..<2000).map { Fixture.event(Double($0), reason: String(repeating: "x", count: 200)) }
        #expect {
            try store.write(large)
        } throws: { error in
            let text = (error as? RecorderError)?.description ?? ""
            return text.contains("cannot store 2000 events in usage store \(path)") && text.contains("disk is full")
        }
        #expect(try Fixture.count("requests", at: path) == 1)
        let report = try UsageStoreReader(path: path).report()
        #expect(report.first?.requests == 1)
    }

    @Test("a write blocked by another process's lock fails after the busy timeout; the retried batch counts once")
    func lockedDatabase() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path, configuration: .init(busyTimeout: .milliseconds(200)))
        defer { store.close() }

        // Another connection takes the write lock and keeps it, as another proxy mid-transaction would.
        var configuration = GRDB.Configuration()
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? other.close() }
        try other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }

        let batch = [Fixture.event(0), Fixture.event(1, host: "uploads.github.com")]
        let started = ContinuousClock.now
        #expect {
            try store.write(batch)
        } throws: { error in
            let text = (error as? RecorderError)?.description ?? ""
            return text.contains("usage store \(path)") && text.contains("locked")
                && text.contains("another process held the database")
        }
        #expect(ContinuousClock.now - started >= .milliseconds(150), "the write did not wait for the lock")

        try other.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        // The recorder retries the same batch: it must be counted exactly once.
        try store.write(batch)
        #expect(try Fixture.count("requests", at: path) == 2)
        let report = try UsageStoreReader(path: path).report()
        #expect(report.first?.requests == 2)
        #expect(report.first?.hosts.map(\.requests) == [1, 1])
    }

    @Test("a store path that cannot hold a database fails at init, naming the path", arguments: ["directory", "file"])
    func unopenablePath(kind: String) throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let blocker = (directory as NSString).appendingPathComponent("blocker")
        let path: String
        if kind == "directory" {
            try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
            path = blocker
        } else {
            try "not a directory".write(toFile: blocker, atomically: false, encoding: .utf8)
            path = (blocker as NSString).appendingPathComponent("usage.db")
        }
        #expect {
            let store = try SQLiteUsageStore(path: path)
            store.close()
        } throws: { error in
            (error as? RecorderError)?.description.contains("usage store \(path)") == true
        }
    }

    @Test("a file that is not a SQLite database is refused at init with a clear error")
    func notADatabase() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        try String(repeating: "this is not a database\n", count: 100).write(
            toFile: path, atomically: false, encoding: .utf8
        )
        #expect {
            let store = try SQLiteUsageStore(path: path)
            store.close()
        } throws: { error in
            let text = (error as? RecorderError)?.description ?? ""
            return text.contains("cannot open usage store \(path)") && text.contains("not a usable SQLite database")
        }
    }

    @Test("a non-finite duration is stored as 0 instead of failing the batch")
    func nonFiniteDuration() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let store = try SQLiteUsageStore(path: path)
        try store.write([Fixture.event(0, duration: .nan), Fixture.event(1, duration: .infinity)])
        store.close()
        let rows = try Fixture.requestRows(at: path)
        #expect(rows.map { $0["duration_ms"] } == ["0.0", "0.0"])
    }

    @Test("through the recorder: recorded events reach the store and the audit log alike")
    func throughRecorder() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        let logPath = (directory as NSString).appendingPathComponent("audit.jsonl")
        let recorder = UsageRecorder(
            sinks: [try AuditLogWriter(path: logPath), try SQLiteUsageStore(path: path)],
            logger: CapturedLogs().logger
        )
        for second in 0..<100 {
            recorder.record(Fixture.event(Double(second), client: "127.0.0.1:\(40_000 + second)"))
        }
        recorder.shutdown()
        #expect(recorder.writtenEvents == 100)
        #expect(recorder.failedCount == 0)
        // Closed cleanly: the WAL was checkpointed into the main file and removed.
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        let report = try UsageStoreReader(path: path).report()
        #expect(report.first?.requests == 100)
        #expect(report.first?.lastClient == "127.0.0.1:40099")
    }

    @Test("the store holds what it is given and nothing else: no canary value, the credential name as given")
    func noCanaryInStore() throws {
        let directory = try Fixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("usage.db")
        // A value that exists only in this test's memory; events carry names, never values.
        let canaryValue = "tpcanary-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let canaryName = "canary-credential-name"
        let store = try SQLiteUsageStore(path: path)
        try store.write((0..<50).map { Fixture.event(Double($0), credential: canaryName) })
        // Check the live files (main + WAL) while open, then the main file after the final checkpoint.
        var files = [path, path + "-wal"].compactMap { FileManager.default.contents(atPath: $0) }
        #expect(files.count == 2)
        store.close()
        files.append(try #require(FileManager.default.contents(atPath: path)))
        for contents in files {
            #expect(contents.range(of: Data(canaryValue.utf8)) == nil, "a canary value is in the usage store")
        }
        // The scan itself works: the name, which was recorded, is found.
        #expect(files.last?.range(of: Data(canaryName.utf8)) != nil)
    }
}

