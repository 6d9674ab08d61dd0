import Foundation
import Testing

/// Client identity by certificate on the TLS listener (`listen_tls:` with `client_ca:`): curl with an `https://`
/// proxy URL and openssl s_client, with valid, expired and untrusted client certificates minted per test.
@Suite("mTLS clients end to end", .serialized, .timeLimit(.minutes(2)))
struct MutualTLSEndToEndTests {
    static func configuration() -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        // The listener presents the test origin certificate (localhost, 127.0.0.1) and trusts the test CA for clients.
        configuration.extraYAML = """
            listen_tls:
              listen: 127.0.0.1:0
              cert: "{{dir}}/test-certs/origin-valid.pem"
              key: "{{dir}}/test-certs/origin-valid-key.pem"
              client_ca: "{{dir}}/test-ca.pem"
            clients:
              ci-runner:
                mtls: { subject: ci-runner }
            """
        return configuration
    }

    /// curl arguments for the TLS listener on `port`, presenting `pair` (or no certificate).
    static func tlsProxy(_ port: Int, fixture: ProxyFixture, pair: TestClientCertificates.Pair?) -> [String] {
        var arguments = ["--proxy", "https://127.0.0.1:\(port)", "--proxy-cacert", fixture.certificates.authorityPath]
        if let pair {
            arguments += ["--proxy-cert", pair.certificatePath, "--proxy-key", pair.privateKeyPath]
        }
        return arguments
    }

    @Test("curl: a valid client certificate names the client; none gets 407; expired and untrusted ones fail TLS")
    func curlClientCertificates() async throws {
        try await ProxyFixture.run("mtls-curl", configuration: Self.configuration()) { fixture in
            let port = try await fixture.tlsListenerPort()
            let certificates = try TestClientCertificates(
                commonName: "ci-runner", certificates: fixture.certificates, in: fixture.directory
            )
            let origin = try await fixture.startOrigin(.valid)
            let url = "https://localhost:\(origin.port)/mtls"

            let valid = try await fixture.clients.curl(
                url, arguments: Self.tlsProxy(port, fixture: fixture, pair: certificates.valid)
            )
            #expect(valid.run.exitCode == 0, fixture.explain(valid.run))
            #expect(valid.httpCode == 200)
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])
            let record = try await fixture.auditRecord("injected") { $0.decision == "injected" }
            fixture.check(record.client?.hasPrefix("ci-runner@127.0.0.1:") == true, "client: \(record.client ?? "-")")

            let none = try await fixture.clients.curl(url, arguments: Self.tlsProxy(port, fixture: fixture, pair: nil))
            #expect(none.transfers.first?.httpConnect == 407, fixture.explain(none.run))

            for (label, pair) in [("expired", certificates.expired), ("untrusted", certificates.untrusted)] {
                let refused = try await fixture.clients.curl(
                    url, arguments: Self.tlsProxy(port, fixture: fixture, pair: pair)
                )
                #expect(refused.run.exitCode != 0, "an \(label) client certificate must fail: \(refused.run)")
                #expect(refused.httpCode != 200, "an \(label) client certificate got a response")
            }
            #expect(origin.requests.count == 1, "only the valid certificate's request may reach the origin")
            let failures = await fixture.auditRecords { records in
                records.filter { $0.method == "TLS" }.count >= 2
            }
            let handshakes = failures.filter { $0.method == "TLS" }
            #expect(handshakes.count == 2, "TLS handshake records: \(fixture.describe(failures))")
            for handshake in handshakes {
                fixture.checkEqual(handshake.decision, "denied", "decision of a failed client handshake")
            }
        }
    }

    @Test("openssl s_client: a valid client certificate may send a proxy request; an expired one gets no answer")
    func opensslClientCertificates() async throws {
        var configuration = Self.configuration()
        configuration.rules = [ProxyConfiguration.Rule(host: "localhost", allowPlaintext: true)]
        try await ProxyFixture.run("mtls-s-client", configuration: configuration) { fixture in
            let port = try await fixture.tlsListenerPort()
            let certificates = try TestClientCertificates(
                commonName: "ci-runner", certificates: fixture.certificates, in: fixture.directory
            )
            let origin = try await fixture.startPlainOrigin()
            let request = try fixture.directory.write(
                "GET http://localhost:\(origin.port)/s-client HTTP/1.1\r\nHost: localhost:\(origin.port)\r\n"
                    + "Connection: close\r\n\r\n",
                to: "clients/s_client-mtls.request"
            )
            func sClient(_ pair: TestClientCertificates.Pair) async throws -> Clients.Run {
                try await fixture.clients.run(
                    "openssl",
                    [
                        "s_client", "-quiet", "-connect", "127.0.0.1:\(port)", "-CAfile",
                        fixture.certificates.authorityPath, "-verify_return_error", "-cert", pair.certificatePath,
                        "-key", pair.privateKeyPath,
                    ],
                    stdinPath: request, timeout: .seconds(15)
                )
            }
            let valid = try await sClient(certificates.valid)
            fixture.check(valid.stdout.hasPrefix("HTTP/1.1 200"), "s_client got: \(valid.stdout.prefix(300))")
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])
            let record = try await fixture.auditRecord("injected") { $0.decision == "injected" }
            fixture.check(record.client?.hasPrefix("ci-runner@") == true, "client: \(record.client ?? "-")")

            let expired = try await sClient(certificates.expired)
            fixture.check(
                !expired.stdout.contains("HTTP/1.1"), "an expired certificate got: \(expired.stdout.prefix(300))"
            )
            #expect(origin.requests.count == 1, "the expired certificate's request must not reach the origin")
            _ = try await fixture.auditRecord("failed client handshake") {
                $0.method == "TLS" && $0.decision == "denied"
            }
        }
    }
}
