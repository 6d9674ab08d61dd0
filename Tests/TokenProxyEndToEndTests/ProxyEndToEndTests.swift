import Foundation
import Testing

/// End-to-end tests of the `tokenproxy` binary with real clients (curl, Python requests, openssl) and real
/// origins on 127.0.0.1.
///
/// Each test starts its own proxy, with a fresh CA and a fresh canary credential, and ends by checking that the
/// canary appears in no output or file. Serialized because the machine has two cores and each test already runs
/// three processes at once; in parallel, startup and TLS timings would be what is tested.
///
/// `#expect` is used directly only on numbers and booleans. Anything textual that the proxy or origin produced
/// goes through `fixture.check`/`checkEqual`, which redact the canary: `#expect` prints the values of its
/// subexpressions on failure, and a proxy bug must not turn a failure message into a leak.
@Suite("tokenproxy end to end", .serialized, .timeLimit(.minutes(1)))
struct ProxyEndToEndTests {
    /// A client-sent credential the proxy must replace, never forward beside its own.
    static let clientAuthorization = "Authorization: Bearer client-value"
    /// A `Proxy-Authorization` sent inside the tunnel, addressed to nobody: it must not reach the origin.
    static let innerProxyAuthorization = "Proxy-Authorization: Basic ZTJlOmlubmVy"
    /// Credentials for the proxy itself (`Proxy-Authorization` on CONNECT or on an absolute-form request).
    static let proxyUser = ["--proxy-user", "e2e-user:e2e-proxy-password"]

    // MARK: Interception and injection

