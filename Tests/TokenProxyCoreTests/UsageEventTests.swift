import Foundation
import Testing

@testable import TokenProxyCore

@Suite("UsageEvent")
struct UsageEventTests {
    private static func event(
        path: String? = "/v1/items", rule: Int? = 2, credential: String? = "github", reason: String? = nil,
        duration: Double = 12.3456
    ) -> UsageEvent {
        UsageEvent(
            time: Date(timeIntervalSince1970: 1_704_164_645.5), client: "127.0.0.1:50123", method: "GET",
            host: "api.github.com", port: 443, path: path, rule: rule, credential: credential, status: 200,
            bytesIn: 10, bytesOut: 2048, durationMilliseconds: duration, decision: .injected, reason: reason
        )
    }

    private static func jsonObject(_ event: UsageEvent) throws -> [String: Any] {
        let data = try JSONEncoder().encode(event)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("pathWithoutQuery drops the query string and fragment", arguments: [
        ("/v1/items?key=abc", "/v1/items"), ("/v1/items#top", "/v1/items"), ("/a?b#c", "/a"), ("/a#b?c", "/a"),
        ("/plain", "/plain"), ("/", "/"), ("?only=query", ""), ("", ""), ("/a/b/?", "/a/b/"),
    ])
    func pathWithoutQuery(target: String, expected: String) {
        #expect(UsageEvent.pathWithoutQuery(target) == expected)
    }

    @Test("JSON uses snake_case keys and always has every key")
    func snakeCaseKeys() throws {
        let object = try Self.jsonObject(Self.event())
        #expect(Set(object.keys) == [
            "time", "client", "method", "host", "port", "path", "rule", "credential", "fingerprint", "status", "bytes_in",
            "bytes_out", "duration_ms", "decision", "reason",
        ])
        #expect(object["bytes_in"] as? Int == 10)
        #expect(object["bytes_out"] as? Int == 2048)
        #expect(object["decision"] as? String == "injected")
        #expect(object["credential"] as? String == "github")
        #expect(object["rule"] as? Int == 2)
    }

    @Test("absent optionals are encoded as explicit nulls")
    func explicitNulls() throws {
        let data = try JSONEncoder().encode(Self.event(path: nil, rule: nil, credential: nil, reason: nil))
        let text = try #require(String(data: data, encoding: .utf8))
        for key in ["path", "rule", "credential", "reason"] {
            #expect(text.contains("\"\(key)\":null"), "\(key) is not an explicit null in \(text)")
        }
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object.count == 15)
        #expect(object["path"] is NSNull)
    }

    @Test("the duration is rounded to microseconds")
    func durationRounded() throws {
        let object = try Self.jsonObject(Self.event(duration: 12.3456789))
        let duration = try #require(object["duration_ms"] as? Double)
        #expect(abs(duration - 12.346) < 1e-9)
    }

    @Test("an encoded event decodes back to the same event")
    func roundTrip() throws {
        let event = Self.event(reason: "upstream certificate did not verify", duration: 1.5)
        let decoded = try JSONDecoder().decode(UsageEvent.self, from: JSONEncoder().encode(event))
        #expect(decoded == event)
    }

    @Test("decisions encode as their lower-case names", arguments: [
        (UsageEvent.Decision.injected, "injected"), (.tunnel, "tunnel"), (.forward, "forward"), (.denied, "denied"),
        (.error, "error"),
    ])
    func decisions(decision: UsageEvent.Decision, name: String) throws {
        var event = Self.event()
        event.decision = decision
        #expect(try Self.jsonObject(event)["decision"] as? String == name)
    }
}
