import NIOHTTP1
import Testing
import TokenProxyCore

@testable import TokenProxyServer

@Suite("Request targets")
struct RequestTargetTests {
    private let authority = HostPort(host: "api.example.com", port: 443)

    private func head(_ uri: String, host: [String]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders(host.map { ("Host", $0) }))
    }

    @Test("an origin-form request with the CONNECT host is accepted", arguments: [
        "api.example.com", "API.Example.com", "api.example.com.", "api.example.com:443",
    ])
    func matchingHost(hostHeader: String) throws {
        let target = try RequestTarget.intercepted(
            head("/v1/items?x=1", host: [hostHeader]), authority: authority, serverNameMismatch: nil
        )
        #expect(target.endpoint == UpstreamEndpoint(host: "api.example.com", port: 443, usesTLS: true))
        #expect(target.originForm == "/v1/items?x=1")
        #expect(target.path == "/v1/items")
    }

    @Test("a Host naming another host or port is misdirected", arguments: [
        "evil.example.com", "api.example.com:8443", "api.example.com.evil.com",
    ])
    func mismatchedHost(hostHeader: String) {
        #expect {
            try RequestTarget.intercepted(head("/", host: [hostHeader]), authority: authority, serverNameMismatch: nil)
        } throws: { error in
            (error as? RequestTarget.Refusal)?.status == .misdirectedRequest
        }
    }

    @Test("zero or two Host headers are a bad request")
    func hostCount() {
        for hosts in [[], ["api.example.com", "api.example.com"]] {
            #expect {
                try RequestTarget.intercepted(head("/", host: hosts), authority: authority, serverNameMismatch: nil)
            } throws: { error in
                (error as? RequestTarget.Refusal)?.status == .badRequest
            }
        }
    }

    @Test("a TLS server name that differed from the CONNECT host refuses every request")
    func serverNameMismatch() {
        #expect {
            try RequestTarget.intercepted(
                head("/", host: ["api.example.com"]), authority: authority, serverNameMismatch: "other.example.com"
            )
        } throws: { error in
            (error as? RequestTarget.Refusal)?.status == .misdirectedRequest
        }
    }

    @Test("an absolute https URL inside the tunnel must name the CONNECT host")
    func absoluteInsideTunnel() throws {
        let target = try RequestTarget.intercepted(
            head("https://api.example.com/a?b", host: ["api.example.com"]), authority: authority,
            serverNameMismatch: nil
        )
        #expect(target.originForm == "/a?b")
        #expect {
            try RequestTarget.intercepted(
                head("https://evil.example.com/a", host: ["api.example.com"]), authority: authority,
                serverNameMismatch: nil
            )
        } throws: { error in
            (error as? RequestTarget.Refusal)?.status == .misdirectedRequest
        }
    }

    @Test("absolute-form http requests are rewritten to origin form with Host from the URL")
    func forwardProxy() throws {
        let target = try RequestTarget.forwardProxy(head("http://Example.com:8080/p?q=1#frag", host: ["ignored"]))
        #expect(target.endpoint == UpstreamEndpoint(host: "example.com", port: 8080, usesTLS: false))
        #expect(target.host == "example.com")
        #expect(target.originForm == "/p?q=1")
        #expect(target.hostHeader == "Example.com:8080")
        let bare = try RequestTarget.forwardProxy(head("http://example.com", host: []))
        #expect(bare.originForm == "/")
        #expect(bare.port == 80)
    }

    @Test("forward-proxy requests that are not absolute http URLs are refused", arguments: [
        "/relative", "https://example.com/", "ftp://example.com/", "http://:80/", "http://user@/",
    ])
    func forwardProxyRefusals(uri: String) {
        #expect(throws: RequestTarget.Refusal.self) {
            try RequestTarget.forwardProxy(head(uri, host: []))
        }
    }

    @Test("user info and odd host spellings in absolute-form URLs name the host they reach", arguments: [
        ("http://user:pass@example.com/", "example.com", 80),
        ("http://api.example.com@Evil.Example.:8080/x", "evil.example", 8080),
        ("http://0177.0.0.1/", "127.0.0.1", 80),
        ("http://2130706433:81/", "127.0.0.1", 81),
        ("http://[::FFFF:127.0.0.1]/", "::ffff:127.0.0.1", 80),
    ])
    func forwardProxyNormalisation(uri: String, host: String, port: Int) throws {
        let target = try RequestTarget.forwardProxy(head(uri, host: []))
        #expect(target.host == host)
        #expect(target.endpoint.host == host)
        #expect(target.port == port)
        #expect(!(target.hostHeader ?? "").contains("@"))
    }
}
