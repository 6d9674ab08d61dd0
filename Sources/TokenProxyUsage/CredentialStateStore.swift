import Foundation
import GRDB
import TokenProxyCore

/// The proxy's lifecycle state in the usage store's SQLite file: revocations, which outlive reloads and restarts,
/// and when each value of a credential was first seen (by keyed fingerprint, never by value), for `rotate_every:`.
///
/// Every method blocks on SQLite: call them off the event loops (the lifecycle controller runs them on the thread
/// pool). A second connection beside the recorder's; WAL and the busy timeout let both write the one file.
public final class CredentialStateStore: Sendable {
    /// The database file.
    public let path: String
    private let queue: DatabaseQueue

    /// Opens (creating and migrating if needed) the state tables in the store at `path`.
    public init(path: String, configuration: SQLiteUsageStore.Configuration = SQLiteUsageStore.Configuration()) throws {
        self.path = path
        queue = try SQLiteUsageStore.openQueue(at: path, label: "tokenproxy state store", configuration: configuration)
    }

    /// The revocations in force, by credential name.
    public func revocations() throws -> [String: Revocation] {
        try access("read revocations from") { db in
            var result: [String: Revocation] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT credential, reason, revoked_at FROM revocations") {
                let time = UsageStoreTime.parse(row["revoked_at"]) ?? Date(timeIntervalSince1970: 0)
                result[row["credential"]] = Revocation(reason: row["reason"], time: time)
            }
            return result
        }
    }

    /// Records `revocation` for each of `names` (replacing an earlier one).
    public func revoke(_ names: [String], _ revocation: Revocation) throws {
        try access("record a revocation in") { db in
            for name in names {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO revocations (credential, reason, revoked_at) VALUES (?, ?, ?)",
                    arguments: [name, revocation.reason, UsageStoreTime.format(revocation.time)]
                )
            }
        }
    }

    /// Lifts the revocations of `names`, or of every credential when `names` is `nil`.
    public func unrevoke(_ names: [String]?) throws {
        try access("remove a revocation from") { db in
            guard let names else {
                try db.execute(sql: "DELETE FROM revocations")
                return
            }
            for name in names {
                try db.execute(sql: "DELETE FROM revocations WHERE credential = ?", arguments: [name])
            }
        }
    }

    /// When the value with `fingerprint` of `credential` was first seen, recording `now` if it is new.
    public func firstSeen(credential: String, fingerprint: String, now: Date) throws -> Date {
        try access("record a credential version in") { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO credential_versions (credential, fingerprint, first_seen) VALUES (?, ?, ?)
                    """,
                arguments: [credential, fingerprint, UsageStoreTime.format(now)]
            )
            let text = try String.fetchOne(
                db, sql: "SELECT first_seen FROM credential_versions WHERE credential = ? AND fingerprint = ?",
                arguments: [credential, fingerprint]
            )
            return text.flatMap(UsageStoreTime.parse) ?? now
        }
    }

    /// Closes the connection.
    public func close() {
        try? queue.close()
    }

    private func access<T>(_ action: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.write(body)
        } catch let error as DatabaseError {
            throw RecorderError(description: UsageStoreError.describe(error, path: path, doing: action))
        }
    }
}
