import Testing
import TokenProxyCore
import TokenProxyScan

/// Configured tokens are found by fingerprint, named by credential, and never shown.
@Suite("configured tokens")
struct ConfiguredTokensTests {
    static func scanner(_ values: [(String, String)], placeholders: [(String, String?)] = []) -> ContentScanner {
        ContentScanner(
            configured: ConfiguredTokens(values: values.map { (name: $0.0, secret: Secret($0.1)) }),
            placeholders: Placeholders(credentials: placeholders.map { (name: $0.0, placeholder: $0.1) })
        )
    }

    @Test("a configured value is found with its credential's name, its line, and a preview without characters")
    func found() {
        let value = "internal-" + FakeTokens.random(24)
        let scanner = Self.scanner([("billing", value)])
        let text = "a: 1\nb: 2\nurl: https://user:\(value)@example.com/\n"
        let hits = scanner.scan(Array(text.utf8))
        #expect(hits.count == 1)
        #expect(hits.first?.kind == .configuredToken)
        #expect(hits.first?.credential == "billing")
        #expect(hits.first?.line == 3)
        #expect(hits.first?.preview == "(\(value.utf8.count) chars)")
        #expect(hits.first?.fingerprint == nil)
    }

    @Test("a value with delimiter characters of its own (a JWT's dots, base64's / + =) is still found whole")
    func delimitersInValue() {
        let jwt = FakeTokens.random(20) + "." + FakeTokens.random(30) + "." + FakeTokens.random(25)
        let base64 = FakeTokens.random(20) + "/" + FakeTokens.random(10) + "+" + FakeTokens.random(5) + "=="
        let scanner = Self.scanner([("jwt", jwt), ("b64", base64)])
        let text = "Authorization: Bearer \(jwt)\nkey=\"\(base64)\"\n"
        let hits = scanner.scan(Array(text.utf8))
        #expect(hits.map(\.credential) == ["jwt", "b64"])
        #expect(hits.map(\.line) == [1, 2])
    }

    @Test("a configured value inside a longer word, or a prefix of it, is not a match")
    func wholeCandidatesOnly() {
        let value = FakeTokens.random(30)
        let scanner = Self.scanner([("svc", value)])
        #expect(scanner.scan(Array("x\(value)x\n".utf8)).isEmpty)
        #expect(scanner.scan(Array("\(value.dropLast())\n".utf8)).isEmpty)
    }

    @Test("a configured value that is also a well-known shape is reported once, as the configured credential")
    func configuredWinsOverShape() {
        let token = FakeTokens.github()
        let hits = Self.scanner([("github", token)]).scan(Array("GITHUB_TOKEN=\(token)\n".utf8))
        #expect(hits.map(\.kind) == [.configuredToken])
        #expect(hits.first?.credential == "github")
    }

    @Test("a value shorter than 8 characters is not looked for, with a notice that does not show it")
    func shortValue() {
        let tokens = ConfiguredTokens(values: [(name: "pin", secret: Secret("4711x"))])
        #expect(tokens.isEmpty)
        #expect(tokens.notices.count == 1)
        #expect(tokens.notices.first?.contains("pin") == true)
        #expect(tokens.notices.first?.contains("4711x") == false)
    }

    @Test("a placeholder is never a finding, even when it looks like a token")
    func placeholders() {
        let lookalike = FakeTokens.github()
        let scanner = Self.scanner([], placeholders: [("github", lookalike)])
        #expect(scanner.scan(Array("GITHUB_TOKEN=\(lookalike)\n".utf8)).isEmpty)
        #expect(!ContentScanner().scan(Array("GITHUB_TOKEN=\(lookalike)\n".utf8)).isEmpty)
    }

    @Test("every credential kind of a store is looked for: tokens, AWS secret keys and session tokens, OAuth secrets")
    func fromStore() {
        let token = FakeTokens.random(30)
        let secretKey = FakeTokens.awsSecret()
        let session = FakeTokens.random(60)
        let store = CredentialStore(
            values: [
                "plain": .token(Secret(token)),
                "aws": .aws(
                    AWSCredentials(
                        accessKeyID: FakeTokens.awsKeyID(), secretAccessKey: Secret(secretKey),
                        sessionToken: Secret(session)
                    )
                ),
            ],
            rules: []
        )
        let scanner = ContentScanner(configured: ConfiguredTokens(store: store))
        let hits = scanner.scan(Array("a=\(token)\nb=\(secretKey)\nc=\(session)\n".utf8))
        #expect(hits.map(\.credential) == ["plain", "aws", "aws"])
    }
}
