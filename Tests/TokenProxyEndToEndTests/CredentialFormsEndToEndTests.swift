import Foundation
import Testing

/// End-to-end tests of every way a rule attaches a token (`inject:` header, basic, query, placeholder, with and
/// without `body: true`), of the rule filters (path globs, methods), and of the refusals that keep a placeholder
/// or a missing credential from going anywhere: leak attempts and `require: true`.
///
/// Real curl against the real binary and a local TLS origin, as in ``ProxyEndToEndTests``. Values derived from a
/// canary (a Basic header, a swapped body) are compared with ``ProxyFixture/isDerived(_:canary:_:)``, so that no
/// expectation ever holds or prints a token.
@Suite("credential forms end to end", .serialized, .timeLimit(.minutes(1)))
struct CredentialFormsEndToEndTests {
    /// The custom placeholder of credential `custom`, bound by rule 4.
    static let customPlaceholder = "ph_live_custom_5678"
    /// The custom placeholder of credential `other`, which no rule binds: sending it anywhere is a leak attempt.
    static let otherPlaceholder = "ph_live_other_1234"
    /// The default placeholder of the main credential.
    static let e2ePlaceholder = "{{tokenproxy:e2e}}"
    /// The default placeholder of `other`.
    static let otherDefaultPlaceholder = "{{tokenproxy:other}}"

    /// Three credentials, each a canary of its own in the proxy's environment, and one rule per form, all for
    /// `localhost`. `other` is bound by no rule.
    static let forms: ProxyConfiguration = {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [
            "TP_E2E_TOKEN": "e2e",
            "TP_E2E_CUSTOM": "custom",
            "TP_E2E_OTHER": "other",
        ]
        configuration.credentialsYAML = """
              e2e: { source: env:TP_E2E_TOKEN }
              custom: { source: env:TP_E2E_CUSTOM, placeholder: \(customPlaceholder) }
              other: { source: env:TP_E2E_OTHER, placeholder: \(otherPlaceholder) }
            """
        configuration.rulesYAML = """
              - { host: localhost, path: /hdr/, credential: e2e, inject: { header: X-Api-Key, value: "{{secret}}" } }
              - host: localhost
                path: /basic/
                methods: [GET]
                credential: e2e
                inject: { basic: { username: x-access-token, password: "{{secret}}" } }
              - { host: localhost, path: /query/, credential: e2e, inject: { query: api_key } }
              - host: localhost
                path: /ph/
                credential: e2e
                inject: { placeholder: true }
                body: true
                max_body: 1024
              - { host: localhost, path: /custom/, credential: custom, inject: { placeholder: true } }
              - host: localhost
                path: "/glob/*/items"
                credential: e2e
                inject: { header: X-Api-Key, value: "{{secret}}" }
              - host: localhost
                path: "/deep/**"
                methods: [GET]
                credential: e2e
                inject: { header: X-Api-Key, value: "{{secret}}" }
            """
        return configuration
    }()

    // MARK: Injection forms

    @Test("header: a bare X-Api-Key gets the credential, replacing the client's own value")
    func headerForm() async throws {
        try await ProxyFixture.run("form-header", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/hdr/items",
                arguments: ["--header", "X-Api-Key: client-value"]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            Self.expectHeader("X-Api-Key", of: request, is: { $0 }, fixture: fixture)
            fixture.expectAbsent("Authorization", in: request)

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            #expect(record.rule == 0)
            fixture.checkEqual(record.credential, "e2e", "audit credential")
            fixture.checkEqual(record.path, "/hdr/items", "audit path")
        }
    }

    @Test("basic: the origin gets Authorization: Basic base64(username:token), replacing the client's")
    func basicForm() async throws {
        try await ProxyFixture.run("form-basic", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/basic/repo.git/info/refs",
                arguments: ["--user", "client:client-password"]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            Self.expectHeader(
                "Authorization", of: request, is: Self.basic(username: "x-access-token"), fixture: fixture
            )

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            #expect(record.rule == 1)
            fixture.checkEqual(record.credential, "e2e", "audit credential")
        }
    }

