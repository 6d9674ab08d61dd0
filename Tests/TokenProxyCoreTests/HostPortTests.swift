import Testing

@testable import TokenProxyCore

@Suite("HostPort")
struct HostPortTests {
    @Test("host:port and [v6]:port parse", arguments: [
        ("example.com:443", "example.com", 443),
        ("127.0.0.1:8080", "127.0.0.1", 8080),
        ("[::1]:443", "::1", 443),
        ("[2001:db8::1]:65535", "2001:db8::1", 65535),
        ("localhost:0", "localhost", 0),
        ("a:1", "a", 1),
    ])
    func parses(text: String, host: String, port: Int) throws {
        let parsed = try #require(HostPort(parsing: text))
        #expect(parsed.host == host)
        #expect(parsed.port == port)
    }

    @Test("a missing port takes the default when one is given", arguments: [
        ("example.com", "example.com", 443),
        ("[::1]", "::1", 443),
        ("example.com:8443", "example.com", 8443),
        ("[::1]:80", "::1", 80),
    ])
    func defaultPort(text: String, host: String, port: Int) throws {
        let parsed = try #require(HostPort(parsing: text, defaultPort: 443))
        #expect(parsed == HostPort(host: host, port: port))
    }

    @Test("a missing port without a default is refused", arguments: ["example.com", "[::1]", "127.0.0.1"])
    func missingPortRefused(text: String) {
        #expect(HostPort(parsing: text) == nil)
    }

    @Test("bad ports are refused", arguments: [
        "example.com:", "example.com:65536", "example.com:70000", "example.com:-1", "example.com:+80",
        "example.com:abc", "example.com:8o", "example.com: 80", "example.com:123456", "example.com:\u{0663}",
        "[::1]:", "[::1]:99999",
    ])
    func badPorts(text: String) {
        #expect(HostPort(parsing: text) == nil)
        #expect(HostPort(parsing: text, defaultPort: 443) == nil)
    }

    @Test("an unbracketed IPv6 literal is refused as ambiguous", arguments: [
        "::1", "::1:443", "2001:db8::1", "2001:db8::1:8080", "fe80::1",
    ])
    func unbracketedIPv6(text: String) {
        #expect(HostPort(parsing: text) == nil)
        #expect(HostPort(parsing: text, defaultPort: 443) == nil)
    }

    @Test("malformed brackets and empty hosts are refused", arguments: [
        "[::1", "[::1]443", "[::1]x:443", "[]:443", ":443", "", "[]",
    ])
    func malformed(text: String) {
        #expect(HostPort(parsing: text, defaultPort: 443) == nil)
    }

    @Test("the Substring initialiser agrees with the String one")
    func substring() {
        let text = "xx[::1]:8443"
        #expect(HostPort(parsing: text.dropFirst(2)) == HostPort(host: "::1", port: 8443))
    }

    @Test("description brackets IPv6 literals only", arguments: [
        (HostPort(host: "::1", port: 443), "[::1]:443"),
        (HostPort(host: "example.com", port: 80), "example.com:80"),
        (HostPort(host: "127.0.0.1", port: 8080), "127.0.0.1:8080"),
    ])
    func description(address: HostPort, expected: String) {
        #expect(address.description == expected)
        #expect(HostPort(parsing: expected) == address)
    }

    @Test("isIPv6Literal")
    func ipv6Literal() {
        #expect(HostPort(host: "::1", port: 1).isIPv6Literal)
        #expect(!HostPort(host: "127.0.0.1", port: 1).isIPv6Literal)
        #expect(!HostPort(host: "localhost", port: 1).isIPv6Literal)
    }

    @Test("loopback hosts", arguments: [
        "127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "localhost", "LOCALHOST.", "LocalHost", "foo.localhost",
        "a.b.LOCALHOST", "0177.0.0.1", "2130706433", "127.1", "0x7f.1", "[::1]",
    ])
    func loopback(host: String) {
        #expect(HostPort(host: host, port: 8080).isLoopback)
    }

    @Test("non-loopback hosts", arguments: [
        "10.0.0.1", "example.com", "0.0.0.0", "::", "128.0.0.1", "126.0.0.1", "192.168.1.1", "localhost.example.com",
        "notlocalhost", "127.0.0.1.example.com", "0277.0.0.1", "2147483648", "128.1", "::2",
    ])
    func notLoopback(host: String) {
        #expect(!HostPort(host: host, port: 8080).isLoopback)
    }

    @Test("a parsed [::1] listen address is loopback")
    func parsedIPv6Loopback() throws {
        #expect(try #require(HostPort(parsing: "[::1]:8080")).isLoopback)
    }
}
