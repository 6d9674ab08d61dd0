import Foundation
import Testing

@testable import TokenProxyCore

@Suite("client access")
struct ClientAccessTests {
    static let location = ConfigLocation(file: "test.yaml", line: 1)

    static func access(
        credentialEnvironments: [String: String] = [:], limits: [RateLimiter.Subject: RateLimits] = [:]
    ) -> ClientAccess {
        ClientAccess(limiter: RateLimiter(limits: limits), credentialEnvironments: credentialEnvironments)
    }

    static func client(
        _ name: String, environment: String? = nil, credentials: Set<String>? = nil, rules: Set<Int>? = nil
    ) -> ClientConfiguration {
        ClientConfiguration(
            name: name, key: .environment(variable: "K"), environment: environment, credentials: credentials,
            rules: rules, location: location
        )
    }

    static func status(_ verdict: ClientAccess.Verdict) -> Int? {
        if case .refuse(let status, _, _) = verdict { return status }
        return nil
    }

    static func reason(_ verdict: ClientAccess.Verdict) -> String {
        if case .refuse(_, let reason, _) = verdict { return reason }
        return ""
    }

    @Test("a prod credential is refused to a staging client and to an untagged one, allowed to a prod client")
    func environmentSilos() throws {
        let access = Self.access(credentialEnvironments: ["gh-prod": "prod"])
        let rule = try makeRule(host: "api.github.com", credential: "gh-prod")
        let staging = access.admit(client: Self.client("app", environment: "staging"), rule: rule)
        #expect(Self.status(staging) == 403)
        #expect(Self.reason(staging).hasPrefix("environment mismatch: credential 'gh-prod' is for environment 'prod'"))
        #expect(Self.status(access.admit(client: Self.client("app"), rule: rule)) == 403)
        #expect(access.admit(client: Self.client("svc", environment: "prod"), rule: rule) == .proceed)
    }

    @Test("an untagged credential may be used by any client its allow-list permits")
    func untaggedCredential() throws {
        let access = Self.access()
        let rule = try makeRule(host: "api.example.com", credential: "shared")
        #expect(access.admit(client: Self.client("app", environment: "staging"), rule: rule) == .proceed)
    }

    @Test("a client uses only the credentials and rules it lists")
    func allowLists() throws {
        let access = Self.access()
        let github = try makeRule(index: 0, host: "api.github.com", credential: "github")
        let stripe = try makeRule(index: 1, host: "api.stripe.com", credential: "stripe")
        let byName = Self.client("ci", credentials: ["github"])
        #expect(access.admit(client: byName, rule: github) == .proceed)
        let refused = access.admit(client: byName, rule: stripe)
        #expect(Self.status(refused) == 403)
        #expect(Self.reason(refused).hasPrefix("client 'ci' may not use credential 'stripe' (rules[1])"))
        let byRule = Self.client("ops", rules: [1])
        #expect(access.admit(client: byRule, rule: stripe) == .proceed)
        #expect(Self.status(access.admit(client: byRule, rule: github)) == 403)
        #expect(Self.status(access.admit(client: Self.client("none", credentials: []), rule: github)) == 403)
        // A request without a credential (or a tunnel) needs no allow-list entry.
        #expect(access.admit(client: byName, rule: nil) == .proceed)
    }

    @Test("limits of the client and of the credential both count; over them the verdict is 429 with Retry-After")
    func limits() throws {
        let burstOfTwo = RateLimits(rate: RateLimits.Rate(parsing: "1/h"), burst: 2)
        let access = Self.access(limits: [.client("ci"): burstOfTwo])
        let rule = try makeRule(host: "api.github.com", credential: "github")
        let client = Self.client("ci")
        #expect(access.admit(client: client, rule: rule) == .proceed)
        #expect(access.admit(client: client, rule: nil) == .proceed)
        guard case .refuse(let status, let reason, let retryAfter) = access.admit(client: client, rule: rule) else {
            Issue.record("the third exchange must be refused")
            return
        }
        #expect(status == 429)
        #expect(reason.hasPrefix("rate limit of client 'ci' (1/h, burst 2) exceeded; retry after"))
        #expect((3500...3600).contains(retryAfter ?? 0))
        // Without clients, the credential's own limit still applies.
        let open = Self.access(limits: [.credential("github"): RateLimits(dailyRequests: 1)])
        #expect(open.admit(client: nil, rule: rule) == .proceed)
        #expect(Self.status(open.admit(client: nil, rule: rule)) == 429)
    }
}
