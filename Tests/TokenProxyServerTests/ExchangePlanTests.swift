import NIOHTTP1
import Testing
import TokenProxyCore

@testable import TokenProxyServer

@Suite("Exchange planning")
struct ExchangePlanTests {
    func rule(
        _ index: Int, path: String? = nil, credential: String = "api", injection: Injection = .placeholder,
        require: Bool = false, plaintext: Bool = false
    ) throws -> Rule {
        Rule(
            index: index, host: try HostPattern("api.example.com"), path: try path.map { try PathPattern($0) },
            credential: credential, injection: injection, allowPlaintext: plaintext, require: require,
            location: SourceLocation(file: "t.yaml", line: index + 1)
        )
    }

    func store(_ rules: [Rule]) -> CredentialStore {
        CredentialStore(values: ["api": Secret("a"), "other": Secret("b")], rules: rules)
    }

    func plan(_ uri: String, headers: [(String, String)] = [], tls: Bool = true, store: CredentialStore)
        -> ExchangePlan.Decision
    {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders(headers))
        let target = RequestTarget(
            endpoint: UpstreamEndpoint(host: "api.example.com", port: tls ? 443 : 80, usesTLS: tls),
            host: "api.example.com", port: tls ? 443 : 80, originForm: uri, hostHeader: nil
        )
        return ExchangePlan.make(for: head, target: target, store: store, limits: ProxyLimits())
    }

    @Test("another credential's placeholder is a refused leak attempt, in headers and in the query")
    func leak() throws {
        let rules = store([try rule(0)])
        for (uri, headers) in [
            ("/x", [("Authorization", "Bearer {{tokenproxy:other}}")]), ("/x?k={{tokenproxy:other}}", []),
        ] {
            guard case .refuse(let status, let reason) = plan(uri, headers: headers, store: rules) else {
                Issue.record("expected a refusal for \(uri)")
                continue
            }
            #expect(status == .forbidden)
            #expect(reason.contains("leak attempt") && reason.contains("'other'"))
        }
    }

    @Test("a placeholder sent where no rule applies is refused too")
    func leakWithoutRule() throws {
        let decision = plan("/elsewhere", headers: [("X", "{{tokenproxy:api}}")], store: store([try rule(0, path: "/v1/")]))
        guard case .refuse(.forbidden, _) = decision else {
            Issue.record("expected 403")
            return
        }
    }

    @Test("require refuses requests that would get no credential, and lets injected ones through")
    func require() throws {
        let header = Injection.header(name: "X-Key", template: try InjectionTemplate("{{secret}}"))
        let rules = store([try rule(0, path: "/v1/", injection: header, require: true)])
        guard case .refuse(.forbidden, let reason) = plan("/v2/x", store: rules) else {
            Issue.record("expected 403 outside the rule's path")
            return
        }
        #expect(reason.contains("require: true"))
        guard case .proceed(let plan) = plan("/v1/x", store: rules) else {
            Issue.record("expected the request to proceed")
            return
        }
        #expect(plan.rule?.index == 0)
    }

    @Test("plain http gets no credential unless the rule allows plaintext")
    func plaintext() throws {
        let header = Injection.header(name: "X-Key", template: try InjectionTemplate("{{secret}}"))
        guard case .proceed(let refused) = plan("/x", tls: false, store: store([try rule(0, injection: header)])) else {
            Issue.record("expected to proceed")
            return
        }
        #expect(refused.rule == nil)
        let allowed = store([try rule(0, injection: header, plaintext: true)])
        guard case .proceed(let permitted) = plan("/x", tls: false, store: allowed) else {
            Issue.record("expected to proceed")
            return
        }
        #expect(permitted.rule?.index == 0)
    }

    @Test("signed-chunk S3 uploads are refused with 501 instead of being forwarded with broken chunk signatures")
    func signedChunks() throws {
        let store = CredentialStore(
            values: ["aws": .aws(AWSCredentials(accessKeyID: "AKIA", secretAccessKey: Secret("s")))],
            rules: [try rule(0, credential: "aws", injection: .awsSigV4(region: "us-east-1", service: "s3"))]
        )
        let decision = plan(
            "/bucket/key", headers: [("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")], store: store
        )
        guard case .refuse(.notImplemented, let reason) = decision else {
            Issue.record("expected 501")
            return
        }
        #expect(reason.contains("unsigned payloads"))
        guard case .proceed = plan("/bucket/key", headers: [("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], store: store)
        else {
            Issue.record("an unsigned-payload upload must proceed")
            return
        }
    }
}
