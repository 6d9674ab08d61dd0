import Foundation
import Synchronization

/// Counts exchanges against the configured rates (token buckets) and daily budgets, for clients and credentials.
///
/// One lock guards every counter, so an exchange that is subject to several limits (its client's and its
/// credential's) takes from all of them or from none, and concurrent exchanges are counted exactly.
///
/// Counts are held in memory: a restart starts every bucket full and every day's budget from zero, and each
/// replica of a fleet counts on its own.
public final class RateLimiter: Sendable {
    /// Whose limit.
    public enum Subject: Hashable, Sendable, CustomStringConvertible {
        /// A client under `clients:`.
        case client(String)
        /// A credential under `credentials:`.
        case credential(String)

        /// `client 'NAME'` or `credential 'NAME'`.
        public var description: String {
            switch self {
            case .client(let name): "client '\(name)'"
            case .credential(let name): "credential '\(name)'"
            }
        }
    }

    /// Why an exchange must wait.
    public struct Refusal: Sendable, Hashable {
        /// Whole seconds until the exchange would be allowed (rounded up, at least 1), for `Retry-After`.
        public var retryAfterSeconds: Int
        /// Which limit, for the response and the audit record.
        public var reason: String
    }

    private struct Counter {
        var tokens: Double
        var refilled: Date
        var day: Int
        var dayCount: Int
    }

    private let limits: [Subject: RateLimits]
    private let counters: Mutex<[Subject: Counter]>

    /// Creates a limiter for `limits`; subjects without limits (or with unlimited ones) are never refused.
    public init(limits: [Subject: RateLimits]) {
        self.limits = limits.filter { !$0.value.isUnlimited }
        self.counters = Mutex([:])
    }

    /// Whether any limit is configured at all.
    public var isEmpty: Bool { limits.isEmpty }

    /// Takes one exchange from every limit of `subjects`, or from none when any of them is used up.
    ///
    /// - Returns: `nil` when the exchange may go ahead, else the longest wait among the limits that refused.
    public func acquire(_ subjects: [Subject], now: Date = Date()) -> Refusal? {
        let limited = subjects.compactMap { subject in limits[subject].map { (subject, $0) } }
        guard !limited.isEmpty else { return nil }
        let day = Self.utcDay(of: now)
        return counters.withLock { counters in
            var refusals: [Refusal] = []
            var updated: [(Subject, Counter)] = []
            for (subject, limit) in limited {
                var counter = counters[subject]
                    ?? Counter(tokens: Double(limit.bucketCapacity ?? 0), refilled: now, day: day, dayCount: 0)
                if counter.day != day {
                    counter.day = day
                    counter.dayCount = 0
                }
                if let rate = limit.rate, let capacity = limit.bucketCapacity {
                    // A clock stepped backwards adds nothing rather than taking tokens away.
                    let elapsed = max(0, now.timeIntervalSince(counter.refilled))
                    counter.tokens = min(Double(capacity), counter.tokens + elapsed * rate.perSecond)
                    counter.refilled = now
                    if counter.tokens < 1 {
                        let wait = (1 - counter.tokens) / rate.perSecond
                        refusals.append(
                            Refusal(
                                retryAfterSeconds: Self.wholeSeconds(wait),
                                reason: "rate limit of \(subject) (\(rate), burst \(capacity)) exceeded"
                            )
                        )
                    }
                }
                if let budget = limit.dailyRequests, counter.dayCount >= budget {
                    let midnight = Double(day + 1) * 86_400
                    refusals.append(
                        Refusal(
                            retryAfterSeconds: Self.wholeSeconds(midnight - now.timeIntervalSince1970),
                            reason: "daily budget of \(subject) (\(budget) requests per UTC day) is used up"
                        )
                    )
                }
                updated.append((subject, counter))
            }
            if let longest = refusals.max(by: { $0.retryAfterSeconds < $1.retryAfterSeconds }) {
                // Keep the refills (time has passed) but take nothing.
                for (subject, counter) in updated { counters[subject] = counter }
                return longest
            }
            for (subject, var counter) in updated {
                if limits[subject]?.rate != nil { counter.tokens -= 1 }
                counter.dayCount += 1
                counters[subject] = counter
            }
            return nil
        }
    }

    /// Days since 1970-01-01 in UTC.
    static func utcDay(of date: Date) -> Int {
        Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    private static func wholeSeconds(_ interval: Double) -> Int {
        guard interval.isFinite else { return 1 }
        return max(1, Int(interval.rounded(.up)))
    }
}
