import Foundation
import Testing

@testable import TokenProxyCore

@Suite("CredentialStore")
struct CredentialStoreTests {
    /// Two credentials and three rules; `optional` marks the second credential optional.
    private static func configuration(optional: Bool = true) throws -> ProxyConfiguration {
        let yaml = """
            credentials:
              github:
                source: env:GITHUB_TOKEN
              openai:
                source: env:OPENAI_API_KEY
                optional: \(optional)
            rules:
              - host: api.github.com
                credential: github
                inject: { header: Authorization, value: "Bearer {{secret}}" }
              - host: api.openai.com
                credential: openai
                inject: { header: Authorization, value: "Bearer {{secret}}" }
              - host: "*.openai.com"
                credential: openai
                inject: { header: Authorization, value: "Bearer {{secret}}" }

            """
        return try ConfigurationLoader.parse(yaml: yaml, file: "store.yaml")
    }

    @Test("every resolved credential is in memory and every rule stays")
    func allResolved() throws {
        let github = makeCanary()
        let openai = makeCanary()
        let store = try CredentialStore(
            configuration: Self.configuration(),
            resolver: SecretResolver(environment: ["GITHUB_TOKEN": github, "OPENAI_API_KEY": openai])
        )
        #expect(store.loadedCredentialNames == ["github", "openai"])
        let githubResolved = secret(store.secret(named: "github"), equals: github)
        let openaiResolved = secret(store.secret(named: "openai"), equals: openai)
        #expect(githubResolved)
        #expect(openaiResolved)
        #expect(store.secret(named: "stripe") == nil)
        #expect(store.rules.rules.map(\.index) == [0, 1, 2])
        #expect(store.notices.isEmpty)
    }

    @Test("an absent optional credential drops its rules and adds one notice")
    func optionalAbsentDropsRules() throws {
        let github = makeCanary()
        let store = try CredentialStore(
            configuration: Self.configuration(), resolver: SecretResolver(environment: ["GITHUB_TOKEN": github])
        )
        #expect(store.loadedCredentialNames == ["github"])
        #expect(store.secret(named: "openai") == nil)
        #expect(store.rules.rules.map(\.index) == [0])
        #expect(store.rules.rules.map(\.credential) == ["github"])
        #expect(!store.rules.covers(host: "api.openai.com", port: 443))
        #expect(store.rules.covers(host: "api.github.com", port: 443))
        #expect(store.notices.count == 1)
        let notice = try #require(store.notices.first)
        #expect(notice.contains("'openai'"))
        #expect(notice.contains("OPENAI_API_KEY"))
        #expect(notice.contains("2 rules using it disabled"))
        #expect(!notice.contains("\n"))
    }

    @Test("the notice counts one rule in the singular")
    func singularNotice() throws {
        let yaml = """
            credentials:
              stripe: { source: env:STRIPE_API_KEY, optional: true }
            rules:
              - host: api.stripe.com
                credential: stripe
                inject: { header: Authorization, value: "Bearer {{secret}}" }

            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "s.yaml")
        let store = try CredentialStore(configuration: configuration, resolver: SecretResolver(environment: [:]))
        #expect(store.notices == [
            "credential 'stripe' is optional and environment variable STRIPE_API_KEY is not set; "
                + "1 rule using it disabled"
        ])
        #expect(store.rules.rules.isEmpty)
    }

    @Test("a missing required credential is an error naming its source line")
    func requiredMissing() throws {
        #expect {
            try CredentialStore(
                configuration: Self.configuration(), resolver: SecretResolver(environment: ["OPENAI_API_KEY": "x"])
            )
        } throws: { error in
            guard let errors = error as? ConfigurationErrors else { return false }
            return errors.errors.count == 1 && errors.errors[0].description.hasPrefix("store.yaml:3: ")
                && errors.errors[0].message.contains("GITHUB_TOKEN is not set")
        }
    }

    @Test("every broken source is reported at once, in file order, without any value")
    func allErrorsCollected() throws {
        let canary = makeCanary()
        let configuration = try Self.configuration(optional: false)
        do {
            _ = try CredentialStore(
                configuration: configuration,
                // GITHUB_TOKEN is broken (a line break), OPENAI_API_KEY is absent.
                resolver: SecretResolver(environment: ["GITHUB_TOKEN": canary + "\n", "UNUSED": canary])
            )
            Issue.record("the store resolved")
        } catch {
            let description = error.description
            let leaked = description.contains(canary)
            #expect(!leaked, "error message leaked the secret")
            #expect(error.errors.count == 2)
            #expect(error.errors.map(\.location.line) == [3, 5])
            // Asserted as Bools so that a failure cannot print a leaked value.
            let firstIsLineBreak = error.errors.first?.message.contains("line break") == true
            let lastIsUnset = error.errors.last?.message.contains("OPENAI_API_KEY is not set") == true
            #expect(firstIsLineBreak)
            #expect(lastIsUnset)
            #expect(description.split(separator: "\n").count == 2)
        }
    }

    @Test("an empty optional variable is still an error")
    func optionalEmptyIsError() throws {
        #expect(throws: ConfigurationErrors.self) {
            try CredentialStore(
                configuration: Self.configuration(),
                resolver: SecretResolver(environment: ["GITHUB_TOKEN": "g", "OPENAI_API_KEY": ""])
            )
        }
    }

    @Test("the direct initialiser keeps only rules whose credential has a value")
    func directInitialiser() throws {
        let rules = [
            try makeRule(index: 0, host: "a.example.com", credential: "a"),
            try makeRule(index: 1, host: "b.example.com", credential: "b"),
            try makeRule(index: 2, host: "c.example.com", credential: "a"),
        ]
        let store = CredentialStore(values: ["a": Secret("x")], rules: rules, notices: ["n"])
        #expect(store.rules.rules.map(\.index) == [0, 2])
        #expect(store.notices == ["n"])
        #expect(store.loadedCredentialNames == ["a"])
    }

    @Test("describing or dumping a store never shows a value")
    func storeIsRedacted() throws {
        let canary = makeCanary()
        let store = try CredentialStore(
            configuration: Self.configuration(),
            resolver: SecretResolver(environment: ["GITHUB_TOKEN": canary, "OPENAI_API_KEY": canary])
        )
        var dumped = ""
        dump(store, to: &dumped)
        let leaked = [String(describing: store), String(reflecting: store), "\(store)", dumped]
            .contains { $0.contains(canary) }
        #expect(!leaked, "a rendering of the store leaked the secret")
    }
}
