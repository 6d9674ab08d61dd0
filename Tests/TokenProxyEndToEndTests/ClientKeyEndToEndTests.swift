import Foundation
import Testing

/// Client identity by key (`clients:` with `key:`), environment silos, and who may listen where: real curl against
/// a real proxy process and real origins.
@Suite("client keys and environments end to end", .serialized, .timeLimit(.minutes(2)))
struct ClientKeyEndToEndTests {
    /// A client key made per test run; not a token, so it may be handed to curl on its command line.
    static func makeKey() -> String {
        "tpclientkey-" + UUID().uuidString.lowercased()
    }

    static func keyConfiguration(key: String) -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.environment["TP_CI_KEY"] = key
        // A non-loopback listener is allowed because clients must authenticate.
        configuration.serveArguments = ["--listen", "0.0.0.0:0"]
        configuration.extraYAML = """
            clients:
              ci:
                key: env:TP_CI_KEY
            """
        return configuration
    }

    @Test("curl: no key or a wrong key gets 407 and nothing is dialled; Basic and Bearer keys work")
    func keyAuthentication() async throws {
        let key = Self.makeKey()
        try await ProxyFixture.run("client-key", configuration: Self.keyConfiguration(key: key)) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let url = "https://localhost:\(origin.port)/keyed"

            let missing = try await fixture.clients.curl(url)
            #expect(missing.transfers.first?.httpConnect == 407, fixture.explain(missing.run))
            let wrong = try await fixture.clients.curl(url, arguments: ["--proxy-user", "ci:not-the-key"])
            #expect(wrong.transfers.first?.httpConnect == 407, fixture.explain(wrong.run))
            let wrongUser = try await fixture.clients.curl(url, arguments: ["--proxy-user", "other:\(key)"])
            #expect(wrongUser.transfers.first?.httpConnect == 407, fixture.explain(wrongUser.run))
            let wrongBearer = try await fixture.clients.curl(
                url, arguments: ["--proxy-header", "Proxy-Authorization: Bearer not-the-key"]
            )
            #expect(wrongBearer.transfers.first?.httpConnect == 407, fixture.explain(wrongBearer.run))
            #expect(origin.acceptedConnections == 0, "a refused CONNECT must not reach the origin")

            let basic = try await fixture.clients.curl(url, arguments: ["--proxy-user", "ci:\(key)"])
            #expect(basic.run.exitCode == 0, fixture.explain(basic.run))
            #expect(basic.httpCode == 200)
            let bearer = try await fixture.clients.curl(
                url, arguments: ["--proxy-header", "Proxy-Authorization: Bearer \(key)"]
            )
            #expect(bearer.run.exitCode == 0, fixture.explain(bearer.run))
            #expect(bearer.httpCode == 200)
            let requests = origin.requests
            try #require(requests.count == 2, "origin saw \(requests.count) requests, expected 2")
            for request in requests {
                fixture.expectInjected(request)
                fixture.expectAbsent("Proxy-Authorization", in: request)
            }

            let records = await fixture.auditRecords { records in
                records.filter { $0.status == 407 }.count >= 4 && records.filter { $0.status == 200 }.count >= 2
            }
            let refused = records.filter { $0.status == 407 }
            #expect(refused.count == 4, "407 records: \(fixture.describe(records))")
            for record in refused {
                fixture.checkEqual(record.decision, "denied", "decision of a 407")
                fixture.checkEqual(record.method, "CONNECT", "method of a 407")
                fixture.check(record.credential == nil, "a 407 names no credential")
            }
            let served = records.filter { $0.decision == "injected" }
            #expect(served.count == 2, "injected records: \(fixture.describe(records))")
            for record in served {
                fixture.check(
                    record.client?.hasPrefix("ci@127.0.0.1:") == true, "client field: \(record.client ?? "-")"
                )
            }
            fixture.expectNotWritten(key, what: "the client key")
            fixture.expectNotWritten("not-the-key", what: "a wrong client key")
        }
    }

    @Test("curl: a plain http:// request without a key gets 407 with both challenges; with one it is forwarded")
    func forwardProxyAuthentication() async throws {
        let key = Self.makeKey()
        try await ProxyFixture.run("client-key-forward", configuration: Self.keyConfiguration(key: key)) { fixture in
            let origin = try await fixture.startPlainOrigin()
            let url = "http://localhost:\(origin.port)/plain"
            let missing = try await fixture.clients.curl(url, arguments: ["--include"])
            #expect(missing.httpCode == 407, fixture.explain(missing.run))
            let head = missing.body.lowercased()
            fixture.check(
                head.contains("proxy-authenticate: basic realm=\"tokenproxy\""), "no Basic challenge in: \(head)"
            )
            fixture.check(
                head.contains("proxy-authenticate: bearer realm=\"tokenproxy\""), "no Bearer challenge in: \(head)"
            )
            #expect(origin.acceptedConnections == 0, "an unauthenticated request must not reach the origin")

            let keyed = try await fixture.clients.curl(url, arguments: ["--proxy-user", "ci:\(key)"])
            #expect(keyed.httpCode == 200, fixture.explain(keyed.run))
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectAbsent("Proxy-Authorization", in: requests[0])
            let record = try await fixture.auditRecord("forwarded") { $0.status == 200 }
            fixture.check(record.client?.hasPrefix("ci@") == true, "client field: \(record.client ?? "-")")
            fixture.expectNotWritten(key, what: "the client key")
        }
    }

    @Test("curl: a prod credential is never injected for a staging client (403 environment mismatch, audited)")
    func environmentSilos() async throws {
        let stagingKey = Self.makeKey()
        let prodKey = Self.makeKey()
        let listKey = Self.makeKey()
        var configuration = ProxyConfiguration()
        configuration.credentialSettingsYAML = """
                environment: prod
            """
        configuration.environment = ["TP_STAGING_KEY": stagingKey, "TP_PROD_KEY": prodKey, "TP_LIST_KEY": listKey]
        configuration.extraYAML = """
            clients:
              staging-app: { key: env:TP_STAGING_KEY, environment: staging }
              prod-app: { key: env:TP_PROD_KEY, environment: prod }
              prod-other: { key: env:TP_LIST_KEY, environment: prod, credentials: [] }
            """
        try await ProxyFixture.run("client-environments", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let url = "https://localhost:\(origin.port)/siloed"

            let staging = try await fixture.clients.curl(url, arguments: ["--proxy-user", "staging-app:\(stagingKey)"])
            #expect(staging.httpCode == 403, fixture.explain(staging.run))
            fixture.check(staging.body.contains("environment mismatch"), "403 body: \(staging.body.prefix(300))")
            let unlisted = try await fixture.clients.curl(url, arguments: ["--proxy-user", "prod-other:\(listKey)"])
            #expect(unlisted.httpCode == 403, fixture.explain(unlisted.run))
            fixture.check(unlisted.body.contains("may not use credential"), "403 body: \(unlisted.body.prefix(300))")
            #expect(origin.requests.isEmpty, "a refused request must not reach the origin")

            let prod = try await fixture.clients.curl(url, arguments: ["--proxy-user", "prod-app:\(prodKey)"])
            #expect(prod.httpCode == 200, fixture.explain(prod.run))
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])

            let mismatch = try await fixture.auditRecord("environment mismatch") {
                $0.reason?.hasPrefix("environment mismatch") == true
            }
            #expect(mismatch.status == 403)
            fixture.checkEqual(mismatch.decision, "denied", "decision")
            fixture.check(mismatch.credential == nil, "a refused request names no credential as used")
            fixture.check(mismatch.client?.hasPrefix("staging-app@") == true, "client: \(mismatch.client ?? "-")")
            let injected = try await fixture.auditRecord("injected") { $0.decision == "injected" }
            fixture.check(injected.client?.hasPrefix("prod-app@") == true, "client: \(injected.client ?? "-")")
        }
    }

    @Test("serve refuses a non-loopback listen without clients:, saying why")
    func openListenerRefused() async throws {
        var configuration = ProxyConfiguration()
        configuration.serveArguments = ["--listen", "0.0.0.0:0"]
        let failure = try await ProxyFixture.startupFailure("open-listen-refused", configuration: configuration)
        #expect(failure.status == 1)
        #expect(failure.output.contains("refusing to listen on 0.0.0.0:0 (--listen)"), "output: \(failure.output)")
        #expect(failure.output.contains("no clients: are configured"), "output: \(failure.output)")
        #expect(failure.output.contains("--insecure-open"), "output: \(failure.output)")
    }

    @Test("serve --insecure-open listens on a non-loopback address without clients:")
    func insecureOpenListener() async throws {
        var configuration = ProxyConfiguration()
        configuration.serveArguments = ["--listen", "0.0.0.0:0", "--insecure-open"]
        try await ProxyFixture.run("open-listen-insecure", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl("https://localhost:\(origin.port)/open")
            #expect(result.httpCode == 200, fixture.explain(result.run))
            let output = (try? String(contentsOfFile: fixture.proxy.stdoutPath, encoding: .utf8)) ?? ""
            #expect(output.contains("tokenproxy listening on 0.0.0.0:"), "the proxy should listen on 0.0.0.0")
        }
    }
}
