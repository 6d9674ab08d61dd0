import Testing

@testable import TokenProxyCore

@Suite("RuleShadowing")
struct RuleShadowingTests {
    @Test(
        "an earlier rule shadows a later one exactly when it matches every request the later one would",
        arguments: [
            // (earlier host, port, path, methods) → (later host, port, path, methods), shadowed?
            (("api.example.com", nil, nil, nil), ("api.example.com", 443, "/v1/", ["GET"]), true),
            (("*.example.com", nil, nil, nil), ("api.example.com", nil, nil, nil), true),
            (("*.example.com", nil, nil, nil), ("*.api.example.com", nil, nil, nil), true),
            (("*.example.com", nil, nil, nil), ("example.com", nil, nil, nil), false),
            (("*.api.example.com", nil, nil, nil), ("*.example.com", nil, nil, nil), false),
            (("api.example.com", nil, nil, nil), ("*.example.com", nil, nil, nil), false),
            (("api.example.com", 443, nil, nil), ("api.example.com", nil, nil, nil), false),
            (("api.example.com", 443, nil, nil), ("api.example.com", 8443, nil, nil), false),
            (("api.example.com", nil, "/v1/", nil), ("api.example.com", nil, "/v1/repos/*/issues", nil), true),
            (("api.example.com", nil, "/v1/", nil), ("api.example.com", nil, "/v2/", nil), false),
            (("api.example.com", nil, "/v1/", nil), ("api.example.com", nil, nil, nil), false),
            (("api.example.com", nil, "/v1/*/x", nil), ("api.example.com", nil, "/v1/a/x", nil), false),
            (("api.example.com", nil, nil, ["GET", "POST"]), ("api.example.com", nil, nil, ["GET"]), true),
            (("api.example.com", nil, nil, ["GET"]), ("api.example.com", nil, nil, ["GET", "POST"]), false),
            (("api.example.com", nil, nil, ["GET"]), ("api.example.com", nil, nil, nil), false),
        ] as [((String, Int?, String?, Set<String>?), (String, Int?, String?, Set<String>?), Bool)]
    )
    func covers(
        earlier: (String, Int?, String?, Set<String>?), later: (String, Int?, String?, Set<String>?), shadowed: Bool
    ) throws {
        let first = try makeRule(index: 0, host: earlier.0, port: earlier.1, path: earlier.2, methods: earlier.3)
        let second = try makeRule(index: 1, host: later.0, port: later.1, path: later.2, methods: later.3)
        #expect(RuleShadowing.covers(first, second) == shadowed)
        let found = RuleShadowing.shadowed(in: [first, second])
        #expect(found.map(\.rule.index) == (shadowed ? [1] : []))
    }

    @Test("each shadowed rule names the first earlier rule that covers it")
    func namesFirstCoveringRule() throws {
        let rules = [
            try makeRule(index: 0, host: "*.example.com"),
            try makeRule(index: 1, host: "api.example.com"),
            try makeRule(index: 2, host: "api.example.com", path: "/v1/"),
            try makeRule(index: 3, host: "other.test"),
        ]
        let found = RuleShadowing.shadowed(in: rules)
        #expect(found.map(\.rule.index) == [1, 2])
        #expect(found.map(\.by.index) == [0, 0])
    }
}