    @Test("curl: an intercepted request gets the credential, replacing the client's, without hop-by-hop headers")
    func curlGetsCredentialInjected() async throws {
        try await ProxyFixture.run("curl-inject") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/v1/items?secret=abc",
                // HTTP/1.1: over HTTP/2 curl itself drops the Connection header these hop-by-hop checks rely on.
                arguments: Self.proxyUser + [
                    "--http1.1",
                    "--header", Self.clientAuthorization,
                    "--header", Self.innerProxyAuthorization,
                    "--header", "Proxy-Connection: keep-alive",
                    "--header", "Connection: keep-alive, X-E2E-Hop",
                    "--header", "X-E2E-Hop: listed-in-connection",
                    "--header", "X-E2E-End-To-End: kept",
                ]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.transfers.first?.httpConnect == 200)
            #expect(result.httpCode == 200)
            fixture.check(result.body.hasPrefix(TestOrigin.greeting), "unexpected body: \(result.body.prefix(300))")

            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            let request = requests[0]
            fixture.checkEqual(request.method, "GET", "method")
            fixture.checkEqual(request.uri, "/v1/items?secret=abc", "request target")
            fixture.checkEqual(request.values(of: "Host"), ["localhost:\(origin.port)"], "Host")
            fixture.expectInjected(request)
            fixture.expectAbsent("Proxy-Authorization", in: request)
            fixture.expectAbsent("Proxy-Connection", in: request)
            fixture.expectAbsent("X-E2E-Hop", in: request)
            fixture.checkEqual(request.values(of: "X-E2E-End-To-End"), ["kept"], "an end-to-end header")

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            fixture.checkEqual(record.method, "GET", "audit method")
            fixture.checkEqual(record.host, "localhost", "audit host")
            #expect(record.port == origin.port)
            fixture.checkEqual(record.path, "/v1/items", "audit path")
            #expect(record.status == 200)
            #expect(record.rule == 0)
            fixture.checkEqual(record.credential, ProxyConfiguration.credentialName, "audit credential")
        }
    }

    @Test("Python requests: an intercepted request gets the credential, replacing the client's")
    func pythonRequestsGetsCredentialInjected() async throws {
        try await ProxyFixture.run("python-inject") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.pythonRequests(
                "https://localhost:\(origin.port)/python/path",
                headers: [Self.clientAuthorization, Self.innerProxyAuthorization]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.status == 200)
            fixture.check(result.body.hasPrefix(TestOrigin.greeting), "unexpected body: \(result.body.prefix(300))")

            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])
            fixture.expectAbsent("Proxy-Authorization", in: requests[0])
        }
    }

    // MARK: Tunnel

    @Test("a host without a rule is tunnelled: the client verifies the origin's own certificate, nothing injected")
    func hostWithoutRuleIsTunnelled() async throws {
        try await ProxyFixture.run("tunnel") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let url = "https://127.0.0.1:\(origin.port)/tunnelled?x=1"

            let result = try await fixture.clients.curl(url)
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.transfers.first?.httpConnect == 200)
            #expect(result.httpCode == 200)
            fixture.check(result.body.hasPrefix(TestOrigin.greeting), "unexpected body: \(result.body.prefix(300))")
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectAbsent("Authorization", in: requests[0])
            fixture.expectNotInjected(requests[0])

            // Trusting only the proxy's CA must fail: the certificate curl saw was the origin's, not a minted leaf.
            let proxyCAOnly = try await fixture.clients.curl(url, caBundle: fixture.proxy.caCertificatePath)
            #expect(proxyCAOnly.transfers.first?.httpConnect == 200, fixture.explain(proxyCAOnly.run))
            #expect(
                proxyCAOnly.run.exitCode == 60,
                "expected curl's certificate error (60) trusting only the proxy CA; \(fixture.explain(proxyCAOnly.run))"
            )

            // The converse for the intercepted host: trusting only the test CA fails, because the proxy's leaf
            // (signed by its own CA) is what the client sees there.
            let testCAOnly = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/",
                caBundle: fixture.certificates.authorityPath
            )
            #expect(
                testCAOnly.run.exitCode == 60,
                """
                expected curl's certificate error (60) for an intercepted host trusting only the test CA; \
                \(fixture.explain(testCAOnly.run))
                """
            )
            #expect(origin.requests.count == 1, "a request reached the origin over a connection that failed TLS")

            let records = await fixture.auditRecords { records in
                records.contains { $0.decision == "tunnel" && $0.host == "127.0.0.1" }
            }
            let tunnels = records.filter { $0.decision == "tunnel" }
            try #require(tunnels.count > 0, Comment(rawValue: "no 'tunnel' record: \(fixture.describe(records))"))
            for record in tunnels {
                fixture.checkEqual(record.host, "127.0.0.1", "tunnel host in \(record)")
                fixture.checkEqual(record.port, origin.port, "tunnel port in \(record)")
                fixture.checkEqual(record.credential, nil, "tunnel credential in \(record)")
                fixture.checkEqual(record.rule, nil, "tunnel rule in \(record)")
            }
        }
    }

    // MARK: Upstream failures

    @Test(
        "an invalid upstream certificate gets 502 and nothing reaches the origin",
        arguments: [TestCertificates.Kind.expired, .selfSigned, .wrongHost]
    )
    func invalidUpstreamCertificateIsRefused(kind: TestCertificates.Kind) async throws {
        try await ProxyFixture.run("bad-cert-\(kind)") { fixture in
            let origin = try await fixture.startOrigin(kind)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/v1/items",
                arguments: ["--header", Self.clientAuthorization]
            )
            #expect(result.transfers.first?.httpConnect == 200, fixture.explain(result.run))
            #expect(result.httpCode == 502, fixture.explain(result.run))
            let reason = result.body.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(reason.count > 0, "the 502 carries no reason in its body")
            #expect(origin.requests.count == 0, "a request reached an origin whose certificate is \(kind)")
            // The proxy did reach the origin: the 502 is the certificate's fault, not a connection failure.
            #expect(origin.acceptedConnections >= 1, "the proxy never connected to the origin")

            let record = try await fixture.auditRecord("502") { $0.status == 502 }
            fixture.checkEqual(record.decision, "error", "decision in \(record)")
            fixture.checkEqual(record.host, "localhost", "host in \(record)")
            fixture.checkEqual(record.port, origin.port, "port in \(record)")
            #expect(record.reason != nil, "an error record without a reason")
        }
    }

    @Test("an unreachable intercepted host gets 502")
    func unreachableInterceptedHostGets502() async throws {
        try await ProxyFixture.run("unreachable-intercept") { fixture in
            let port = try await TestOrigin.closedPort()
            let result = try await fixture.clients.curl("https://localhost:\(port)/v1/items")
            #expect(result.transfers.first?.httpConnect == 200, fixture.explain(result.run))
            #expect(result.httpCode == 502, fixture.explain(result.run))

            let record = try await fixture.auditRecord("port \(port)") { $0.port == port }
            fixture.checkEqual(record.decision, "error", "decision in \(record)")
            #expect(record.status == 502)
        }
    }

    @Test("a tunnel to an unreachable host fails its CONNECT with 502")
    func unreachableTunnelTargetFailsConnect() async throws {
        try await ProxyFixture.run("unreachable-tunnel") { fixture in
            let port = try await TestOrigin.closedPort()
            let result = try await fixture.clients.curl("https://127.0.0.1:\(port)/")
            #expect(result.run.exitCode != 0, "curl succeeded through a tunnel to a closed port")
            #expect(result.run.exitCode != nil, fixture.explain(result.run))
            #expect(result.transfers.first?.httpConnect == 502, fixture.explain(result.run))

            let record = try await fixture.auditRecord("port \(port)") { $0.port == port }
            fixture.checkEqual(record.decision, "error", "decision in \(record)")
            #expect(record.status == 502)
        }
    }

    // MARK: Aiming the credential elsewhere

    @Test("a Host header that differs from the CONNECT host gets 421 and nothing is forwarded")
    func hostMismatchGets421() async throws {
        try await ProxyFixture.run("host-mismatch") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/v1/items",
                arguments: ["--header", "Host: evil.example.test:\(origin.port)"]
            )
            #expect(result.transfers.first?.httpConnect == 200, fixture.explain(result.run))
            #expect(result.httpCode == 421, fixture.explain(result.run))
            #expect(origin.requests.count == 0, "a request with a mismatched Host reached the origin")

            let record = try await fixture.auditRecord("421") { $0.status == 421 }
            fixture.checkEqual(record.decision, "denied", "decision in \(record)")
            fixture.checkEqual(record.credential, nil, "credential in \(record)")
        }
    }

    @Test("a TLS SNI that differs from the CONNECT host gets 421 on every request and nothing is forwarded")
    func sniMismatchGets421() async throws {
        try await ProxyFixture.run("sni-mismatch") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let run = try await fixture.clients.opensslClient(
                connect: "localhost",
                port: origin.port,
                serverName: "other.example.test",
                // The handshake completes with a leaf for the CONNECT host, not for the SNI.
                verifyHostname: "localhost",
                request: "GET / HTTP/1.1\r\nHost: localhost:\(origin.port)\r\nConnection: close\r\n\r\n"
            )
            let statusLine = run.stdout.split(separator: "\r\n", omittingEmptySubsequences: false).first ?? ""
            fixture.check(statusLine.contains(" 421"), "status line: '\(statusLine)'; \(fixture.explain(run))")
            let timedOut = run.timedOut
            #expect(!timedOut, "the proxy kept the connection open after answering 'Connection: close'")
            #expect(origin.requests.count == 0, "a request on a connection with a mismatched SNI reached the origin")

            let record = try await fixture.auditRecord("421") { $0.status == 421 }
            fixture.checkEqual(record.decision, "denied", "decision in \(record)")
            fixture.checkEqual(record.credential, nil, "credential in \(record)")
        }
    }

    // MARK: Plain HTTP

    @Test("plain http:// through the proxy is forwarded without the credential by default")
    func plainHTTPIsForwardedWithoutInjection() async throws {
        try await ProxyFixture.run("plain-forward") { fixture in
            let origin = try await fixture.startPlainOrigin()
            let result = try await fixture.clients.curl(
                "http://localhost:\(origin.port)/plain/path?secret=abc",
                arguments: Self.proxyUser
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)
            fixture.check(result.body.hasPrefix(TestOrigin.greeting), "unexpected body: \(result.body.prefix(300))")

            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            // Origin-form towards the origin: the absolute form is for proxies only.
            fixture.checkEqual(requests[0].uri, "/plain/path?secret=abc", "request target")
            fixture.expectAbsent("Authorization", in: requests[0])
            fixture.expectAbsent("Proxy-Authorization", in: requests[0])
            // curl sends `Proxy-Connection: Keep-Alive` to an HTTP proxy; it is for the proxy alone.
            fixture.expectAbsent("Proxy-Connection", in: requests[0])
            fixture.expectNotInjected(requests[0])

            let record = try await fixture.auditRecord("'forward'") { $0.decision == "forward" }
            fixture.checkEqual(record.host, "localhost", "audit host")
            #expect(record.port == origin.port)
            fixture.checkEqual(record.path, "/plain/path", "audit path")
            #expect(record.status == 200)
            fixture.checkEqual(record.credential, nil, "audit credential")
        }
    }

    @Test("plain http:// gets the credential when the rule says allow_plaintext")
    func plainHTTPIsInjectedWhenAllowed() async throws {
        var configuration = ProxyConfiguration()
        configuration.rules = [ProxyConfiguration.Rule(host: "localhost", allowPlaintext: true)]
        try await ProxyFixture.run("plain-inject", configuration: configuration) { fixture in
            let origin = try await fixture.startPlainOrigin()
            let result = try await fixture.clients.curl(
                "http://localhost:\(origin.port)/plain/injected",
                arguments: Self.proxyUser + ["--header", Self.clientAuthorization]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])
            fixture.expectAbsent("Proxy-Authorization", in: requests[0])

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            fixture.checkEqual(record.path, "/plain/injected", "audit path")
            fixture.checkEqual(record.credential, ProxyConfiguration.credentialName, "audit credential")
        }
    }

    // MARK: Bodies and connections

    @Test("a chunked upload of about 1 MiB arrives complete")
    func chunkedUploadArrivesComplete() async throws {
        try await ProxyFixture.run("chunked") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            // An odd size, so that an off-by-one in chunk framing cannot hide behind a round number.
            let size = 1_048_576 + 4_099
            var generator = SystemRandomNumberGenerator()
            let payload = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let payloadPath = try fixture.directory.write(payload, to: "upload.bin")

            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/upload",
                arguments: [
                    "--header", "Transfer-Encoding: chunked",
                    "--header", "Content-Type: application/octet-stream",
                    "--data-binary", "@\(payloadPath)",
                ]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)
            fixture.check(
                result.body.contains("received \(size) bytes"),
                "origin answered: \(result.body.prefix(300))"
            )

            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.checkEqual(requests[0].method, "POST", "method")
            let (isComplete, bodyBytes) = (requests[0].isComplete, requests[0].bodyBytes)
            #expect(isComplete, "the origin never saw the end of the upload")
            #expect(bodyBytes == size)
            fixture.expectInjected(requests[0])
        }
    }

    @Test("two requests on one kept-alive client connection both get the credential")
    func keepAliveRequestsAreAllInjected() async throws {
        try await ProxyFixture.run("keep-alive") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl([
                "https://localhost:\(origin.port)/first",
                "https://localhost:\(origin.port)/second",
            ])
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.transfers.map(\.httpCode) == [200, 200])
            // curl reports 0 new connections for a transfer that reused the previous one.
            #expect(result.transfers.last?.newConnections == 0, "curl did not reuse its connection to the proxy")

            let requests = origin.requests
            try #require(requests.count == 2, "origin saw \(requests.count) requests, expected 2")
            fixture.checkEqual(requests.map(\.uri), ["/first", "/second"], "request targets")
            for request in requests {
                fixture.expectInjected(request)
            }

            let records = await fixture.auditRecords { $0.filter { $0.decision == "injected" }.count >= 2 }
            let paths = records.filter { $0.decision == "injected" }.compactMap(\.path)
            fixture.checkEqual(paths.sorted(), ["/first", "/second"], "paths of 'injected' records")
        }
    }

    // MARK: Audit log

    @Test("the audit log has one complete record per request, with the right decision and no query string")
    func auditLogRecordsEveryRequest() async throws {
        try await ProxyFixture.run("audit") { fixture in
            let valid = try await fixture.startOrigin(.valid)
            let plain = try await fixture.startPlainOrigin()
            let expired = try await fixture.startOrigin(.expired)
            let started = Date()

            let injected = try await fixture.clients.curl("https://localhost:\(valid.port)/v1/items?secret=abc")
            #expect(injected.httpCode == 200, fixture.explain(injected.run))
            let tunnelled = try await fixture.clients.curl("https://127.0.0.1:\(valid.port)/tunnel?secret=abc")
            #expect(tunnelled.httpCode == 200, fixture.explain(tunnelled.run))
            let forwarded = try await fixture.clients.curl("http://localhost:\(plain.port)/plain?secret=abc")
            #expect(forwarded.httpCode == 200, fixture.explain(forwarded.run))
            let failed = try await fixture.clients.curl("https://localhost:\(expired.port)/expired?secret=abc")
            #expect(failed.httpCode == 502, fixture.explain(failed.run))

            _ = await fixture.auditRecords { $0.count >= 4 }
            // After a graceful stop the log is complete; anything beyond four records is a duplicate.
            let graceful = await fixture.proxy.stop()
            #expect(graceful == true, "tokenproxy did not exit within 5 s of SIGTERM and was killed")
            let (records, malformed) = AuditRecord.read(from: fixture.proxy.auditLogPath)
            #expect(malformed.isEmpty, "audit log lines that are not JSON objects: \(malformed)")
            fixture.check(records.count == 4, "expected 4 records, got \(records.count):\n\(fixture.describe(records))")

            let decisions = records.compactMap(\.decision).sorted()
            fixture.checkEqual(decisions, ["error", "forward", "injected", "tunnel"], "decisions")

            let isoFormatter = ISO8601DateFormatter()
            let fractionalFormatter = ISO8601DateFormatter()
            fractionalFormatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            for record in records {
                let missing = AuditRecord.requiredKeys.subtracting(record.keys)
                fixture.check(missing.isEmpty, "record \(record.line) lacks keys \(missing.sorted())")
                let time = record.time.flatMap { isoFormatter.date(from: $0) ?? fractionalFormatter.date(from: $0) }
                fixture.check(time != nil, "record \(record.line): time '\(record.time ?? "nil")' is not ISO 8601")
                if let time {
                    #expect(abs(time.timeIntervalSince(started)) < 300, "record \(record.line): time is off")
                }
                let clientMatches = (record.client ?? "").wholeMatch(of: #/127\.0\.0\.1:[0-9]+/#) != nil
                fixture.check(clientMatches, "record \(record.line): client '\(record.client ?? "nil")'")
                #expect(record.status != nil, "record \(record.line): no status")
                #expect((record.bytesIn ?? -1) >= 0, "record \(record.line): bytes_in")
                #expect((record.bytesOut ?? -1) >= 0, "record \(record.line): bytes_out")
                #expect((record.durationMs ?? -1) >= 0, "record \(record.line): duration_ms")
                let pathHasQuery = (record.path ?? "").contains("?")
                #expect(!pathHasQuery, "record \(record.line): path keeps its query string")
            }

            let injectedRecord = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            fixture.checkEqual(injectedRecord.path, "/v1/items", "injected: path")
            fixture.checkEqual(injectedRecord.host, "localhost", "injected: host")
            #expect(injectedRecord.port == valid.port)
            #expect(injectedRecord.status == 200)
            #expect(injectedRecord.rule == 0)
            fixture.checkEqual(injectedRecord.credential, ProxyConfiguration.credentialName, "injected: credential")
            fixture.checkEqual(injectedRecord.reason, nil, "injected: reason")
            #expect((injectedRecord.bytesIn ?? 0) + (injectedRecord.bytesOut ?? 0) > 0, "no bytes counted")

            let tunnelRecord = try await fixture.auditRecord("'tunnel'") { $0.decision == "tunnel" }
            fixture.checkEqual(tunnelRecord.host, "127.0.0.1", "tunnel: host")
            #expect(tunnelRecord.port == valid.port)
            fixture.checkEqual(tunnelRecord.credential, nil, "tunnel: credential")

            let forwardRecord = try await fixture.auditRecord("'forward'") { $0.decision == "forward" }
            fixture.checkEqual(forwardRecord.path, "/plain", "forward: path")
            #expect(forwardRecord.port == plain.port)
            fixture.checkEqual(forwardRecord.credential, nil, "forward: credential")

            let errorRecord = try await fixture.auditRecord("'error'") { $0.decision == "error" }
            fixture.checkEqual(errorRecord.path, "/expired", "error: path")
            #expect(errorRecord.port == expired.port)
            #expect(errorRecord.status == 502)
            #expect(errorRecord.reason != nil, "error record without a reason")

            // The query string is for the origin only; it must not be copied anywhere in the log.
            let log = (try? String(contentsOfFile: fixture.proxy.auditLogPath, encoding: .utf8)) ?? ""
            let logHasQuery = log.contains("secret=abc")
            #expect(!logHasQuery, "the audit log contains a query string")
        }
    }
}