    @Test("query: api_key is set to the token, replacing the client's, other parameters kept; the log has no query")
    func queryForm() async throws {
        try await ProxyFixture.run("form-query", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/query/search?api_key=client&page=2&q=a%20b"
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            let (path, query) = Self.split(request.uri)
            fixture.checkEqual(path, "/query/search", "path at the origin")
            let parameters = query.split(separator: "&").map(String.init)
            let keys = parameters.filter { !$0.hasPrefix("api_key=") }
            fixture.checkEqual(keys, ["page=2", "q=a%20b"], "the client's other parameters")
            let apiKeys = parameters.filter { $0.hasPrefix("api_key=") }.map { String($0.dropFirst("api_key=".count)) }
            fixture.check(
                apiKeys.count == 1 && fixture.isDerived(apiKeys.first),
                "expected one api_key=<token>: \(apiKeys.count) api_key value(s), client's kept: "
                    + "\(apiKeys.contains("client"))"
            )
            fixture.expectAbsent("Authorization", in: request)

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            #expect(record.rule == 2)
            fixture.checkEqual(record.path, "/query/search", "audit path (without the query)")
            let log = (try? String(contentsOfFile: fixture.proxy.auditLogPath, encoding: .utf8)) ?? ""
            let logHasQuery = log.contains("api_key") || log.contains("page=2")
            #expect(!logHasQuery, "the audit log contains the query string")
        }
    }

    @Test("placeholder in a header is swapped for the token; other headers are left alone")
    func placeholderInHeader() async throws {
        try await ProxyFixture.run("ph-header", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/header",
                arguments: [
                    "--header", "X-Token: Bearer \(Self.e2ePlaceholder)",
                    "--header", "X-Unrelated: keep-me",
                ]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            Self.expectHeader("X-Token", of: request, is: { "Bearer " + $0 }, fixture: fixture)
            fixture.checkEqual(request.values(of: "X-Unrelated"), ["keep-me"], "an unrelated header")

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            #expect(record.rule == 3)
            fixture.checkEqual(record.credential, "e2e", "audit credential")
        }
    }

    @Test("placeholder in the query string, percent-encoded, is swapped for the token")
    func placeholderInQuery() async throws {
        try await ProxyFixture.run("ph-query", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let encoded = Self.e2ePlaceholder.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/query?first=1&token=\(encoded)&last=z"
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            let (path, query) = Self.split(request.uri)
            fixture.checkEqual(path, "/ph/query", "path at the origin")
            // The canary is all unreserved characters, so its percent-encoded form is itself.
            fixture.check(
                fixture.isDerived(query) { "first=1&token=\($0)&last=z" },
                "query at the origin is not 'first=1&token=<token>&last=z': "
                    + "\(fixture.redacted(query)), placeholder kept: \(query.contains("tokenproxy"))"
            )

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            fixture.checkEqual(record.path, "/ph/query", "audit path (without the query)")
        }
    }

    @Test("placeholder in the query: the rest of the parameter is kept as sent ('+' stays a form-encoded space)")
    func placeholderInQueryKeepsTheRestOfTheValue() async throws {
        try await ProxyFixture.run("ph-query-plus", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let encoded = Self.e2ePlaceholder.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/query?auth=Bearer+\(encoded)&q=a+b"
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            let (_, query) = Self.split(request.uri)
            // Form-encoded, 'Bearer+<token>' means "Bearer <token>"; '%2B' would turn the space into a plus sign.
            fixture.check(
                fixture.isDerived(query) { "auth=Bearer+\($0)&q=a+b" },
                "query at the origin is not 'auth=Bearer+<token>&q=a+b': \(fixture.redacted(query))"
            )
        }
    }

    @Test("placeholder inside a client's Basic header (curl -u) is swapped and the header re-encoded")
    func placeholderInsideBasic() async throws {
        try await ProxyFixture.run("ph-basic", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/basic",
                arguments: ["--user", "someone:\(Self.e2ePlaceholder)"]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            Self.expectHeader("Authorization", of: request, is: Self.basic(username: "someone"), fixture: fixture)
        }
    }

