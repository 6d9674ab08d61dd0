import Foundation
import Testing
import TokenProxyCore

/// `expires:`, `not_before:`, `previous:` and `rotate_every:` loading, and what a credential's state is at a time.
@Suite("Credential lifecycle")
struct CredentialLifecycleTests {
    @Test("the lifecycle keys load, with RFC 3339 times and day durations")
    func keysLoad() throws {
        let yaml = """
            credentials:
              gh:
                source: env:GH_TOKEN
                previous: env:GH_TOKEN_OLD
                expires: 2026-12-31T00:00:00Z
                not_before: "2026-01-01T12:30:00.5+01:00"
                rotate_every: 90d
            watch: true
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "lifecycle.yaml")
        let gh = try #require(configuration.credential(named: "gh"))
        #expect(gh.expires == Date(timeIntervalSince1970: 1_798_675_200))
        #expect(gh.notBefore == Date(timeIntervalSince1970: 1_767_267_000.5))
        #expect(gh.rotateEvery == .seconds(90 * 86_400))
        #expect(gh.previous == .environment(variable: "GH_TOKEN_OLD"))
        #expect(configuration.watch)
    }

    @Test(
        "bad lifecycle keys are refused with file:line",
        arguments: [
            ("  expires: next tuesday", "expires 'next tuesday' is not an RFC 3339 time", 4),
            ("  expires: 2026-01-01T00:00:00Z\n    not_before: 2026-02-01T00:00:00Z", "not_before must be earlier", 5),
            ("  rotate_every: often", "rotate_every must be", 4),
            ("  not_before: 2026-13-01T00:00:00Z", "not_before '2026-13-01T00:00:00Z' is not an RFC 3339", 4),
        ]
    )
    func badKeys(line: String, message: String, lineNumber: Int) throws {
        let yaml = "credentials:\n  gh:\n    source: env:GH_TOKEN\n  " + line + "\n"
        let error = try #require(parseError(yaml))
        #expect(error.description.hasPrefix("test.yaml:\(lineNumber): "), "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }

    @Test("previous is only for single tokens, and is read like the main source")
    func previousNeedsToken() throws {
        let yaml = """
            credentials:
              aws:
                type: aws
                access_key_id: env:A
                secret_access_key: env:B
                previous: env:C
            """
        let error = try #require(parseError(yaml))
        #expect(error.description.contains("previous is only for single-token credentials"), "\(error)")
        #expect(error.description.hasPrefix("test.yaml:6: "), "\(error)")

        let configuration = try ConfigurationLoader.parse(
            yaml: "credentials:\n  gh: { source: env:NEW, previous: env:OLD }\n", file: "t.yaml"
        )
        let store = try CredentialStore(
            configuration: configuration, resolver: SecretResolver(environment: ["NEW": "n", "OLD": "o"])
        )
        #expect(store.previousValues["gh"] == Secret("o"))
        #expect(throws: ConfigurationErrors.self) {
            try CredentialStore(configuration: configuration, resolver: SecretResolver(environment: ["NEW": "n"]))
        }
    }

    @Test("state: revocation outranks the window; expired from expires on; not yet valid before not_before")
    func states() {
        let start = Date(timeIntervalSince1970: 1_000)
        let end = Date(timeIntervalSince1970: 2_000)
        var lifecycle = CredentialLifecycle()
        lifecycle.windows["w"] = .init(notBefore: start, expires: end)
        #expect(lifecycle.state(of: "w", at: Date(timeIntervalSince1970: 999)) == .notYetValid(start))
        #expect(lifecycle.state(of: "w", at: start) == .active)
        #expect(lifecycle.state(of: "w", at: end) == .expired(end))
        #expect(lifecycle.refusal(for: "w", at: end) == "credential revoked: 'w' (expired)")
        #expect(lifecycle.refusal(for: "w", at: Date(timeIntervalSince1970: 1_500)) == nil)
        #expect(lifecycle.refusal(for: "other", at: end) == nil)

        lifecycle.revocations["w"] = Revocation(reason: "leaked", time: start)
        let during = Date(timeIntervalSince1970: 1_500)
        #expect(lifecycle.refusal(for: "w", at: during) == "credential revoked: 'w' (leaked)")
        lifecycle.revocations["w"] = Revocation(reason: nil, time: start)
        #expect(lifecycle.state(of: "w", at: start).reason == "no reason given")
    }

    @Test("a store keeps its revocations and windows when a refreshed value replaces one")
    func storeCarriesLifecycle() throws {
        var configuration = ProxyConfiguration()
        var credential = CredentialConfiguration(
            name: "gh", source: .environment(variable: "GH"), location: SourceLocation(file: "t.yaml")
        )
        credential.expires = Date(timeIntervalSince1970: 10)
        configuration.credentials = [credential]
        let resolver = SecretResolver(environment: ["GH": "v1"])
        let store = try CredentialStore(configuration: configuration, resolver: resolver)
            .revoking(["gh": Revocation(reason: "r", time: Date())])
        let refreshed = store.replacing("gh", with: .token(Secret("v2")))
        #expect(refreshed.lifecycle.revocations["gh"]?.reason == "r")
        #expect(refreshed.lifecycle.windows["gh"]?.expires == Date(timeIntervalSince1970: 10))
    }
}
