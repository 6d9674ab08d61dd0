import Foundation

/// A configured credential that has not been used for a while, or ever: a candidate for revocation.
public struct StaleCredential: Sendable, Codable, Equatable {
    /// The credential's name.
    public var credential: String
    /// The start of its latest request; `nil` if it was never used.
    public var lastUsed: Date?

    /// Creates an entry.
    public init(credential: String, lastUsed: Date?) {
        self.credential = credential
        self.lastUsed = lastUsed
    }

    /// The credentials of `configured` unused for at least `days` days before `now`, given when each was last used
    /// (a name missing from `lastUsed` was never used): never-used ones first in configured order, then the
    /// longest unused first.
    ///
    /// Shared by ``UsageStoreReader/stale(days:configured:now:)`` and by a report over a store that does not exist
    /// yet (every credential never used).
    public static func select(
        days: Int, configured: [String], lastUsed: [String: Date], now: Date
    ) -> [StaleCredential] {
        let cutoff = now.addingTimeInterval(-TimeInterval(days) * 86_400)
        var seen = Set<String>()
        let stale = configured.filter { seen.insert($0).inserted }.compactMap { name -> StaleCredential? in
            guard let last = lastUsed[name] else { return StaleCredential(credential: name, lastUsed: nil) }
            return last <= cutoff ? StaleCredential(credential: name, lastUsed: last) : nil
        }
        let never = stale.filter { $0.lastUsed == nil }
        let old = stale.filter { $0.lastUsed != nil }.sorted { ($0.lastUsed ?? now) < ($1.lastUsed ?? now) }
        return never + old
    }

    enum CodingKeys: String, CodingKey {
        case credential
        case lastUsed = "last_used"
    }

    // `last_used: null` for never, rather than a missing key.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(credential, forKey: .credential)
        try container.encode(lastUsed, forKey: .lastUsed)
    }
}
