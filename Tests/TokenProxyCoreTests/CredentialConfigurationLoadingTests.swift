import Testing
import TokenProxyCore

/// Loading of the credential kinds, sources and injection forms beyond a single header.
@Suite("Credential and injection configuration")
struct CredentialConfigurationLoadingTests {
    @Test("every injection form, the AWS and OAuth kinds, and the source forms load")
    func fullConfiguration() throws {
        let yaml = """
            credentials:
              gh:
                source: { command: [op, read, "op://vault/gh"], timeout: 3s, env: [OP_SESSION] }
                placeholder: ph_live_github_1
                ttl: 10m
              aws:
                type: aws
                access_key_id: env:AWS_ID
                secret_access_key: file:/run/aws-secret
                session_token: env:AWS_SESSION
              okta:
                type: oauth2
                token_url: https://auth.example.com/oauth/token
                client_id: my-client
                client_secret: env:OKTA_SECRET
                scope: read write
            rules:
              - { host: api.github.com, path: "/repos/*/issues", credential: gh, inject: { basic: { username: x, password: "{{secret}}" } } }
              - { host: api.github.com, credential: gh, inject: { query: access_token }, require: true }
              - { host: uploads.github.com, credential: gh, inject: { placeholder: true }, body: true, max_body: 2048 }
              - { host: s3.amazonaws.com, credential: aws, inject: { aws_sigv4: { region: eu-west-1, service: s3 } } }
              - { host: api.okta.example.com, credential: okta }
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "full.yaml")
        let gh = try #require(configuration.credential(named: "gh"))
        guard case .token(.command(let command)) = gh.kind else {
            Issue.record("expected a command source")
            return
        }
        #expect(command.argv == ["op", "read", "op://vault/gh"])
        #expect(command.timeout == .seconds(3))
        #expect(command.passedVariables == ["OP_SESSION"])
        #expect(gh.placeholder == "ph_live_github_1")
        #expect(gh.refreshInterval == .seconds(600))
        guard case .aws(.environment("AWS_ID"), .file("/run/aws-secret"), .environment("AWS_SESSION")) =
            configuration.credential(named: "aws")?.kind
        else {
            Issue.record("expected AWS sources")
            return
        }
        guard case .oauth2(let oauth) = configuration.credential(named: "okta")?.kind else {
            Issue.record("expected an OAuth credential")
            return
        }
        #expect(oauth.tokenURL == "https://auth.example.com/oauth/token" && oauth.scope == "read write")

        let rules = configuration.rules
        #expect(rules[0].path?.description == "/repos/*/issues")
        guard case .basic = rules[0].injection else { Issue.record("rule 0 should be basic"); return }
        #expect(rules[1].injection == .query(name: "access_token") && rules[1].require)
        #expect(rules[2].injection == .placeholder && rules[2].bodyLimit == 2048)
        #expect(rules[3].injection == .awsSigV4(region: "eu-west-1", service: "s3"))
        guard case .header("Authorization", let template) = rules[4].injection else {
            Issue.record("an OAuth rule without inject should be a bearer header")
            return
        }
        #expect(template.prefix == "Bearer ")
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        var line: Int
        var words: String
        var testDescription: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "aws_sigv4 with a token credential", yaml: """
            credentials: { t: { source: env:T } }
            rules:
              - host: a.example.com
                credential: t
                inject: { aws_sigv4: { region: us-east-1, service: s3 } }
            """, line: 5, words: "not of type: aws"),
        Bad(name: "a header form with AWS keys", yaml: """
            credentials: { k: { type: aws, access_key_id: env:A, secret_access_key: env:B } }
            rules:
              - host: a.example.com
                credential: k
                inject: { header: X, value: "{{secret}}" }
            """, line: 5, words: "cannot be used"),
        Bad(name: "two inject forms", yaml: """
            credentials: { t: { source: env:T } }
            rules:
              - host: a.example.com
                credential: t
                inject: { query: k, placeholder: true }
            """, line: 5, words: "exactly one of"),
        Bad(name: "basic without a secret", yaml: """
            credentials: { t: { source: env:T } }
            rules:
              - host: a.example.com
                credential: t
                inject: { basic: { username: a, password: b } }
            """, line: 5, words: "{{secret}}"),
        Bad(name: "an unknown credential type", yaml: """
            credentials:
              t:
                type: kerberos
                source: env:T
            """, line: 3, words: "unknown"),
        Bad(name: "plain http token URL off loopback", yaml: """
            credentials:
              o:
                type: oauth2
                token_url: http://auth.example.com/token
                client_id: c
                client_secret: env:S
            """, line: 4, words: "https"),
        Bad(name: "a short placeholder", yaml: """
            credentials:
              t:
                source: env:T
                placeholder: abc
            """, line: 4, words: "at least 8"),
        Bad(name: "a bad ttl", yaml: """
            credentials:
              t:
                source: env:T
                ttl: soon
            """, line: 4, words: "duration"),
        Bad(name: "max_body without body", yaml: """
            credentials: { t: { source: env:T } }
            rules:
              - host: a.example.com
                credential: t
                inject: { placeholder: true }
                max_body: 10
            """, line: 6, words: "body: true"),
        Bad(name: "a command without a program", yaml: """
            credentials:
              t:
                source: { command: [] }
            """, line: 3, words: "program"),
        Bad(name: "a malformed sealed blob", yaml: """
            credentials:
              t:
                source: sealed:not-a-blob
            """, line: 3, words: "sealed blob"),
    ]

    @Test("mismatched forms and bad credential settings name file:line", arguments: bad)
    func refused(_ bad: Bad) throws {
        let error = try #require(parseError(bad.yaml, file: "bad.yaml"))
        #expect(error.description.hasPrefix("bad.yaml:\(bad.line): "))
        #expect(error.message.contains(bad.words))
    }
}
