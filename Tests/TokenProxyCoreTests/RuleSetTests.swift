import Testing

@testable import TokenProxyCore

@Suite("RuleSet")
struct RuleSetTests {
    @Test("the first matching rule wins, in configuration order")
    func firstMatchWins() throws {
        let set = RuleSet([
            try makeRule(index: 0, host: "api.example.com", path: "/admin/", credential: "admin"),
            try makeRule(index: 1, host: "*.example.com", credential: "wildcard"),
            try makeRule(index: 2, host: "api.example.com", credential: "exact"),
        ])
        #expect(set.firstMatch(host: "api.example.com", port: 443, path: "/admin/users", method: "GET")?.index == 0)
        #expect(set.firstMatch(host: "api.example.com", port: 443, path: "/public", method: "GET")?.index == 1)
        #expect(set.firstMatch(host: "www.example.com", port: 443, path: "/", method: "GET")?.credential == "wildcard")
        #expect(set.firstMatch(host: "example.com", port: 443, path: "/", method: "GET") == nil)
    }

    @Test("reordering the same rules changes the winner")
    func orderMatters() throws {
        let exact = try makeRule(index: 0, host: "api.example.com", credential: "exact")
        let wildcard = try makeRule(index: 1, host: "*.example.com", credential: "wildcard")
        #expect(RuleSet([exact, wildcard]).firstMatch(host: "api.example.com", port: 443, path: "/", method: "GET")?
            .credential == "exact")
        #expect(RuleSet([wildcard, exact]).firstMatch(host: "api.example.com", port: 443, path: "/", method: "GET")?
            .credential == "wildcard")
    }

    @Test("a port-restricted rule is skipped for other ports")
    func portFilter() throws {
        let set = RuleSet([
            try makeRule(index: 0, host: "api.example.com", port: 8443, credential: "staging"),
            try makeRule(index: 1, host: "api.example.com", credential: "default"),
        ])
        #expect(set.firstMatch(host: "api.example.com", port: 8443, path: "/", method: "GET")?.credential == "staging")
        #expect(set.firstMatch(host: "api.example.com", port: 443, path: "/", method: "GET")?.credential == "default")
    }

    @Test("method and path filters fall through to later rules")
    func filtersFallThrough() throws {
        let set = RuleSet([
            try makeRule(index: 0, host: "api.example.com", methods: ["POST"], credential: "writer"),
            try makeRule(index: 1, host: "api.example.com", path: "/read/", credential: "reader"),
        ])
        #expect(set.firstMatch(host: "api.example.com", port: 443, path: "/x", method: "post")?.credential == "writer")
        #expect(
            set.firstMatch(host: "api.example.com", port: 443, path: "/read/x", method: "GET")?.credential == "reader"
        )
        #expect(set.firstMatch(host: "api.example.com", port: 443, path: "/x", method: "GET") == nil)
    }

    @Test("covers decides interception whatever the path and method filters")
    func covers() throws {
        let set = RuleSet([
            try makeRule(index: 0, host: "api.example.com", port: 443, path: "/only/", methods: ["PUT"]),
            try makeRule(index: 1, host: "*.internal.example.org"),
        ])
        #expect(set.covers(host: "api.example.com", port: 443))
        #expect(!set.covers(host: "api.example.com", port: 80))
        #expect(set.covers(host: "db.internal.example.org", port: 5432))
        #expect(!set.covers(host: "internal.example.org", port: 443))
        #expect(!set.covers(host: "example.net", port: 443))
        #expect(!RuleSet([]).covers(host: "api.example.com", port: 443))
    }
}
