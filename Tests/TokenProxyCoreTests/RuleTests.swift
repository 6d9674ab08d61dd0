import Testing

@testable import TokenProxyCore

@Suite("Rule")
struct RuleTests {
    @Test("a rule without filters matches every path and method on its host")
    func unfiltered() throws {
        let rule = try makeRule(host: "api.example.com")
        #expect(rule.matches(host: "api.example.com", port: 443, path: "/", method: "GET"))
        #expect(rule.matches(host: "API.example.com.", port: 8443, path: "/anything/else", method: "DELETE"))
        #expect(!rule.matches(host: "other.example.com", port: 443, path: "/", method: "GET"))
    }

    @Test("the port filter restricts the destination port")
    func portFilter() throws {
        let rule = try makeRule(host: "api.example.com", port: 8443)
        #expect(rule.matches(host: "api.example.com", port: 8443, path: "/", method: "GET"))
        #expect(!rule.matches(host: "api.example.com", port: 443, path: "/", method: "GET"))
        #expect(rule.covers(host: "api.example.com", port: 8443))
        #expect(!rule.covers(host: "api.example.com", port: 443))
    }

    @Test("the path filter is a prefix match", arguments: [
        ("/v1/", "/v1/items", true), ("/v1/", "/v1/", true), ("/v1/", "/v1", false), ("/v1/", "/v2/items", false),
        ("/v1", "/v10/items", true), ("/v1/", "/V1/items", false), ("/", "/anything", true),
    ])
    func pathFilter(prefix: String, path: String, matches: Bool) throws {
        let rule = try makeRule(host: "api.example.com", path: prefix)
        #expect(rule.matches(host: "api.example.com", port: 443, path: path, method: "GET") == matches)
    }

    @Test("the method filter compares case-insensitively against upper-case names")
    func methodFilter() throws {
        let rule = try makeRule(host: "api.example.com", methods: ["GET", "POST"])
        #expect(rule.matches(host: "api.example.com", port: 443, path: "/", method: "GET"))
        #expect(rule.matches(host: "api.example.com", port: 443, path: "/", method: "post"))
        #expect(!rule.matches(host: "api.example.com", port: 443, path: "/", method: "DELETE"))
        #expect(!rule.matches(host: "api.example.com", port: 443, path: "/", method: "GETX"))
    }

    @Test("dot segments cannot carry a request out of the rule's path prefix", arguments: [
        "/v1/../admin", "/v1/./../admin", "/v1/items/../../admin", "/v1/%2e%2e/admin", "/v1/%2E%2E/admin",
        "/v1/.%2e/admin", "/v1/%2e./admin",
    ])
    func dotSegmentsDoNotEscapePrefix(path: String) throws {
        // An upstream resolves these to /admin, which the rule does not cover: the token must not go with them.
        let rule = try makeRule(host: "api.example.com", path: "/v1/")
        #expect(!rule.matches(host: "api.example.com", port: 443, path: path, method: "GET"))
    }

    @Test("covers ignores path and method filters")
    func coversIgnoresPathAndMethod() throws {
        let rule = try makeRule(host: "*.example.com", path: "/v1/", methods: ["POST"])
        #expect(rule.covers(host: "api.example.com", port: 443))
        #expect(!rule.matches(host: "api.example.com", port: 443, path: "/v2/", method: "GET"))
        #expect(!rule.covers(host: "example.com", port: 443))
    }
}
