import Foundation
import GRDB
import TokenProxyCore

extension UsageStoreReader {
    /// How often, and when last, a credential's previous value was sent.
    public struct PreviousValueUse: Sendable, Equatable {
        /// Requests sent with the previous value.
        public var requests: Int
        /// The start of the latest of them.
        public var lastUsed: Date
    }

    /// The requests sent with each credential's previous value (`previous:`, after a 401 to the current one), since
    /// `since` or ever: the rotation window may close once this stops growing.
    public func previousValueUses(since: Date? = nil) throws -> [String: PreviousValueUse] {
        var arguments: StatementArguments = ["prefix": UsageEvent.previousValueReasonPrefix + "%"]
        if let since { arguments += ["since": UsageStoreTime.format(since)] }
        let rows = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT credential, COUNT(*) AS requests, MAX(time) AS last_used FROM requests
                    WHERE \(UsageStoreSchema.useCondition) AND reason LIKE :prefix
                    \(since == nil ? "" : "AND time >= :since") GROUP BY credential
                    """,
                arguments: arguments
            )
        } ?? []
        var uses: [String: PreviousValueUse] = [:]
        for row in rows {
            let lastUsed: String = row["last_used"]
            uses[row["credential"]] = PreviousValueUse(
                requests: row["requests"], lastUsed: UsageStoreTime.parse(lastUsed) ?? Date(timeIntervalSince1970: 0)
            )
        }
        return uses
    }
}
