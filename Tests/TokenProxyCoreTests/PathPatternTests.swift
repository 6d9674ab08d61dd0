import Testing
import TokenProxyCore

@Suite("Path patterns")
struct PathPatternTests {
    @Test("a pattern without * is a prefix", arguments: [
        ("/v1/", "/v1/items", true), ("/v1/", "/v1/", true), ("/v1/", "/v2/items", false), ("/v1", "/v10", true),
    ])
    func prefix(pattern: String, path: String, expected: Bool) throws {
        #expect(try PathPattern(pattern).matches(path) == expected)
    }

    @Test("* matches within one segment, ** across segments, and globs match the whole path", arguments: [
        ("/repos/*/issues", "/repos/octo/issues", true),
        ("/repos/*/issues", "/repos/octo/cat/issues", false),
        ("/repos/*/issues", "/repos/octo/issues/1", false),
        ("/v1/**", "/v1/a/b/c", true),
        ("/v1/**/objects", "/v1/a/b/objects", true),
        ("/v1/**/objects", "/v1/a/b/other", false),
        ("/files/*.json", "/files/a.json", true),
        ("/files/*.json", "/files/a/b.json", false),
    ])
    func globs(pattern: String, path: String, expected: Bool) throws {
        #expect(try PathPattern(pattern).matches(path) == expected)
    }

    @Test("dot segments never match, however they are spelled", arguments: [
        "/v1/../admin", "/v1/%2e%2e/admin", "/v1/%2E%2E/admin", "/v1/./x", "/v1/..%2fadmin", "/v1/..\\admin",
    ])
    func dotSegments(path: String) throws {
        #expect(try !PathPattern("/v1/").matches(path))
        #expect(try !PathPattern("/v1/**").matches(path))
    }

    @Test("bad patterns are refused", arguments: ["v1/", "/v1?x=1", "/a/***", "/*/*/*/*/*/*/*/*/*"])
    func refused(pattern: String) {
        #expect(throws: PathPattern.Invalid.self) { try PathPattern(pattern) }
    }
}
