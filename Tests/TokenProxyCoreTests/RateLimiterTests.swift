import Foundation
import Testing

@testable import TokenProxyCore

@Suite("rate limiter")
struct RateLimiterTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z

    static func limits(_ rate: String?, burst: Int? = nil, daily: Int? = nil) -> RateLimits {
        RateLimits(rate: rate.flatMap { RateLimits.Rate(parsing: $0) }, burst: burst, dailyRequests: daily)
    }

    @Test("the burst passes at once, the next request waits for the refill (Retry-After rounded up)")
    func burstThenRefill() {
        let limiter = RateLimiter(limits: [.credential("gh"): Self.limits("10/s", burst: 3)])
        for _ in 0..<3 { #expect(limiter.acquire([.credential("gh")], now: Self.start) == nil) }
        let refusal = limiter.acquire([.credential("gh")], now: Self.start)
        #expect(refusal?.retryAfterSeconds == 1)
        #expect(refusal?.reason == "rate limit of credential 'gh' (10/s, burst 3) exceeded")
        // 0.1 s later one token (10/s) is back, and only one.
        let later = Self.start.addingTimeInterval(0.1)
        #expect(limiter.acquire([.credential("gh")], now: later) == nil)
        #expect(limiter.acquire([.credential("gh")], now: later) != nil)
    }

    @Test("the bucket defaults to the rate's count and never fills beyond it")
    func capacityDefaultsToRate() {
        let limiter = RateLimiter(limits: [.client("ci"): Self.limits("2/m")])
        let hourLater = Self.start.addingTimeInterval(3600)
        #expect(limiter.acquire([.client("ci")], now: hourLater) == nil)
        #expect(limiter.acquire([.client("ci")], now: hourLater) == nil)
        let refusal = limiter.acquire([.client("ci")], now: hourLater)
        // 2/m: one request every 30 s.
        #expect(refusal?.retryAfterSeconds == 30)
    }

    @Test("50 concurrent requests against burst 5 (1/h): exactly 5 pass")
    func exactUnderConcurrency() async {
        let limiter = RateLimiter(limits: [.credential("gh"): Self.limits("1/h", burst: 5)])
        let passed = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask { limiter.acquire([.credential("gh")]) == nil }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(passed == 5)
    }

    @Test("a daily budget ends at UTC midnight, and Retry-After says how far away it is")
    func dailyBudget() {
        let limiter = RateLimiter(limits: [.client("ci"): Self.limits(nil, daily: 2)])
        #expect(limiter.acquire([.client("ci")], now: Self.start) == nil)
        #expect(limiter.acquire([.client("ci")], now: Self.start) == nil)
        let refusal = limiter.acquire([.client("ci")], now: Self.start)
        // 08:00 UTC: 16 hours to midnight.
        #expect(refusal?.retryAfterSeconds == 16 * 3600)
        #expect(refusal?.reason == "daily budget of client 'ci' (2 requests per UTC day) is used up")
        let nextDay = Self.start.addingTimeInterval(16 * 3600)
        #expect(limiter.acquire([.client("ci")], now: nextDay) == nil)
    }

    @Test("an exchange under two limits takes from both or from neither")
    func allOrNothing() {
        let limiter = RateLimiter(limits: [
            .client("ci"): Self.limits("1/h", burst: 2), .credential("gh"): Self.limits("1/h", burst: 1),
        ])
        #expect(limiter.acquire([.client("ci"), .credential("gh")], now: Self.start) == nil)
        // The credential is used up; the client's second token must survive the refusal.
        #expect(limiter.acquire([.client("ci"), .credential("gh")], now: Self.start) != nil)
        #expect(limiter.acquire([.client("ci")], now: Self.start) == nil)
        #expect(limiter.acquire([.client("ci")], now: Self.start) != nil)
    }

    @Test("subjects without limits are never refused")
    func unlimited() {
        let limiter = RateLimiter(limits: [.client("ci"): RateLimits()])
        #expect(limiter.isEmpty)
        for _ in 0..<1000 { #expect(limiter.acquire([.client("ci"), .credential("x")], now: Self.start) == nil) }
    }

    @Test("rates parse as COUNT/s, /m or /h", arguments: [("10/s", 10, 1), ("600/m", 600, 60), ("5/h", 5, 3600)])
    func rates(text: String, requests: Int, period: Int) {
        let rate = RateLimits.Rate(parsing: text)
        #expect(rate?.requests == requests)
        #expect(rate?.periodSeconds == period)
        #expect(rate?.description == text)
    }

    @Test("malformed rates are refused", arguments: ["10", "0/s", "-1/s", "10/d", "x/s", "10/", "/s", "1/s/s"])
    func badRates(text: String) {
        #expect(RateLimits.Rate(parsing: text) == nil)
    }
}
