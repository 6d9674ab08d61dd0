import Foundation
import Testing

@testable import TokenProxyCore

@Suite("client authenticator")
struct ClientAuthenticatorTests {
    static let location = ConfigLocation(file: "test.yaml", line: 1)
    static let key = makeCanary()
    static let otherKey = makeCanary()

    static let authenticator = ClientAuthenticator(
        clients: [
            ClientConfiguration(name: "ci", key: .environment(variable: "CI_KEY"), location: location),
            ClientConfiguration(name: "batch", key: .environment(variable: "BATCH_KEY"), location: location),
            ClientConfiguration(
                name: "payments", certificate: .init(alternativeName: "spiffe://prod/payments"), location: location
            ),
            ClientConfiguration(name: "deployer", certificate: .init(subject: "ci-deployer"), location: location),
        ],
        keys: ["ci": Secret(key), "batch": Secret(otherKey)]
    )

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    static func clientName(_ outcome: ClientAuthenticator.Outcome) -> String? {
        if case .client(let client) = outcome { return client.name }
        return nil
    }

    static func refusal(_ outcome: ClientAuthenticator.Outcome) -> String? {
        if case .refused(let reason) = outcome { return reason }
        return nil
    }

    static func authenticate(_ headers: [String], certificate: CertificateNames? = nil) -> ClientAuthenticator.Outcome {
        authenticator.authenticate(proxyAuthorization: headers, certificate: certificate)
    }

    @Test("Basic with the client's name and key, and Bearer with the key, name the client")
    func keys() {
        #expect(Self.clientName(Self.authenticate([Self.basic("ci", Self.key)])) == "ci")
        #expect(Self.clientName(Self.authenticate(["Bearer \(Self.otherKey)"])) == "batch")
        #expect(Self.clientName(Self.authenticate(["bearer  \(Self.key)"])) == "ci")
    }

    @Test("a missing, wrong, mismatched or malformed key is refused without echoing what was sent", arguments: [
        [], ["Basic " + Data("ci:wrong-key".utf8).base64EncodedString()], ["Bearer wrong-key"], ["Basic !!!"],
        ["Digest username=ci"], ["Bearer a", "Bearer b"],
    ])
    func refused(headers: [String]) {
        let reason = Self.refusal(Self.authenticate(headers))
        #expect(reason != nil)
        #expect(reason?.contains("wrong-key") == false)
    }

    @Test("another client's key under this client's name is refused")
    func keyOfAnotherClient() {
        let reason = Self.refusal(Self.authenticate([Self.basic("ci", Self.otherKey)]))
        #expect(reason == "proxy authentication failed: wrong client name or key")
        #expect(reason?.contains(Self.otherKey) == false)
    }

    @Test("a verified certificate names the client by SAN or CN; one naming no client is refused")
    func certificates() {
        let payments = CertificateNames(commonNames: ["api"], alternativeNames: ["spiffe://prod/payments"])
        let deployer = CertificateNames(commonNames: ["ci-deployer"], alternativeNames: [])
        let stranger = CertificateNames(commonNames: ["stranger"], alternativeNames: ["spiffe://prod/other"])
        #expect(Self.clientName(Self.authenticate([], certificate: payments)) == "payments")
        #expect(Self.clientName(Self.authenticate([], certificate: deployer)) == "deployer")
        let reason = Self.refusal(Self.authenticate([], certificate: stranger))
        #expect(reason?.contains("CN=stranger") == true)
    }

    @Test("without clients the proxy is open, whatever is sent")
    func open() {
        let open = ClientAuthenticator(clients: [], keys: [:])
        #expect(!open.isRequired)
        guard case .open = open.authenticate(proxyAuthorization: ["Bearer x"], certificate: nil) else {
            Issue.record("expected .open")
            return
        }
    }

    @Test("digests compare equal only when every byte is equal")
    func constantTimeEqual() {
        #expect(ClientAuthenticator.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!ClientAuthenticator.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!ClientAuthenticator.constantTimeEqual([1, 2, 3], [0, 2, 3]))
        #expect(!ClientAuthenticator.constantTimeEqual([1, 2, 3], [1, 2]))
    }

    @Test("keys are read through the secret resolver; a missing one names the client and its line")
    func readKeys() throws {
        let client = ClientConfiguration(
            name: "ci", key: .environment(variable: "TP_TEST_CLIENT_KEY"), location: Self.location,
            keyLocation: ConfigLocation(file: "test.yaml", line: 7)
        )
        let keys = try ClientAuthenticator.readKeys(
            of: [client], resolver: SecretResolver(environment: ["TP_TEST_CLIENT_KEY": Self.key])
        )
        #expect(secret(keys["ci"], equals: Self.key))
        do {
            _ = try ClientAuthenticator.readKeys(of: [client], resolver: SecretResolver(environment: [:]))
            Issue.record("a missing key source must be an error")
        } catch {
            let message = error.description
            #expect(message.hasPrefix("test.yaml:7: "))
            #expect(message.contains("clients.ci.key"))
            #expect(message.contains("TP_TEST_CLIENT_KEY is not set"))
        }
    }
}
