import Testing

@testable import TokenProxyCore

@Suite("HostPattern")
struct HostPatternTests {
    @Test("an exact pattern matches its host, case-insensitively and with one trailing dot", arguments: [
        "api.github.com", "API.GITHUB.COM", "Api.GitHub.com", "api.github.com.",
    ])
    func exactMatches(candidate: String) throws {
        let pattern = try HostPattern("api.github.com")
        #expect(pattern.matches(candidate))
    }

    @Test("an exact pattern matches nothing else", arguments: [
        "github.com", "x.api.github.com", "api.github.com.evil.com", "api.github.co", "api-github.com",
        "evilapi.github.com", "api.github.com..", "", "[api.github.com",
    ])
    func exactRejects(candidate: String) throws {
        let pattern = try HostPattern("api.github.com")
        #expect(!pattern.matches(candidate))
    }

    @Test("a pattern written in upper case or with a trailing dot is normalised")
    func patternNormalised() throws {
        let pattern = try HostPattern("API.Example.COM.")
        #expect(pattern.description == "api.example.com")
        #expect(pattern.matches("api.example.com"))
        let wildcard = try HostPattern("*.Example.COM.")
        #expect(wildcard.description == "*.example.com")
        #expect(wildcard.matches("a.example.com"))
    }

    @Test("a wildcard matches one or more labels in front of its suffix", arguments: [
        "a.example.com", "a.b.example.com", "A.EXAMPLE.COM", "a.example.com.", "x-1.deep.er.example.com",
    ])
    func wildcardMatches(candidate: String) throws {
        let pattern = try HostPattern("*.example.com")
        #expect(pattern.matches(candidate))
    }

    @Test("a wildcard matches neither the bare suffix nor a name that merely ends in it", arguments: [
        "example.com", "example.com.", "badexample.com", "a.badexample.com", ".example.com", "example.com.evil.com",
        "a.example.co", "com",
    ])
    func wildcardRejects(candidate: String) throws {
        let pattern = try HostPattern("*.example.com")
        #expect(!pattern.matches(candidate))
    }

    @Test("an IPv4 literal matches itself only")
    func ipv4Literal() throws {
        let pattern = try HostPattern("127.0.0.1")
        #expect(pattern.matches("127.0.0.1"))
        #expect(!pattern.matches("127.0.0.2"))
        #expect(!pattern.matches("127.0.0.10"))
        #expect(!pattern.matches("localhost"))
    }

    @Test("an IPv6 literal matches with and without brackets", arguments: ["::1", "[::1]"])
    func ipv6Literal(written: String) throws {
        let pattern = try HostPattern(written)
        #expect(pattern.description == "::1")
        #expect(pattern.matches("::1"))
        #expect(pattern.matches("[::1]"))
        #expect(!pattern.matches("::2"))
        #expect(!pattern.matches("127.0.0.1"))
    }

    @Test("an IPv6 literal is compared case-insensitively")
    func ipv6CaseInsensitive() throws {
        let pattern = try HostPattern("2001:DB8::A")
        #expect(pattern.matches("[2001:db8::a]"))
    }

    @Test("dangerous or malformed patterns are refused", arguments: [
        "", "*", "*.", "*.com", "*.com.", "a.*.com", "*.*.example.com", "api*.example.com", "*example.com",
        "exa mple.com", "example..com", ".example.com", "exam/ple.com", "user@example.com", "ex\u{E4}mple.com",
        String(repeating: "a", count: 64) + ".com",
    ])
    func refused(text: String) {
        #expect(throws: HostPattern.Invalid.self) {
            try HostPattern(text)
        }
    }

    @Test("a colon that does not make an IPv6 literal is refused", arguments: [
        "api.github.com:443", "exa mple.com:443", "*.example.com:443", "host:name",
    ])
    func colonJunkRefused(text: String) {
        #expect(throws: HostPattern.Invalid.self) {
            try HostPattern(text)
        }
    }

    @Test("the refusal reasons name the problem")
    func refusalReasons() {
        let cases: [(String, String)] = [
            ("*", "would match every host"),
            ("*.com", "covers a whole top-level domain"),
            ("a.*.com", "may contain '*' only as its whole first label"),
            ("exa mple.com", "cannot appear in a host name"),
            ("example..com", "empty or over-long label"),
            ("", "empty"),
        ]
        for (text, reason) in cases {
            do {
                _ = try HostPattern(text)
                Issue.record("'\(text)' was accepted")
            } catch {
                #expect(error.description.contains(reason), "\(text): \(error.description)")
            }
        }
    }

    @Test("labels may use letters, digits, hyphens and underscores up to 63 characters")
    func validLabels() throws {
        let longest = String(repeating: "a", count: 63)
        #expect(try HostPattern("\(longest).example.com").matches("\(longest).example.com"))
        #expect(try HostPattern("_acme-challenge.example-1.com").matches("_ACME-challenge.example-1.com"))
        #expect(try HostPattern("*.co.uk").matches("bbc.co.uk"))
    }

    @Test("normalize lower-cases, strips brackets and one trailing dot", arguments: [
        ("API.Example.com.", "api.example.com"), ("[::1]", "::1"), ("[FE80::1]", "fe80::1"), ("a..", "a."),
        ("plain", "plain"), ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"), ("127.0.0.1.", "127.0.0.1"), ("[::FFFF:127.0.0.1]", "::ffff:127.0.0.1"),
        ("[fe80::1%25eth0]", "fe80::1"), ("fe80::1%eth0", "fe80::1"), ("0:0:0:0:0:0:0:1", "::1"),
        ("1e100.net", "1e100.net"), ("08.0.0.1", "08.0.0.1"), ("256.0.0.1", "256.0.0.1"),
    ])
    func normalize(input: String, expected: String) {
        #expect(HostPattern.normalize(input) == expected)
    }

    @Test("the allocation-free shortcut takes only names the full normalisation would leave unchanged")
    func plainNameShortcut() {
        let plain = ["api.github.com", "a-b.example", "_acme.example.com", "x.y.z", "1e100.net", "g"]
        let notPlain = [
            "API.github.com", "api.github.com.", "127.0.0.1", "0x7f.1", "abc.def", "ffff", "[::1]", "::1", "",
            "a b", "exämple.com", "2130706433",
        ]
        for host in plain {
            #expect(HostPattern.isPlainName(host), "\(host)")
            #expect(IPAddress(host) == nil && host.lowercased() == host && !host.hasSuffix("."))
        }
        for host in notPlain { #expect(!HostPattern.isPlainName(host), "\(host)") }
        // Every host of digits, dots, a-f and x (what IPv4 spellings are made of) goes the full way.
        var generator = SystemRandomNumberGenerator()
        let addressCharacters = Array("0123456789abcdefx.")
        for _ in 0..<2000 {
            let host = String((0..<Int.random(in: 1...12, using: &generator)).map { _ in
                addressCharacters.randomElement(using: &generator)!
            })
            #expect(!HostPattern.isPlainName(host), "\(host)")
        }
    }
}
