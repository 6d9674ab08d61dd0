import Foundation

/// The `rate:`, `burst:` and `daily_requests:` settings of a credential or a client.
///
/// Every limit counts exchanges: each HTTP request (each HTTP/2 stream) and each blind tunnel.
public struct RateLimits: Sendable, Hashable {
    /// A sustained rate, written `10/s`, `600/m` or `5000/h`.
    public struct Rate: Sendable, Hashable, CustomStringConvertible {
        /// How many requests per period.
        public var requests: Int
        /// The period in seconds (1, 60 or 3600).
        public var periodSeconds: Int

        /// Creates a rate of `requests` per `periodSeconds`.
        public init(requests: Int, periodSeconds: Int) {
            self.requests = requests
            self.periodSeconds = periodSeconds
        }

        /// Parses `N/s`, `N/m` or `N/h` (N a positive whole number); `nil` for anything else.
        public init?(parsing text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let count = Int(parts[0].trimmingCharacters(in: .whitespaces)), count > 0 else {
                return nil
            }
            let periods = ["s": 1, "m": 60, "h": 3600]
            guard let period = periods[parts[1].trimmingCharacters(in: .whitespaces)] else { return nil }
            self.init(requests: count, periodSeconds: period)
        }

        /// Requests added to the bucket per second.
        public var perSecond: Double { Double(requests) / Double(periodSeconds) }

        /// `10/s`, as written in the configuration.
        public var description: String {
            "\(requests)/" + (periodSeconds == 1 ? "s" : periodSeconds == 60 ? "m" : "h")
        }
    }

    /// The sustained rate; `nil` for none.
    public var rate: Rate?
    /// How many requests may come at once before the rate applies; defaults to the rate's count.
    public var burst: Int?
    /// At most this many requests per UTC day; `nil` for no budget.
    public var dailyRequests: Int?

    /// Creates limits; all `nil` means unlimited.
    public init(rate: Rate? = nil, burst: Int? = nil, dailyRequests: Int? = nil) {
        self.rate = rate
        self.burst = burst
        self.dailyRequests = dailyRequests
    }

    /// Whether nothing is limited.
    public var isUnlimited: Bool { rate == nil && dailyRequests == nil }

    /// The token bucket's size: `burst`, or the rate's count per period.
    public var bucketCapacity: Int? {
        guard let rate else { return nil }
        return burst ?? rate.requests
    }
}

