import Foundation
import Testing

/// End-to-end tests of `type: oauth2` credentials: the real proxy fetches access tokens from a local token
/// endpoint (``OAuth2TokenEndpoint``) and attaches them to requests that real clients (curl, Python requests) send
/// to a local origin.
///
/// The client secret, the refresh tokens and every access token the endpoint issues are watched values of the
/// fixture: none of them may appear in the proxy's output, its audit log or any client's output.
@Suite("tokenproxy OAuth2 credentials end to end", .serialized, .timeLimit(.minutes(1)))
struct OAuth2EndToEndTests {
    /// The credential's name in the configuration.
    static let credential = "api"

    // MARK: Sharing one fetch

    @Test("50 concurrent requests share one token fetch and all carry that access token")
    func concurrentRequestsShareOneFetch() async throws {
        try await OAuth2AWSFixture.run("oauth2-concurrent") { fixture in
            let origin = try await fixture.startOrigin()
            // Held back for a second, so the requests pile up behind the one fetch in flight.
            let endpoint = try await Self.startEndpoint(
                fixture,
                behavior: .issue(expiresIn: 3600, rotateRefreshTokens: false),
                responseDelay: .seconds(1)
            )
            try await Self.startProxy(fixture, endpoint: endpoint, origin: origin)

            let count = 50
            let run = try await fixture.clients.run(
                "python3",
                ["-c", Self.concurrentScript, "https://localhost:\(origin.port)/concurrent", String(count)],
                environment: [
                    "HTTPS_PROXY": "http://127.0.0.1:\(fixture.proxyPort)",
                    "REQUESTS_CA_BUNDLE": fixture.clientBundlePath,
                ],
                timeout: .seconds(40)
            )
            #expect(run.exitCode == 0, fixture.explain(run))
            let statuses = run.stdout.matches(of: #/@@([0-9]+) (\S+)@@/#).map { String($0.2) }
            let ok = statuses.filter { $0 == "200" }.count
            fixture.check(ok == count, "\(ok) of \(count) requests got 200; results: \(statuses)")

            let requests = origin.requests
            #expect(requests.count == count, "origin saw \(requests.count) requests, expected \(count)")
            let carried = requests.map { endpoint.accessTokenIndex(in: $0) }
            let withFirstToken = carried.filter { $0 == 0 }.count
            #expect(
                withFirstToken == requests.count,
                "\(withFirstToken) of \(requests.count) origin requests carried just 'Authorization: Bearer <token #1>'"
            )
            let tokenRequests = endpoint.requests
            #expect(tokenRequests.count == 1, "the token endpoint got \(tokenRequests.count): \(tokenRequests)")
            if let fetch = tokenRequests.first {
                Self.expectWellFormed(fetch, grantType: "client_credentials", fixture: fixture)
            }

            let records = await fixture.auditRecords { $0.filter { $0.decision == "injected" }.count >= count }
            let injected = records.filter { $0.decision == "injected" && $0.credential == Self.credential }
            #expect(injected.count == count, "\(injected.count) 'injected' records for '\(Self.credential)'")
            // Evidence that the test exercised sharing at all: some requests must have waited on the held-back
            // fetch rather than found a cached token.
            let waited = injected.filter { ($0.durationMs ?? 0) >= 500 }.count
            #expect(waited >= 2, "only \(waited) requests waited on the token fetch: the requests were not concurrent")
        }
    }

    // MARK: Expiry

