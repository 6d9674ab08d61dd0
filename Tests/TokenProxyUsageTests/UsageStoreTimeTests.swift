import Foundation
import Testing

@testable import TokenProxyUsage

@Suite("UsageStoreTime")
struct UsageStoreTimeTests {
    private static let now = Date(timeIntervalSince1970: 1_704_164_645)  // 2024-01-02T03:04:05Z

    @Test("times are stored as fixed-width RFC 3339 UTC text with milliseconds, so text order is time order")
    func storeForm() throws {
        let dates = [0, 0.001, 0.5, 59.999, 3600, 86_400 * 400].map { Self.now.addingTimeInterval($0) }
        let texts = dates.map(UsageStoreTime.format)
        #expect(texts[0] == "2024-01-02T03:04:05.000Z")
        #expect(texts[2] == "2024-01-02T03:04:05.500Z")
        #expect(Set(texts.map(\.count)) == [24])
        #expect(texts == texts.sorted())
        for (date, text) in zip(dates, texts) {
            let parsed = try #require(UsageStoreTime.parse(text))
            #expect(abs(parsed.timeIntervalSince(date)) < 0.001)
        }
        #expect(UsageStoreTime.parse("2024-01-02T03:04:05Z") == Self.now)
        #expect(UsageStoreTime.parse("yesterday") == nil)
    }

    @Test(
        "--since takes a duration back from now, an RFC 3339 time or a date",
        arguments: [
            ("90s", -90.0), ("30m", -1800), ("24h", -86_400), ("7d", -7 * 86_400), ("2w", -14 * 86_400),
            ("0h", 0), (" 1h ", -3600),
            ("2024-01-02T03:04:05Z", 0), ("2024-01-02T03:04:05.500Z", 0.5), ("2024-01-02T04:04:05+01:00", 0),
            ("2024-01-02", -11_045),
        ] as [(String, Double)]
    )
    func since(text: String, offset: Double) throws {
        let date = try #require(UsageStoreTime.since(parsing: text, now: Self.now))
        #expect(abs(date.timeIntervalSince(Self.now) - offset) < 0.001)
    }

    @Test("--since refuses what is neither", arguments: ["", "h", "-5h", "5", "5y", "1.5h", "tomorrow", "2024-13-45"])
    func sinceRefuses(text: String) {
        #expect(UsageStoreTime.since(parsing: text, now: Self.now) == nil)
    }

    @Test(
        "last use reads as an age",
        arguments: [
            (nil, "never"), (0.0, "just now"), (-120.0, "just now"), (0.9, "just now"), (42, "42s ago"),
            (60, "1m ago"), (3599, "59m ago"), (3600, "1h ago"), (86_399, "23h ago"), (86_400, "1d ago"),
            (45 * 86_400, "45d ago"),
        ] as [(Double?, String)]
    )
    func relative(age: Double?, expected: String) {
        let date = age.map { Self.now.addingTimeInterval(-$0) }
        #expect(UsageStoreTime.relative(date, now: Self.now) == expected)
    }

    @Test(
        "clients are grouped by address: the connection's port is dropped",
        arguments: [
            ("127.0.0.1:53970", "127.0.0.1"), ("::1:6000", "::1"), ("[::1]:443", "::1"),
            ("fe80::1%lo0:80", "fe80::1%lo0"), ("tokenproxy", "tokenproxy"), ("unknown", "unknown"),
            ("host:", "host:"), (":80", ":80"),
        ]
    )
    func clientAddress(client: String, address: String) {
        #expect(UsageStoreSchema.address(ofClient: client) == address)
    }
}
