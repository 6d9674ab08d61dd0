import Foundation
import Testing

/// End-to-end tests of `policy:` on loopback: allowlist and monitor modes, ports, private destinations, leak
/// detection and response scrubbing, with the real proxy, curl and independent origins.
///
/// Every test here writes its own `policy:`; none relies on the harness default that admits loopback origins
/// unless it says so.
@Suite("egress policy and leak detection end to end", .serialized, .timeLimit(.minutes(1)))
struct EgressEndToEndTests {
    /// Admits loopback origins on any port, and nothing else private: what the other suites run with.
    static let loopback = ProxyConfiguration.loopbackOriginsPolicy

    private func configuration(policy: String, rules: String? = nil) -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.policyYAML = policy
        configuration.rulesYAML = rules
        return configuration
    }

    // MARK: Private destinations and ports

    @Test("without allow_private a loopback origin is refused with 403 and never dialled, by name or any spelling")
    func privateDestinationRefused() async throws {
        try await ProxyFixture.run("egress-private", configuration: configuration(policy: "  ports: any")) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let byName = try await fixture.clients.curl("https://localhost:\(origin.port)/")
            #expect(byName.transfers.first?.httpConnect == 403, fixture.explain(byName.run))
            for host in ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "LOCALHOST.", "[::ffff:127.0.0.1]",
                "[::ffff:7f00:1]", "[0:0:0:0:0:0:0:1]"]
            {
                let status = try await rawProxyRequest("CONNECT \(host):\(origin.port) HTTP/1.1", fixture: fixture)
                #expect(status == 403, "CONNECT \(host)")
            }
            for url in ["http://0x7f000001:\(origin.port)/", "http://user:pw@127.1:\(origin.port)/x"] {
                let status = try await rawProxyRequest("GET \(url) HTTP/1.1", fixture: fixture)
                #expect(status == 403, "GET \(url)")
            }
            #expect(origin.acceptedConnections == 0)
            let record = try await fixture.auditRecord("'denied' CONNECT") {
                $0.decision == "denied" && $0.method == "CONNECT" && $0.host == "127.0.0.1"
            }
            fixture.check(record.reason?.contains("loopback 127.0.0.0/8") == true, "reason: \(record.reason ?? "-")")
            fixture.check(record.reason?.contains("policy.allow_private") == true, "reason: \(record.reason ?? "-")")
        }
    }

    /// Sends one request line to the proxy from Python's socket module, exactly as written (curl would normalise
    /// odd IPv4 spellings itself before the proxy saw them), and returns the proxy's status code.
    private func rawProxyRequest(_ line: String, fixture: ProxyFixture) async throws -> Int? {
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
            s.sendall((sys.argv[2] + "\\r\\nHost: example.test\\r\\n\\r\\n").encode())
            print(s.recv(4096).decode(errors="replace").split("\\r\\n")[0])
            """
        let run = try await fixture.clients.run("python3", ["-c", script, String(fixture.proxy.port), line])
        return run.stdout.firstMatch(of: #/HTTP/1\.1 ([0-9]{3})/#).flatMap { Int($0.1) }
    }

    @Test("CONNECT to a port outside policy.ports is refused before any lookup")
    func portRefused() async throws {
        let policy = Self.loopback.replacingOccurrences(of: "ports: any", with: "ports: [443]")
        try await ProxyFixture.run("egress-ports", configuration: configuration(policy: policy)) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl("https://localhost:\(origin.port)/")
            #expect(result.transfers.first?.httpConnect == 403, fixture.explain(result.run))
            #expect(origin.acceptedConnections == 0)
            let record = try await fixture.auditRecord("'denied' CONNECT") { $0.decision == "denied" }
            fixture.check(record.reason?.contains("policy.ports") == true, "reason: \(record.reason ?? "-")")
        }
    }

    // MARK: Modes

    @Test("allowlist: a listed host is reached, any other destination gets 403 and is not dialled")
    func allowlist() async throws {
        let policy = Self.loopback + "\n  egress: allowlist\n  allow: [localhost]"
        try await ProxyFixture.run("egress-allowlist", configuration: configuration(policy: policy)) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let allowed = try await fixture.clients.curl("https://localhost:\(origin.port)/ok")
            #expect(allowed.httpCode == 200, fixture.explain(allowed.run))
            let accepted = origin.acceptedConnections
            let refused = try await fixture.clients.curl("https://127.0.0.1:\(origin.port)/no")
            #expect(refused.transfers.first?.httpConnect == 403, fixture.explain(refused.run))
            let plain = try await fixture.clients.curl("http://127.0.0.1:\(origin.port)/no")
            #expect(plain.httpCode == 403, fixture.explain(plain.run))
            fixture.check(plain.body.contains("not in policy.allow"), "reason: \(plain.body.prefix(300))")
            #expect(origin.acceptedConnections == accepted)
            #expect(origin.requests.count == 1)
            let record = try await fixture.auditRecord("'denied' for 127.0.0.1") {
                $0.decision == "denied" && $0.host == "127.0.0.1"
            }
            fixture.check(
                record.reason?.contains("policy.egress: allowlist") == true, "reason: \(record.reason ?? "-")"
            )
        }
    }

    @Test("monitor: a destination the allow list misses is reached and recorded as would_deny")
    func monitor() async throws {
        let policy = Self.loopback + "\n  egress: monitor\n  allow: [localhost]"
        try await ProxyFixture.run("egress-monitor", configuration: configuration(policy: policy)) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl("https://127.0.0.1:\(origin.port)/watched")
            #expect(result.httpCode == 200, fixture.explain(result.run))
            #expect(origin.acceptedConnections == 1)
            let record = try await fixture.auditRecord("'would_deny'") { $0.decision == "would_deny" }
            fixture.checkEqual(record.host, "127.0.0.1", "would_deny host")
            #expect(record.port == origin.port)
            fixture.check(record.reason?.contains("not in policy.allow") == true, "reason: \(record.reason ?? "-")")
            let listed = try await fixture.clients.curl("https://localhost:\(origin.port)/listed")
            #expect(listed.httpCode == 200, fixture.explain(listed.run))
            let records = await fixture.auditRecords { $0.filter { $0.decision == "injected" }.count >= 1 }
            #expect(records.filter { $0.decision == "would_deny" }.count == 1)
        }
    }

    // MARK: Leak detection

    @Test("leak: the real token in a header to a host without a rule is refused when inspect: all")
    func leakInHeaderToAnyHost() async throws {
        let policy = Self.loopback + "\n  inspect: all"
        try await ProxyFixture.run("leak-header", configuration: configuration(policy: policy)) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            // No rule covers 127.0.0.1 (the default rule is for localhost): without inspect: all this is a tunnel.
            let clean = try await fixture.clients.curl("https://127.0.0.1:\(origin.port)/clean")
            #expect(clean.httpCode == 200, fixture.explain(clean.run))
            let result = try await fixture.clients.curl(
                "https://127.0.0.1:\(origin.port)/leak",
                arguments: ["--header", fixture.withCanary("X-Debug-Token: copied-{{canary}}-from-env")]
            )
            #expect(result.transfers.first?.httpConnect == 200, fixture.explain(result.run))
            #expect(result.httpCode == 403, fixture.explain(result.run))
            fixture.check(result.body.contains("leak: the request carried the value of credential 'e2e'"),
                "body: \(result.body.prefix(300))")
            #expect(origin.requests.count == 1)
            #expect(origin.requests.allSatisfy { !fixture.carriesCanary($0) })
            let record = try await fixture.auditRecord("'leak'") { $0.decision == "leak" }
            fixture.checkEqual(record.host, "127.0.0.1", "leak host")
            #expect(record.status == 403)
            fixture.check(
                record.reason?.lowercased().contains("x-debug-token header") == true,
                "reason: \(record.reason ?? "-")"
            )
            #expect(record.credential == nil)
        }
    }

    @Test("leak: the real token in a request body or URL to a rule's host is refused before anything is sent")
    func leakInBodyAndURL() async throws {
        try await ProxyFixture.run("leak-body", configuration: configuration(policy: Self.loopback)) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let padding = String(repeating: "p", count: 20_000)
            let body = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/upload",
                arguments: ["--http1.1", "--data-binary", fixture.withCanary(padding + "&token={{canary}}&end")]
            )
            #expect(body.httpCode == 403, fixture.explain(body.run))
            let url = try await fixture.clients.curl(
                fixture.withCanary("https://localhost:\(origin.port)/q?k={{canary}}")
            )
            #expect(url.httpCode == 403, fixture.explain(url.run))
            #expect(origin.requests.isEmpty)
            let records = await fixture.auditRecords { $0.filter { $0.decision == "leak" }.count >= 2 }
            let reasons = records.filter { $0.decision == "leak" }.compactMap(\.reason)
            fixture.check(reasons.contains { $0.contains("the request body") }, "reasons: \(reasons)")
            fixture.check(reasons.contains { $0.contains("the request URL") }, "reasons: \(reasons)")
            let ordinary = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/fine", arguments: ["--data-binary", padding]
            )
            #expect(ordinary.httpCode == 200, fixture.explain(ordinary.run))
            #expect(origin.requests.count == 1)
        }
    }

    @Test("scrub_responses: an origin echoing the token back returns only the placeholder (HTTP/1.1 and HTTP/2)")
    func scrubResponses() async throws {
        let rules = """
              - host: localhost
                credential: e2e
                inject: { header: Authorization, value: "Bearer {{secret}}" }
                scrub_responses: true
            """
        let scrubbing = configuration(policy: Self.loopback, rules: rules)
        try await ProxyFixture.run("scrub", configuration: scrubbing) { fixture in
            let origin = try await EchoOrigin.start(
                identity: fixture.certificates.origin(.valid), in: fixture.directory
            )
            for version in ["--http1.1", "--http2"] {
                let result = try await fixture.clients.curl(
                    "https://localhost:\(origin.port)/echo", arguments: [version, "--include"]
                )
                #expect(result.httpCode == 200, fixture.explain(result.run))
                fixture.check(!fixture.contains(result.body), "\(version): the token reached the client")
                let placeholder = "Bearer {{tokenproxy:e2e}}"
                fixture.check(
                    result.body.components(separatedBy: placeholder).count == 4,
                    "\(version): expected the placeholder in the header and twice in the body: "
                        + fixture.redacted(result.body)
                )
                fixture.check(
                    result.body.lowercased().contains("x-echo-authorization: bearer {{tokenproxy:e2e}}"),
                    "\(version): echo header not scrubbed: \(fixture.redacted(result.body))"
                )
            }
            await origin.stop()
            let records = await fixture.auditRecords { $0.filter { $0.decision == "injected" }.count >= 2 }
            #expect(records.filter { $0.decision == "injected" && $0.status == 200 }.count == 2)
        }
    }
}