    @Test("a token is used until a quarter of its 4 s life is left, then exactly one new fetch replaces it")
    func expiringTokenIsRefetchedOnce() async throws {
        try await OAuth2AWSFixture.run("oauth2-expiry") { fixture in
            let origin = try await fixture.startOrigin()
            let endpoint = try await Self.startEndpoint(
                fixture,
                behavior: .issue(expiresIn: 4, rotateRefreshTokens: false)
            )
            try await Self.startProxy(fixture, endpoint: endpoint, origin: origin)
            let url = "https://localhost:\(origin.port)/expiry"

            // The proxy's fetch starts after `started`, so the token is fresh until at least `started` + 3 s
            // (expires_in 4 minus min(30 s, 4 s / 4)).
            let started = ContinuousClock.now
            let first = try await fixture.clients.curl(url)
            #expect(first.httpCode == 200, fixture.explain(first.run))
            #expect(endpoint.requests.count == 1)

            // Requests within those 3 s use the cached token; judged by when each finished, not when it was sent.
            var cachedRequests = 0
            for offset in [0.8, 1.6, 2.3] {
                try await Self.sleep(until: started + .seconds(offset))
                let result = try await fixture.clients.curl(url)
                #expect(result.httpCode == 200, fixture.explain(result.run))
                if ContinuousClock.now < started + .seconds(2.9) {
                    cachedRequests += 1
                    #expect(endpoint.requests.count == 1, "a token fetch before the cached token went stale")
                }
            }
            #expect(cachedRequests >= 1, "the machine is too slow: no request finished within the token's fresh 3 s")
            let fetchesBeforeStale = endpoint.requests.count

            // The fetch reached the endpoint no earlier than it started, so arrival + 3 s is past the stale point.
            let firstFetch = try #require(endpoint.requests.first)
            try await Self.sleep(until: firstFetch.received + .seconds(3.4))
            let afterStale = try await fixture.clients.curl(url)
            #expect(afterStale.httpCode == 200, fixture.explain(afterStale.run))
            let again = try await fixture.clients.curl(url)
            #expect(again.httpCode == 200, fixture.explain(again.run))

            let fetches = endpoint.requests
            #expect(fetchesBeforeStale == 1, "\(fetchesBeforeStale) fetches while the first token was fresh")
            #expect(fetches.count == 2, "expected exactly one more fetch after the token went stale: \(fetches)")
            let carried = origin.requests.map { endpoint.accessTokenIndex(in: $0) }
            let expected: [Int?] = Array(repeating: 0, count: 4) + [1, 1]
            #expect(
                carried == expected,
                "origin requests carried issued tokens #\(carried.map { $0.map { String($0 + 1) } ?? "none" })"
            )
        }
    }

    // MARK: A failing token endpoint

    @Test("a token endpoint answering 401 invalid_client gets the client a 502 naming it, and nothing is forwarded")
    func failedFetchGets502() async throws {
        try await OAuth2AWSFixture.run("oauth2-401") { fixture in
            let origin = try await fixture.startOrigin()
            let endpoint = try await Self.startEndpoint(
                fixture,
                behavior: .reject(status: 401, error: "invalid_client", description: nil)
            )
            try await Self.startProxy(fixture, endpoint: endpoint, origin: origin)

            let result = try await fixture.clients.curl("https://localhost:\(origin.port)/v1/items")
            #expect(result.transfers.first?.httpConnect == 200, fixture.explain(result.run))
            #expect(result.httpCode == 502, fixture.explain(result.run))
            let body = result.body
            for needle in ["credential '\(Self.credential)'", "401", "invalid_client"] {
                fixture.check(body.contains(needle), "the 502 body does not mention \(needle): \(body.prefix(500))")
            }
            #expect(endpoint.requests.count == 1)
            #expect(origin.requests.count == 0, "a request reached the origin without a token")

            let record = try await fixture.auditRecord("502") { $0.status == 502 }
            fixture.checkEqual(record.decision, "error", "decision in \(record)")
            fixture.checkEqual(record.host, "localhost", "host in \(record)")
            #expect(record.port == origin.port)
            let reason = record.reason ?? ""
            fixture.check(
                reason.contains("invalid_client") && reason.contains("401"),
                "the audit reason does not say why: \(reason)"
            )

            // A failure is not cached as a token: the next request asks again, and fails the same way.
            let second = try await fixture.clients.curl("https://localhost:\(origin.port)/v1/items")
            #expect(second.httpCode == 502, fixture.explain(second.run))
            #expect(endpoint.requests.count == 2, "the second request did not ask the token endpoint again")
            #expect(origin.requests.count == 0, "a request reached the origin without a token")
        }
    }

    // MARK: Refresh tokens

    @Test("the refresh_token grant sends the configured refresh token, then each rotated one in turn")
    func refreshTokenGrantFollowsRotation() async throws {
        try await OAuth2AWSFixture.run("oauth2-refresh") { fixture in
            let origin = try await fixture.startOrigin()
            // expires_in 1: stale after 0.75 s, so each request below a second after the last needs a new fetch.
            let endpoint = try await Self.startEndpoint(
                fixture,
                behavior: .issue(expiresIn: 1, rotateRefreshTokens: true)
            )
            try await Self.startProxy(fixture, endpoint: endpoint, origin: origin, withRefreshToken: true)
            let url = "https://localhost:\(origin.port)/refresh"

            for round in 0..<3 {
                if round > 0 {
                    try await Task.sleep(for: .milliseconds(1100))
                }
                let result = try await fixture.clients.curl(url)
                #expect(result.httpCode == 200, "round \(round): \(fixture.explain(result.run))")
            }

            let fetches = endpoint.requests
            #expect(fetches.count == 3, "expected one fetch per request: \(fetches)")
            for fetch in fetches {
                Self.expectWellFormed(fetch, grantType: "refresh_token", fixture: fixture)
            }
            // #0 is the configured refresh token; #1 and #2 the ones the endpoint rotated in.
            let presented = fetches.map(\.refreshTokenIndex)
            #expect(presented == [0, 1, 2], "refresh tokens presented, by index: \(presented)")
            let answered = fetches.map(\.status)
            #expect(answered == [200, 200, 200])
            let carried = origin.requests.map { endpoint.accessTokenIndex(in: $0) }
            #expect(carried == [0, 1, 2], "origin requests carried issued tokens (0-based) \(carried)")
        }
    }

    // MARK: Secrets stay secret

    @Test("no client secret, refresh token or access token in proxy output or audit log, even at trace level")
    func secretsNeverLogged() async throws {
        try await OAuth2AWSFixture.run("oauth2-secrets") { fixture in
            let origin = try await fixture.startOrigin()
            let endpoint = try await Self.startEndpoint(
                fixture,
                behavior: .issue(expiresIn: 1, rotateRefreshTokens: true)
            )
            try await Self.startProxy(
                fixture,
                endpoint: endpoint,
                origin: origin,
                withRefreshToken: true,
                logLevel: "trace"
            )
            let url = "https://localhost:\(origin.port)/secrets"

            // A fetch, a rotation, then a failing endpoint: every path that handles the secrets.
            let first = try await fixture.clients.curl(url)
            #expect(first.httpCode == 200, fixture.explain(first.run))
            try await Task.sleep(for: .milliseconds(1100))
            let second = try await fixture.clients.pythonRequests(url)
            #expect(second.status == 200, fixture.explain(second.run))
            try await Task.sleep(for: .milliseconds(1100))
            endpoint.setBehavior(.reject(status: 400, error: "invalid_grant", description: "refresh token revoked"))
            let third = try await fixture.clients.curl(url)
            #expect(third.httpCode == 502, fixture.explain(third.run))

            // The values were real: the origin received the issued tokens, so the scan below looks for real values.
            let carried = origin.requests.map { endpoint.accessTokenIndex(in: $0) }
            #expect(carried == [0, 1], "origin requests carried issued tokens (0-based) \(carried)")
            #expect(endpoint.requests.map(\.refreshTokenIndex) == [0, 1, 2])

            _ = await fixture.auditRecords { $0.count >= 3 }
            let graceful = await fixture.stopProxy()
            #expect(graceful == true, "tokenproxy did not exit within 5 s of SIGTERM and was killed")
            let stderr = (try? String(contentsOfFile: fixture.proxyStderrPath, encoding: .utf8)) ?? ""
            #expect(stderr.count > 0, "no trace output at all: the scan of stderr would prove nothing")
            for (what, path) in [
                ("proxy stdout", fixture.proxyStdoutPath),
                ("proxy stderr", fixture.proxyStderrPath),
                ("the audit log", fixture.auditLogPath),
            ] {
                let leaked = fixture.leakedSecrets(in: path)
                #expect(leaked.isEmpty, "\(what) contains \(leaked.joined(separator: ", "))")
            }
        }
    }

    @Test("a token endpoint error that quotes the refresh token does not carry it into the 502 or the audit log")
    func echoedSecretIsNotRelayed() async throws {
        try await OAuth2AWSFixture.run("oauth2-echo") { fixture in
            let origin = try await fixture.startOrigin()
            let endpoint = try await Self.startEndpoint(
                fixture,
                behavior: .issue(expiresIn: 3600, rotateRefreshTokens: false)
            )
            // Some providers quote what they rejected; the proxy relays error_description to the client and log.
            endpoint.setBehavior(
                .reject(
                    status: 400,
                    error: "invalid_grant",
                    description: "refresh token \(endpoint.initialRefreshToken) is not valid for client secret "
                        + endpoint.clientSecret
                )
            )
            try await Self.startProxy(fixture, endpoint: endpoint, origin: origin, withRefreshToken: true)

            let result = try await fixture.clients.curl("https://localhost:\(origin.port)/echo")
            #expect(result.httpCode == 502, fixture.explain(result.run))
            fixture.check(result.body.contains("invalid_grant"), "the 502 does not say why: \(result.body.prefix(500))")
            _ = try await fixture.auditRecord("502") { $0.status == 502 }
            // The teardown scan checks the client's output, the proxy's output and the audit log.
        }
    }

    // MARK: Helpers

    /// Starts a token endpoint with the valid localhost certificate, watching its secrets; shut down with the
    /// fixture.
    static func startEndpoint(
        _ fixture: OAuth2AWSFixture,
        behavior: OAuth2TokenEndpoint.Behavior,
        responseDelay: Duration = .zero
    ) async throws -> OAuth2TokenEndpoint {
        let endpoint = try await OAuth2TokenEndpoint.start(
            identity: fixture.certificates.origin(.valid),
            behavior: behavior,
            responseDelay: responseDelay
        )
        fixture.addTearDown { await endpoint.shutdown() }
        for secret in endpoint.secrets {
            fixture.watch(secret.value, as: secret.label)
        }
        return endpoint
    }

    /// Starts the proxy with one `oauth2` credential for `endpoint` and one rule for `origin` that injects it
    /// (the default for OAuth2: `Authorization: Bearer <access token>`).
    static func startProxy(
        _ fixture: OAuth2AWSFixture,
        endpoint: OAuth2TokenEndpoint,
        origin: TestOrigin,
        withRefreshToken: Bool = false,
        logLevel: String? = nil
    ) async throws {
        var lines = [
            "credentials:",
            "  \(credential):",
            "    type: oauth2",
            "    token_url: \(OAuth2AWSFixture.quoted(endpoint.tokenURL))",
            "    client_id: \(OAuth2AWSFixture.quoted(endpoint.clientID))",
            "    client_secret: env:TP_CLIENT_SECRET",
            "    scope: \"read write\"",
        ]
        var environment = ["TP_CLIENT_SECRET": endpoint.clientSecret]
        if withRefreshToken {
            lines.append("    refresh_token: env:TP_REFRESH")
            environment["TP_REFRESH"] = endpoint.initialRefreshToken
        }
        lines += [
            "rules:",
            "  - host: localhost",
            "    port: \(origin.port)",
            "    credential: \(credential)",
        ]
        try await fixture.startProxy(
            credentialsAndRules: lines.joined(separator: "\n") + "\n",
            environment: environment,
            logLevel: logLevel
        )
    }

    /// Expects a token request as RFC 6749 wants it: a form POST to the token path, the client authenticated by
    /// Basic, the configured scope and `grantType`.
    static func expectWellFormed(
        _ request: OAuth2TokenEndpoint.TokenRequest,
        grantType: String,
        fixture: OAuth2AWSFixture,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        fixture.checkEqual(request.method, "POST", "token request method", sourceLocation: sourceLocation)
        fixture.checkEqual(request.uri, OAuth2TokenEndpoint.path, "token request URI", sourceLocation: sourceLocation)
        fixture.checkEqual(
            request.contentType,
            "application/x-www-form-urlencoded",
            "token request Content-Type",
            sourceLocation: sourceLocation
        )
        #expect(request.clientAuthenticated, "Basic client auth failed: \(request)", sourceLocation: sourceLocation)
        fixture.checkEqual(request.grantType, grantType, "grant_type", sourceLocation: sourceLocation)
        fixture.checkEqual(request.form["scope"], "read write", "scope", sourceLocation: sourceLocation)
        fixture.check(
            request.form["client_secret"] == nil,
            "the client secret was sent in the form as well as in Basic",
            sourceLocation: sourceLocation
        )
    }

    /// Sleeps until `deadline` (returns at once if it has passed).
    static func sleep(until deadline: ContinuousClock.Instant) async throws {
        let remaining = deadline - .now
        if remaining > .zero {
            try await Task.sleep(for: remaining)
        }
    }

    /// `count` threads, released together by a barrier, each `requests.get`s the URL (with its own session, so
    /// its own CONNECT) through `HTTPS_PROXY`, and prints `@@<i> <status or error>@@`.
    static let concurrentScript = """
        import sys
        import threading
        import requests

        url, count = sys.argv[1], int(sys.argv[2])
        barrier = threading.Barrier(count)
        results = ["none"] * count

        def fetch(i):
            try:
                barrier.wait(timeout=20)
                with requests.Session() as session:
                    response = session.get("%s?n=%d" % (url, i), timeout=30)
                    results[i] = str(response.status_code)
            except Exception as error:
                results[i] = type(error).__name__
                sys.stderr.write("request %d: %s\\n" % (i, str(error)[:300]))

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(35)
        for i, result in enumerate(results):
            sys.stdout.write("@@%d %s@@\\n" % (i, result))
        """
}