    @Test("a custom placeholder string (placeholder: ph_live_…) is swapped for its credential's token")
    func customPlaceholder() async throws {
        try await ProxyFixture.run("ph-custom", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/custom/charges?key=\(Self.customPlaceholder)",
                arguments: ["--header", "X-Api-Key: \(Self.customPlaceholder)"]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            Self.expectHeader("X-Api-Key", of: request, is: { $0 }, canary: "custom", fixture: fixture)
            let (_, query) = Self.split(request.uri)
            fixture.check(
                fixture.isDerived(query, canary: "custom") { "key=\($0)" },
                "query at the origin is not 'key=<token>': \(fixture.redacted(query))"
            )
            let carriesMain = fixture.contains(request.uri, canary: "e2e")
                || request.headers.contains { fixture.contains($0.value, canary: "e2e") }
            #expect(!carriesMain, "another credential's token was attached")

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            #expect(record.rule == 4)
            fixture.checkEqual(record.credential, "custom", "audit credential")
        }
    }

    @Test(
        "placeholder in a body (body: true) is swapped and the body sent with the right Content-Length",
        arguments: [false, true]
    )
    func placeholderInBody(chunked: Bool) async throws {
        try await ProxyFixture.run("ph-body", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let template = { (value: String) in #"{"token":"\#(value)","note":"ü and more","n":1}"# }
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/body",
                arguments: (chunked ? ["--header", "Transfer-Encoding: chunked"] : []) + [
                    "--header", "Content-Type: application/json",
                    "--data-binary", template(Self.e2ePlaceholder),
                ]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            let (isComplete, bodyBytes) = (request.isComplete, request.bodyBytes)
            #expect(isComplete, "the origin never saw the end of the body")
            fixture.check(
                fixture.isDerived(request.bodyText, template),
                "the body at the origin is not the client's with the token swapped in: "
                    + "\(fixture.redacted(request.bodyText)), placeholder kept: "
                    + "\(request.bodyText.contains("tokenproxy"))"
            )
            let expectedLength = fixture.isDerived(String(bodyBytes)) { String(template($0).utf8.count) }
            #expect(expectedLength, "the origin received \(bodyBytes) body bytes, not the swapped body's length")
            let lengths = request.values(of: "Content-Length")
            fixture.checkEqual(lengths, [String(bodyBytes)], "Content-Length at the origin")
            fixture.expectAbsent("Transfer-Encoding", in: request)
            fixture.check(
                result.body.contains("received \(bodyBytes) bytes"),
                "the origin's answer: \(result.body.prefix(300))"
            )

            let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
            fixture.checkEqual(record.method, "POST", "audit method")
            fixture.checkEqual(record.credential, "e2e", "audit credential")
        }
    }

    @Test("placeholder in a body that is not UTF-8 (a binary upload) is swapped and every other byte kept")
    func placeholderInBinaryBody() async throws {
        try await ProxyFixture.run("ph-binary-body", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            // A multipart-like body: a binary part (bytes that are not valid UTF-8) and a field with the placeholder.
            let before: [UInt8] = [0x00, 0xFF, 0xFE, 0x80, 0xC3, 0x28] + Array("\r\nkey=".utf8)
            let after: [UInt8] = Array("\r\n".utf8) + [0x89, 0x50, 0x4E, 0x47, 0xE2, 0x82]
            let payload = Data(before + Array(Self.e2ePlaceholder.utf8) + after)
            let payloadPath = try fixture.directory.write(payload, to: "binary-body.bin")
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/upload",
                arguments: [
                    "--header", "Content-Type: application/octet-stream",
                    "--data-binary", "@\(payloadPath)",
                ]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            let expected = { (value: String) in Data(before + Array(value.utf8) + after) }
            let received = Data(request.body)
            let swappedIntact = fixture.isDerived(received.base64EncodedString()) { expected($0).base64EncodedString() }
            let bodyBytes = request.bodyBytes
            let expectedCount = before.count + after.count
            fixture.check(
                swappedIntact,
                """
                the origin did not get the client's bytes with only the placeholder swapped: \(bodyBytes) bytes \
                (expected \(expectedCount) + the token's length), starts intact: \(received.starts(with: before)), \
                ends intact: \(received.suffix(after.count).elementsEqual(after)), U+FFFD replacement bytes: \
                \(received.range(of: Data([0xEF, 0xBF, 0xBD])) != nil)
                """
            )
            let length = request.values(of: "Content-Length")
            fixture.checkEqual(length, [String(bodyBytes)], "Content-Length at the origin")
        }
    }

    @Test("a body larger than max_body gets 413 and nothing reaches the origin")
    func bodyOverLimitIsRefused() async throws {
        try await ProxyFixture.run("ph-body-413", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let payload = String(repeating: "a", count: 2000) + Self.e2ePlaceholder
            let payloadPath = try fixture.directory.write(payload, to: "large-body.txt")
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/large",
                arguments: ["--header", "Expect:", "--data-binary", "@\(payloadPath)"]
            )
            #expect(result.httpCode == 413, fixture.explain(result.run))
            #expect(origin.requests.count == 0, "a request whose body exceeds max_body reached the origin")

            let record = try await fixture.auditRecord("413") { $0.status == 413 }
            fixture.checkEqual(record.decision, "denied", "decision in \(record)")
            fixture.checkEqual(record.path, "/ph/large", "path in \(record)")
            #expect(record.reason != nil, "a 413 record without a reason")
        }
    }

