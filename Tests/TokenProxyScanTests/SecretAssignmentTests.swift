import Testing
import TokenProxyScan

/// The generic rule: high-entropy literals assigned to secret-sounding names, and the entropy measure behind it.
@Suite("generic secret assignments")
struct SecretAssignmentTests {
    @Test("Shannon entropy: 0 for one repeated character, log2(n) for n distinct ones")
    func entropy() {
        #expect(ShannonEntropy.bitsPerCharacter(Array("aaaaaaaa".utf8)) == 0)
        #expect(ShannonEntropy.bitsPerCharacter(Array("abcd".utf8)) == 2)
        #expect(ShannonEntropy.bitsPerCharacter(Array("abcdefghijklmnop".utf8)) == 4)
        #expect(ShannonEntropy.bitsPerCharacter(Array("aabb".utf8)) == 1)
        #expect(ShannonEntropy.bitsPerCharacter([UInt8]()) == 0)
    }

    static let found: [String] = [
        "API_TOKEN=%@",
        "export DEPLOY_KEY='%@'",
        "client_secret: \"%@\"",
        "  \"apiKey\": \"%@\",",
        "db.password = %@",
        "const ADMIN_PASSWORD_HASH := `%@`",
        "token => '%@'",
    ]

    @Test("a random value assigned to a secret name is a generic-secret finding", arguments: found)
    func assignment(template: String) {
        let value = FakeTokens.random(32)
        let line = template.replacingOccurrences(of: "%@", with: value)
        let hits = ContentScanner().scan(Array("# config\n\(line)\n".utf8))
        #expect(hits.map(\.kind) == [.genericSecret], "\(line)")
        #expect(hits.first?.line == 2)
        #expect(hits.first?.preview == String(value.prefix(4)) + "…(32 chars)")
    }

    static let notFound: [String] = [
        "API_TOKEN=${API_TOKEN}",  // a reference
        "API_TOKEN = os.environ[\"API_TOKEN\"]",  // an expression
        "password: your-password-goes-here",  // words: one character class
        "SECRET_KEY = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaA1\"",  // low entropy
        "COMMIT_SHA = \"%@\"",  // not a secret name
        "PUBLIC_KEY = \"%@\"",  // a public key
        "if token == \"%@\" {",  // a comparison
        "API_KEY = \"Ab3dEf9h\"",  // too short
        "API_TOKEN = \"{{tokenproxy:github}}\"",  // the default placeholder
        "client_secret: env:OKTA_CLIENT_SECRET_2",  // a tokenproxy source reference
        "source_token: sealed:v1.%@",  // a sealed blob, made to be committed
        "let privateKey: P256.Signing.PrivateKey",  // a type annotation
        "let sessionToken = credentials.sessionToken2?.value",  // an expression
        "DEPLOY_KEY = \"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef\"",  // letters only: a word list, not random
    ]

    @Test(
        "references, expressions, words, low entropy, other names and comparisons are not findings",
        arguments: notFound
    )
    func nonSecret(template: String) {
        let line = template.replacingOccurrences(of: "%@", with: FakeTokens.random(32))
        let hits = ContentScanner().scan(Array("\(line)\n".utf8))
        #expect(hits.isEmpty, "\(line): \(hits.map(\.kind.rawValue))")
    }

    @Test("a specific shape assigned to a secret name is reported once, as the shape")
    func specificShapeWins() {
        let token = FakeTokens.github()
        let hits = ContentScanner().scan(Array("GITHUB_TOKEN=\(token)\n".utf8))
        #expect(hits.map(\.kind) == [.githubToken])
    }
}
