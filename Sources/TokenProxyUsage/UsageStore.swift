import Foundation
import GRDB
import TokenProxyCore

#if canImport(Glibc)
    import Glibc
#endif

/// The embedded usage store: every event as a row of `requests`, plus per-credential aggregates
/// (`credential_usage`, `credential_hosts`) kept current in the same transaction, in one SQLite file.
///
/// A ``UsageSink``: the recorder calls it from its own thread, one batch at a time, and each batch is one
/// transaction, so a batch is stored whole or not at all. That matters because the recorder retries a failed batch:
/// a half-written one would be counted twice.
///
/// The database runs in WAL mode, so `tokenproxy usage` (a ``UsageStoreReader`` in another process) reads a
/// consistent snapshot while the proxy writes, without either waiting for the other; several proxies writing one
/// file take turns, each waiting up to ``Configuration/busyTimeout`` for the others.
///
/// Nothing here can hold a token: events carry credential names only.
public final class SQLiteUsageStore: UsageSink {
    /// Tunables of the store.
    public struct Configuration: Sendable {
        /// How long a write waits for another process holding the database before failing with "locked".
        public var busyTimeout: Duration

        /// Creates a configuration.
        public init(busyTimeout: Duration = .seconds(5)) {
            self.busyTimeout = busyTimeout
        }

        /// ``busyTimeout`` in seconds, as SQLite's busy handler takes it.
        var busyTimeoutSeconds: TimeInterval { busyTimeout.timeInterval }
    }

    public let name: String
    /// The database file.
    public let path: String
    /// Internal so tests can reach the connection (to simulate a full disk).
    let queue: DatabaseQueue

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    ///
    /// A new file is created with mode 0600 in a directory created 0700 (SQLite gives its `-wal` and `-shm` files
    /// the database's mode). Throws a ``RecorderError`` naming the path when the file cannot be opened or migrated.
    public init(path: String, configuration: Configuration = Configuration()) throws {
        self.path = path
        self.name = "usage store \(path)"
        queue = try Self.openQueue(at: path, label: "tokenproxy usage store", configuration: configuration)
    }

    /// Creates the file if needed (0600), opens a WAL connection with the busy timeout and migrates the schema: what
    /// every connection to the store does first. Throws a ``RecorderError`` naming the path.
    static func openQueue(at path: String, label: String, configuration: Configuration) throws -> DatabaseQueue {
        try createFile(at: path)
        var databaseConfiguration = GRDB.Configuration()
        databaseConfiguration.label = label
        databaseConfiguration.journalMode = .wal
        databaseConfiguration.busyMode = .timeout(configuration.busyTimeoutSeconds)
        do {
            let queue = try DatabaseQueue(path: path, configuration: databaseConfiguration)
            try UsageStoreSchema.migrator.migrate(queue)
            return queue
        } catch let error as DatabaseError {
            throw RecorderError(description: UsageStoreError.describe(error, path: path, doing: "open"))
        }
    }

    /// Inserts one `requests` row per event and folds the uses into the aggregates, all in one transaction.
    public func write(_ events: [UsageEvent]) throws {
        guard !events.isEmpty else { return }
        // Formatted once: the same text goes into the row and into the aggregates' comparisons, so the writer's
        // "latest" and the reader's (which only sees the text) agree to the millisecond.
        let times = events.map { UsageStoreTime.format($0.time) }
        let totals = BatchTotals(events, times: times)
        do {
            try queue.writeWithoutTransaction { db in
                // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from reading to
                // writing can fail at once with SQLITE_BUSY when another process wrote meanwhile, without waiting.
                try db.inTransaction(.immediate) {
                    try Self.insert(events, times: times, into: db)
                    try Self.fold(totals, into: db)
                    return .commit
                }
            }
        } catch let error as DatabaseError {
            throw RecorderError(
                description: UsageStoreError.describe(error, path: path, doing: "store \(events.count) events in")
            )
        }
    }

    /// Each commit is already durable enough (WAL, `synchronous=NORMAL`: a power cut may lose the last commits,
    /// never corrupt the file); at shutdown, checkpoint so the main file holds everything.
    public func flush(final: Bool) throws {
        guard final else { return }
        do {
            try queue.writeWithoutTransaction { db in
                // PASSIVE: never wait for, or disturb, a reader (`tokenproxy usage`) that is reading right now.
                _ = try db.checkpoint(.passive)
            }
        } catch let error as DatabaseError {
            throw RecorderError(description: UsageStoreError.describe(error, path: path, doing: "checkpoint"))
        }
    }

    public func close() {
        try? queue.close()
    }

    // MARK: Writing

