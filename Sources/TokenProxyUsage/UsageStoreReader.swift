import Foundation
import GRDB

/// Reads the usage store for `tokenproxy usage`: read-only, without a running proxy, and safely while one writes.
///
/// Each call reads one snapshot (one read transaction), so its figures never mix half of a batch with the other
/// half. It never creates, migrates or changes the file.
public final class UsageStoreReader: Sendable {
    /// The database file.
    public let path: String
    private let queue: DatabaseQueue

    /// Opens the store at `path` read-only.
    ///
    /// Throws a ``UsageStoreError`` that ``UsageStoreError/isNotFound`` when the file does not exist, and one naming
    /// the path when it is not a readable SQLite database.
    public init(path: String, configuration: SQLiteUsageStore.Configuration = SQLiteUsageStore.Configuration()) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw UsageStoreError.notFound(path) }
        var databaseConfiguration = GRDB.Configuration()
        databaseConfiguration.label = "tokenproxy usage reader"
        databaseConfiguration.readonly = true
        databaseConfiguration.busyMode = .timeout(configuration.busyTimeoutSeconds)
        databaseConfiguration.prepareDatabase { db in
            db.add(function: UsageStoreSchema.clientAddressFunction)
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: databaseConfiguration)
        } catch let error as DatabaseError {
            throw UsageStoreError.unreadable(error, path: path)
        }
    }

    /// One row per credential that was used, sorted by name.
    ///
    /// - Parameters:
    ///   - since: only requests that started at or after this time, counted from the request rows; `nil` for all
    ///     time, read from the aggregates.
    ///   - credential: only this credential.
    public func report(since: Date? = nil, credential: String? = nil) throws -> [UsageReport] {
        try read { db in
            if let since {
                try window(since: UsageStoreTime.format(since), credential: credential, db: db)
            } else {
                try aggregates(credential: credential, db: db)
            }
        } ?? []
    }

    /// When each credential in the store was last used.
    public func lastUsed() throws -> [String: Date] {
        try read { db in
            var result: [String: Date] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT credential, last_used FROM credential_usage") {
                let name: String = row["credential"]
                result[name] = try requiredDate(row["last_used"])
            }
            return result
        } ?? [:]
    }

    /// The credentials of `configured` unused for at least `days` days before `now`, including those the store has
    /// never seen: see ``StaleCredential/select(days:configured:lastUsed:now:)``.
    public func stale(days: Int, configured: [String], now: Date = Date()) throws -> [StaleCredential] {
        StaleCredential.select(days: days, configured: configured, lastUsed: try lastUsed(), now: now)
    }

    /// Closes the connection; later calls throw.
    public func close() {
        try? queue.close()
    }

    // MARK: Reading

    /// Runs `body` in one read transaction; `nil` when the file holds no usage tables yet (a store created but
    /// never migrated, such as an empty file).
    func read<T>(_ body: (Database) throws -> T) throws -> T? {
        do {
            return try queue.read { db -> T? in
                for table in ["requests", "credential_usage", "credential_hosts"] where try !db.tableExists(table) {
                    return nil
                }
                return try body(db)
            }
        } catch let error as DatabaseError {
            throw UsageStoreError.unreadable(error, path: path)
        }
    }

    /// A report row from a query selecting credential, requests, errors, bytes_in, bytes_out, first_used, last_used
    /// and, where it has one, last_client; hosts and clients are filled in afterwards.
    private func report(_ row: Row) throws -> UsageReport {
        UsageReport(
            credential: row["credential"], requests: row["requests"], errors: row["errors"],
            bytesIn: row["bytes_in"], bytesOut: row["bytes_out"], firstUsed: try date(row["first_used"]),
            lastUsed: try date(row["last_used"]), lastClient: row.hasColumn("last_client") ? row["last_client"] : nil,
            hosts: [], clients: []
        )
    }

    /// The all-time report, from the aggregates (and the distinct clients, from the rows).
    private func aggregates(credential: String?, db: Database) throws -> [UsageReport] {
        let filter = credential == nil ? "" : "WHERE credential = :credential"
        let arguments: StatementArguments = credential.map { ["credential": $0] } ?? [:]
        var reports = try Row.fetchAll(
            db,
            sql: """
                SELECT credential, requests, errors, bytes_in, bytes_out, first_used, last_used, last_client
                FROM credential_usage \(filter) ORDER BY credential
                """,
            arguments: arguments
        ).map(report)
        let hosts = try hostRows(
            sql: """
                SELECT credential, host, requests, last_used FROM credential_hosts \(filter)
                ORDER BY credential, requests DESC, host
                """,
            arguments: arguments, db: db
        )
        let clients = try clientRows(since: nil, credential: credential, db: db)
        for index in reports.indices {
            reports[index].hosts = hosts[reports[index].credential] ?? []
            reports[index].clients = clients[reports[index].credential] ?? []
        }
        return reports
    }

    /// The report of a window, computed from the rows of requests that started at or after `since`.
    private func window(since: String, credential: String?, db: Database) throws -> [UsageReport] {
        let filter =
            "\(UsageStoreSchema.useCondition) AND time >= :since"
            + (credential == nil ? "" : " AND credential = :credential")
        var arguments: StatementArguments = ["since": since]
        if let credential { arguments += ["credential": credential] }
        var reports = try Row.fetchAll(
            db,
            sql: """
                SELECT credential, COUNT(*) AS requests,
                    SUM(CASE WHEN \(UsageStoreSchema.errorCondition) THEN 1 ELSE 0 END) AS errors,
                    SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out,
                    MIN(time) AS first_used, MAX(time) AS last_used
                FROM requests WHERE \(filter) GROUP BY credential ORDER BY credential
                """,
            arguments: arguments
        ).map(report)
        let hosts = try hostRows(
            sql: """
                SELECT credential, host, COUNT(*) AS requests, MAX(time) AS last_used FROM requests WHERE \(filter)
                GROUP BY credential, host ORDER BY credential, requests DESC, host
                """,
            arguments: arguments, db: db
        )
        let clients = try clientRows(since: since, credential: credential, db: db)
        let lastClient = try db.cachedStatement(
            sql: """
                SELECT client FROM requests
                WHERE \(UsageStoreSchema.useCondition) AND credential = ? AND time >= ?
                ORDER BY time DESC, id DESC LIMIT 1
                """
        )
        for index in reports.indices {
            let name = reports[index].credential
            reports[index].hosts = hosts[name] ?? []
            reports[index].clients = clients[name] ?? []
            reports[index].lastClient = try String.fetchOne(lastClient, arguments: [name, since])
        }
        return reports
    }

    private func hostRows(
        sql: String, arguments: StatementArguments, db: Database
    ) throws -> [String: [UsageReport.Host]] {
        var hosts: [String: [UsageReport.Host]] = [:]
        for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
            let host = UsageReport.Host(
                host: row["host"], requests: row["requests"], lastUsed: try requiredDate(row["last_used"])
            )
            hosts[row["credential"], default: []].append(host)
        }
        return hosts
    }

    /// The distinct client addresses per credential, most requests first.
    private func clientRows(since: String?, credential: String?, db: Database) throws -> [String: [String]] {
        var filter = UsageStoreSchema.useCondition
        var arguments: StatementArguments = [:]
        if let since {
            filter += " AND time >= :since"
            arguments += ["since": since]
        }
        if let credential {
            filter += " AND credential = :credential"
            arguments += ["credential": credential]
        }
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT credential, tokenproxy_client_address(client) AS address, COUNT(*) AS requests
                FROM requests WHERE \(filter)
                GROUP BY credential, address ORDER BY credential, requests DESC, address
                """,
            arguments: arguments
        )
        var clients: [String: [String]] = [:]
        for row in rows {
            clients[row["credential"], default: []].append(row["address"])
        }
        return clients
    }

    private func date(_ text: String?) throws -> Date? {
        try text.map(requiredDate)
    }

    private func requiredDate(_ text: String) throws -> Date {
        guard let date = UsageStoreTime.parse(text) else {
            throw UsageStoreError.unreadable("cannot read usage store \(path): '\(text)' is not a time")
        }
        return date
    }
}
