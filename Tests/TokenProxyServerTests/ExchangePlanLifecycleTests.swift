import Foundation
import NIOHTTP1
import Testing
import TokenProxyCore

@testable import TokenProxyServer

/// A request whose rule's credential is revoked, expired or not yet valid is refused before anything is dialled.
@Suite("Exchange planning: credential lifecycle")
struct ExchangePlanLifecycleTests {
    let planning = ExchangePlanTests()

    @Test("a revoked credential's rule refuses with 403 naming it and the reason; other rules are unaffected")
    func revoked() throws {
        let header = Injection.header(name: "X-Key", template: try InjectionTemplate("{{secret}}"))
        let rules = [
            try planning.rule(0, path: "/a", credential: "api", injection: header),
            try planning.rule(1, path: "/b", credential: "other", injection: header),
        ]
        let store = planning.store(rules).revoking(["api": Revocation(reason: "leaked", time: Date())])
        guard case .refuse(let status, let reason) = planning.plan("/a/x", store: store) else {
            Issue.record("a request for the revoked credential was not refused")
            return
        }
        #expect(status == .forbidden)
        #expect(reason == "credential revoked: 'api' (leaked)")
        guard case .proceed(let plan) = planning.plan("/b/x", store: store) else {
            Issue.record("a request for another credential was refused")
            return
        }
        #expect(plan.rule?.credential == "other")
        guard case .proceed = planning.plan("/a/x", store: store.revoking([:])) else {
            Issue.record("an unrevoked credential is still refused")
            return
        }
    }
}