    private static let insertSQL = """
        INSERT INTO requests (time, client, method, host, port, path, rule, credential, status, bytes_in, bytes_out,
            duration_ms, decision, reason)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    // In an UPSERT's DO UPDATE, bare column names are the stored row and `excluded.` the proposed one; every SET
    // expression sees the row as it was, so `last_client` compares against the old `last_used`.
    private static let upsertUsageSQL = """
        INSERT INTO credential_usage (credential, requests, errors, bytes_in, bytes_out, first_used, last_used,
            last_client)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (credential) DO UPDATE SET
            requests = requests + excluded.requests,
            errors = errors + excluded.errors,
            bytes_in = bytes_in + excluded.bytes_in,
            bytes_out = bytes_out + excluded.bytes_out,
            first_used = min(first_used, excluded.first_used),
            last_client = CASE WHEN excluded.last_used >= last_used THEN excluded.last_client ELSE last_client END,
            last_used = max(last_used, excluded.last_used)
        """

    private static let upsertHostSQL = """
        INSERT INTO credential_hosts (credential, host, requests, last_used)
        VALUES (?, ?, ?, ?)
        ON CONFLICT (credential, host) DO UPDATE SET
            requests = requests + excluded.requests,
            last_used = max(last_used, excluded.last_used)
        """

    private static func insert(_ events: [UsageEvent], times: [String], into db: Database) throws {
        let statement = try db.cachedStatement(sql: insertSQL)
        for (event, time) in zip(events, times) {
            // SQLite stores NaN as NULL, which the NOT NULL column refuses: a clock gone wrong must not cost the
            // whole batch, so a non-finite duration is stored as 0, as in the audit log.
            let duration = event.durationMilliseconds.isFinite ? event.durationMilliseconds : 0
            let arguments: StatementArguments = [
                time, event.client, event.method, event.host, event.port, event.path,
                event.rule, event.credential, event.status, event.bytesIn, event.bytesOut, duration,
                event.decision.rawValue, event.reason,
            ]
            try statement.execute(arguments: arguments)
        }
    }

    private static func fold(_ totals: BatchTotals, into db: Database) throws {
        let usage = try db.cachedStatement(sql: upsertUsageSQL)
        for (credential, total) in totals.credentials.sorted(by: { $0.key < $1.key }) {
            try usage.execute(arguments: [
                credential, total.requests, total.errors, total.bytesIn, total.bytesOut,
                total.firstUsed, total.lastUsed, total.lastClient,
            ])
        }
        let hosts = try db.cachedStatement(sql: upsertHostSQL)
        let sortedHosts = totals.hosts.sorted { ($0.key.credential, $0.key.host) < ($1.key.credential, $1.key.host) }
        for (key, total) in sortedHosts {
            try hosts.execute(arguments: [key.credential, key.host, total.requests, total.lastUsed])
        }
    }

    /// Creates the directory (0700) and an empty file (0600) unless they exist, so SQLite never creates the
    /// database with its default 0644.
    static func createFile(at path: String) throws {
        do {
            try PrivateDirectory.create(containing: path, what: "usage store \(path)")
        } catch {
            throw RecorderError(description: error.description)
        }
        // An empty file is a valid empty SQLite database. O_EXCL-free: an existing store is opened as it is.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RecorderError(
                description: "cannot open usage store \(path): \(String(cString: strerror(errno)))"
            )
        }
        // Qualified: inside this class, `close` alone names the sink's own method.
        _ = Glibc.close(descriptor)
    }
}

/// What one batch adds to the aggregates, summed in memory so each credential and host takes one UPSERT per batch
/// instead of one per event. Times are the store's text form (see ``UsageStoreTime``), compared as text like the
/// UPSERTs compare them.
struct BatchTotals {
    struct Credential {
        var requests = 0
        var errors = 0
        var bytesIn = 0
        var bytesOut = 0
        var firstUsed: String
        var lastUsed: String
        var lastClient: String
    }

    struct HostKey: Hashable {
        var credential: String
        var host: String
    }

    struct Host {
        var requests = 0
        var lastUsed: String
    }

    var credentials: [String: Credential] = [:]
    var hosts: [HostKey: Host] = [:]

    /// Sums `events`, whose times in store form are `times` (same order).
    init(_ events: [UsageEvent], times: [String]) {
        for (event, time) in zip(events, times) where event.countsAsUse {
            guard let name = event.credential else { continue }
            var total = credentials[name] ?? Credential(firstUsed: time, lastUsed: time, lastClient: event.client)
            total.requests += 1
            total.errors += event.countsAsError ? 1 : 0
            total.bytesIn += event.bytesIn
            total.bytesOut += event.bytesOut
            total.firstUsed = min(total.firstUsed, time)
            // Events arrive in completion order, not start order: the latest start wins, and a tie goes to the later
            // event, as in the UPSERT's `>=` and the reader's `ORDER BY time DESC, id DESC`.
            if time >= total.lastUsed {
                total.lastUsed = time
                total.lastClient = event.client
            }
            credentials[name] = total

            let key = HostKey(credential: name, host: event.host)
            var host = hosts[key] ?? Host(lastUsed: time)
            host.requests += 1
            host.lastUsed = max(host.lastUsed, time)
            hosts[key] = host
        }
    }
}
