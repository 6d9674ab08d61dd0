import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
import TokenProxyCore

@testable import TokenProxyServer

@Suite("Client admission at the proxy head")
struct ClientAdmissionTests {
    static let key = "client-admission-test-key"

    static let access = ClientAccess(
        authenticator: ClientAuthenticator(
            clients: [
                ClientConfiguration(
                    name: "ci", key: .environment(variable: "K"), location: SourceLocation(file: "t.yaml", line: 1)
                )
            ],
            keys: ["ci": Secret(key)]
        )
    )

    static func head(_ proxyAuthorization: String?) -> HTTPRequestHead {
        var headers = HTTPHeaders([("host", "api.example.com:443")])
        if let proxyAuthorization { headers.add(name: "Proxy-Authorization", value: proxyAuthorization) }
        return HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: "api.example.com:443", headers: headers)
    }

    @Test("no key: 407 with a Basic and a Bearer challenge; a plain channel has no client certificate")
    func challenge() throws {
        let channel = EmbeddedChannel()
        let result = ClientAdmission.authenticate(Self.head(nil), channel: channel, access: Self.access)
        guard case .failure(let refusal) = result else {
            Issue.record("an unauthenticated head must be refused")
            return
        }
        #expect(refusal.status == .proxyAuthenticationRequired)
        #expect(refusal.headers.filter { $0.0 == "proxy-authenticate" }.map(\.1) == [
            "Basic realm=\"tokenproxy\"", "Bearer realm=\"tokenproxy\"",
        ])
        let head = LocalResponse(status: refusal.status, reason: refusal.reason, headers: refusal.headers)
            .head(version: .http1_1)
        #expect(head.headers["proxy-authenticate"].count == 2)
    }

    @Test("a Bearer key names the client, and records say NAME@address")
    func bearer() throws {
        let channel = EmbeddedChannel()
        let result = ClientAdmission.authenticate(
            Self.head("Bearer \(Self.key)"), channel: channel, access: Self.access
        )
        let client = try result.get()
        #expect(client?.name == "ci")
        #expect(ClientAdmission.label(client, address: "10.0.0.7:5000") == "ci@10.0.0.7:5000")
        #expect(ClientAdmission.label(nil, address: "10.0.0.7:5000") == "10.0.0.7:5000")
    }

    @Test("without clients every head is admitted, whatever it carries")
    func open() throws {
        let result = ClientAdmission.authenticate(
            Self.head("Bearer x"), channel: EmbeddedChannel(), access: ClientAccess()
        )
        #expect(try result.get() == nil)
    }

    @Test("a 429 verdict becomes a response with Retry-After; proceed becomes none")
    func verdicts() {
        #expect(ClientAdmission.refusal(.proceed) == nil)
        let refusal = ClientAdmission.refusal(.refuse(status: 429, reason: "rate limit", retryAfterSeconds: 7))
        #expect(refusal?.status == .tooManyRequests)
        #expect(refusal?.headers.map(\.0) == ["retry-after"])
        #expect(refusal?.headers.map(\.1) == ["7"])
        let forbidden = ClientAdmission.refusal(
            .refuse(status: 403, reason: "environment mismatch", retryAfterSeconds: nil)
        )
        #expect(forbidden?.status == .forbidden)
        #expect(forbidden?.headers.isEmpty == true)
    }
}
