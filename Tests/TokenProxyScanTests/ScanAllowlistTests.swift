import Testing
import TokenProxyScan

/// The allowlist: fingerprints, path:line and globs suppress exactly the findings they name; bad lines are errors
/// naming file:line.
@Suite("scan allowlist")
struct ScanAllowlistTests {
    static func finding(_ path: String, line: Int, fingerprint: String? = "hmac-sha256:00112233445566ff") -> Finding {
        Finding(path: path, line: line, kind: .githubToken, preview: "ghp_…(40 chars)", fingerprint: fingerprint)
    }

    @Test("a fingerprint allows that value anywhere; path:line allows one line; a glob allows paths")
    func entries() throws {
        let allowlist = try ScanAllowlist(
            text: """
                # known false positives
                hmac-sha256:00112233445566FF   # the docs example

                ./docs/setup.md:12
                Tests/fixtures/**
                vendor/
                """,
            file: "allow"
        )
        #expect(allowlist.count == 4)
        #expect(allowlist.allows(Self.finding("anywhere/at/all.txt", line: 99)))
        let other = "hmac-sha256:ffffffffffffffff"
        #expect(allowlist.allows(Self.finding("docs/setup.md", line: 12, fingerprint: other)))
        #expect(!allowlist.allows(Self.finding("docs/setup.md", line: 13, fingerprint: other)))
        #expect(allowlist.allows(Self.finding("Tests/fixtures/deep/config.yaml", line: 1, fingerprint: other)))
        #expect(!allowlist.allows(Self.finding("Tests/other/config.yaml", line: 1, fingerprint: other)))
        #expect(allowlist.allows(Self.finding("vendor/lib/a.js", line: 3, fingerprint: nil)))
        #expect(!allowlist.allows(Self.finding("src/main.swift", line: 3, fingerprint: nil)))
    }

    @Test("a malformed entry is an error naming file:line")
    func malformed() {
        for (text, line) in [("ok/path\nhmac-sha256:xyz\n", 2), ("\n\nsrc/a.txt:0\n", 3), ("a?b\n", 1)] {
            let error = #expect(throws: ScanError.self) {
                try ScanAllowlist(text: text, file: "allow.txt")
            }
            #expect(error?.description.hasPrefix("allow.txt:\(line): ") == true, "\(String(describing: error))")
        }
    }

    @Test("a scan drops allowlisted findings and counts them")
    func scanUsesAllowlist() throws {
        let directory = try TemporaryDirectory()
        try directory.write("GITHUB_TOKEN=\(FakeTokens.github())\n", to: "keep.env")
        try directory.write("GITHUB_TOKEN=\(FakeTokens.github())\n", to: "fixtures/fake.env")
        let allowlist = try ScanAllowlist(text: "\(directory.path)/fixtures/*\n", file: "allow")
        let result = try SecretScanner(scanner: ContentScanner(), allowlist: allowlist).run(.files([directory.path]))
        #expect(result.findings.map(\.path) == [directory.path + "/keep.env"])
        #expect(result.allowed == 1)
        #expect(result.scanned == 2)
    }
}