    @Test("a placeholder rule with no placeholder in the request forwards it without a credential")
    func placeholderRuleWithoutPlaceholderForwards() async throws {
        try await ProxyFixture.run("ph-absent", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/ph/nothing?x=1",
                arguments: ["--header", "X-Token: no placeholder here", "--data-binary", "plain body"]
            )
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)

            let request = try Self.onlyRequest(at: origin)
            fixture.checkEqual(request.values(of: "X-Token"), ["no placeholder here"], "X-Token")
            fixture.checkEqual(request.bodyText, "plain body", "body")
            fixture.check(!fixture.carriesAnyCanary(request), "a token reached the origin: \(request)")

            let record = try await fixture.auditRecord("'forward'") { $0.path == "/ph/nothing" }
            fixture.checkEqual(record.decision, "forward", "decision in \(record)")
            fixture.checkEqual(record.credential, nil, "credential in \(record)")
            #expect(record.status == 200)
        }
    }

    // MARK: Rule filters

    @Test("path globs: '*' matches one segment and '**' any depth; methods: a POST to a GET-only rule gets nothing")
    func pathGlobsAndMethods() async throws {
        try await ProxyFixture.run("globs", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let base = "https://localhost:\(origin.port)"
            // (path, method, whether the credential is attached)
            let cases: [(String, String, Bool)] = [
                ("/glob/one/items", "GET", true),
                ("/glob/one/two/items", "GET", false),
                ("/glob/one/items/more", "GET", false),
                ("/deep/a/b/c", "GET", true),
                ("/deep/a/b/c", "POST", false),
                ("/basic/repo", "POST", false),
                ("/basic/repo", "GET", true),
            ]
            for (path, method, _) in cases {
                let result = try await fixture.clients.curl(
                    base + path,
                    arguments: method == "POST" ? ["--data-binary", "x=1"] : []
                )
                #expect(result.httpCode == 200, "\(method) \(path): \(fixture.explain(result.run))")
            }

            let requests = origin.requests
            try #require(
                requests.count == cases.count,
                "origin saw \(requests.count) requests, expected \(cases.count)"
            )
            for ((path, method, attached), request) in zip(cases, requests) {
                fixture.checkEqual("\(request.method) \(request.uri)", "\(method) \(path)", "request order")
                let carries = fixture.carriesAnyCanary(request)
                #expect(carries == attached, "\(method) \(path): credential attached: \(carries), expected \(attached)")
            }

            let records = await fixture.auditRecords { $0.count >= cases.count }
            for (path, method, attached) in cases {
                let record = records.first { $0.path == path && $0.method == method }
                fixture.checkEqual(record?.decision, attached ? "injected" : "forward", "decision of \(method) \(path)")
            }
        }
    }

    // MARK: Refusals

    /// A request that carries a placeholder its destination's rule does not bind.
    struct LeakAttempt: Sendable, CustomTestStringConvertible {
        let name: String
        let path: String
        let arguments: [String]
        var testDescription: String { name }
    }

    static let leakAttempts: [LeakAttempt] = [
        LeakAttempt(
            name: "another credential's default placeholder in a header",
            path: "/ph/header",
            arguments: ["--header", "X-Token: Bearer \(otherDefaultPlaceholder)"]
        ),
        LeakAttempt(
            name: "another credential's custom placeholder in a header, to a header rule",
            path: "/hdr/items",
            arguments: ["--header", "X-Note: \(otherPlaceholder)"]
        ),
        LeakAttempt(
            name: "another credential's placeholder in the query, percent-encoded",
            path: "/query/search?note=%7B%7Btokenproxy%3Aother%7D%7D",
            arguments: []
        ),
        LeakAttempt(
            name: "another credential's placeholder inside a Basic header",
            path: "/ph/basic",
            arguments: ["--user", "someone:\(otherDefaultPlaceholder)"]
        ),
        LeakAttempt(
            name: "another credential's placeholder in a body the rule reads",
            path: "/ph/body",
            arguments: ["--data-binary", #"{"token":"\#(otherDefaultPlaceholder)"}"#]
        ),
        LeakAttempt(
            name: "another credential's placeholder to a rule that binds a different one",
            path: "/custom/charges",
            arguments: ["--header", "X-Api-Key: \(e2ePlaceholder)"]
        ),
        LeakAttempt(
            name: "a placeholder to a path no rule covers",
            path: "/unruled/path",
            arguments: ["--header", "X-Token: \(e2ePlaceholder)"]
        ),
    ]

    @Test(
        "a placeholder the rule does not bind is refused with 403 and never reaches the origin",
        arguments: leakAttempts
    )
    func leakAttemptIsRefused(attempt: LeakAttempt) async throws {
        try await ProxyFixture.run("leak", configuration: Self.forms) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl(
                "https://localhost:\(origin.port)\(attempt.path)",
                arguments: attempt.arguments
            )
            #expect(result.httpCode == 403, fixture.explain(result.run))
            fixture.check(result.body.contains("leak attempt"), "the 403 does not say why: \(result.body.prefix(300))")
            #expect(origin.requests.count == 0, "a request carrying a foreign placeholder reached the origin")

            let record = try await fixture.auditRecord("403") { $0.status == 403 }
            fixture.checkEqual(record.decision, "denied", "decision in \(record)")
            fixture.check(
                record.reason?.contains("leak attempt") == true,
                "reason of \(record): \(record.reason ?? "none")"
            )
            let path = record.path ?? ""
            #expect(!path.contains("?"), "the audit path keeps its query string")
        }
    }

    @Test("a placeholder sent over plain http:// to a host no rule covers is refused and never forwarded")
    func leakAttemptOverPlainHTTPIsRefused() async throws {
        try await ProxyFixture.run("leak-plain", configuration: Self.forms) { fixture in
            let origin = try await fixture.startPlainOrigin()
            let result = try await fixture.clients.curl(
                "http://127.0.0.1:\(origin.port)/collect",
                arguments: ["--header", "X-Token: \(Self.e2ePlaceholder)"]
            )
            #expect(result.httpCode == 403, fixture.explain(result.run))
            fixture.check(result.body.contains("leak attempt"), "the 403 does not say why: \(result.body.prefix(300))")
            #expect(origin.requests.count == 0, "a request carrying a placeholder reached a host no rule covers")

            let record = try await fixture.auditRecord("403") { $0.status == 403 }
            fixture.checkEqual(record.decision, "denied", "decision in \(record)")
            fixture.checkEqual(record.host, "127.0.0.1", "host in \(record)")
        }
    }

    @Test("require: true refuses a request to the host that would not get the credential, with 403 and a record")
    func requireRefusesRequestsWithoutCredential() async throws {
        var configuration = ProxyConfiguration()
        configuration.rulesYAML = """
              - host: localhost
                path: /hdr
                credential: e2e
                inject: { header: X-Api-Key, value: "{{secret}}" }
                require: true
            """
        try await ProxyFixture.run("require", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let base = "https://localhost:\(origin.port)"

            let refused = try await fixture.clients.curl(
                base + "/elsewhere",
                arguments: ["--header", "X-Api-Key: the-client's-own"]
            )
            #expect(refused.httpCode == 403, fixture.explain(refused.run))
            #expect(origin.requests.count == 0, "a request the require rule does not cover reached the origin")
            let record = try await fixture.auditRecord("403") { $0.status == 403 }
            fixture.checkEqual(record.decision, "denied", "decision in \(record)")
            fixture.checkEqual(record.path, "/elsewhere", "path in \(record)")
            fixture.check(record.reason?.contains("require") == true, "reason of \(record): \(record.reason ?? "none")")

            let allowed = try await fixture.clients.curl(base + "/hdr/items")
            #expect(allowed.httpCode == 200, fixture.explain(allowed.run))
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            Self.expectHeader("X-Api-Key", of: requests[0], is: { $0 }, fixture: fixture)
        }
    }

    @Test("require: true on a placeholder rule refuses a request without the placeholder")
    func requireOnPlaceholderRule() async throws {
        var configuration = ProxyConfiguration()
        configuration.rulesYAML = """
              - { host: localhost, credential: e2e, inject: { placeholder: true }, require: true }
            """
        try await ProxyFixture.run("require-ph", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let base = "https://localhost:\(origin.port)"

            let refused = try await fixture.clients.curl(
                base + "/v1/items",
                arguments: ["--header", "Authorization: Bearer the-client's-own"]
            )
            #expect(refused.httpCode == 403, fixture.explain(refused.run))
            #expect(origin.requests.count == 0, "a request without the placeholder reached the origin")
            let record = try await fixture.auditRecord("403") { $0.status == 403 }
            fixture.checkEqual(record.decision, "denied", "decision in \(record)")

            let allowed = try await fixture.clients.curl(
                base + "/v1/items",
                arguments: ["--header", "Authorization: Bearer \(Self.e2ePlaceholder)"]
            )
            #expect(allowed.httpCode == 200, fixture.explain(allowed.run))
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])
        }
    }

    // MARK: Helpers

    /// The one request `origin` received; fails the test if there is not exactly one.
    static func onlyRequest(
        at origin: TestOrigin,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> TestOrigin.RecordedRequest {
        let requests = origin.requests
        try #require(
            requests.count == 1,
            "origin saw \(requests.count) requests, expected 1",
            sourceLocation: sourceLocation
        )
        return requests[0]
    }

    /// Expects `request` to carry exactly one `header`, equal to `expected(canary)`.
    static func expectHeader(
        _ header: String,
        of request: TestOrigin.RecordedRequest,
        is expected: (String) -> String,
        canary: String = ProxyConfiguration.credentialName,
        fixture: ProxyFixture,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let values = request.values(of: header)
        fixture.check(
            values.count == 1 && fixture.isDerived(values.first, canary: canary, expected),
            """
            origin did not receive exactly one '\(header)' with the expected credential for \(request.method) \
            \(request.uri): \(values.count) value(s), credential present: \
            \(values.contains { fixture.contains($0, canary: canary) }), placeholder left: \
            \(values.contains { $0.contains("tokenproxy") || $0.contains("ph_live") })
            """,
            sourceLocation: sourceLocation
        )
    }

    /// `Basic base64(username:token)`, as the origin should see it.
    static func basic(username: String) -> (String) -> String {
        { "Basic " + Data("\(username):\($0)".utf8).base64EncodedString() }
    }

    /// `/path?query` → (`/path`, `query`), the query empty when there is none.
    static func split(_ uri: String) -> (path: String, query: String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }
}
