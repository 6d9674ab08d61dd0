import Testing
import TokenProxyScan

/// The well-known shapes: each true positive is found once with its kind; each near miss is not a finding.
@Suite("token shapes")
struct TokenShapeTests {
    static let positives: [(String, FindingKind)] = [
        (FakeTokens.github("ghp"), .githubToken),
        (FakeTokens.github("gho"), .githubToken),
        (FakeTokens.github("ghu"), .githubToken),
        (FakeTokens.github("ghs"), .githubToken),
        (FakeTokens.github("ghr"), .githubToken),
        (FakeTokens.githubFineGrained(), .githubFineGrainedToken),
        (FakeTokens.awsKeyID("AKIA"), .awsAccessKeyID),
        (FakeTokens.awsKeyID("ASIA"), .awsAccessKeyID),
        (FakeTokens.slack("b"), .slackToken),
        (FakeTokens.slack("p"), .slackToken),
        (FakeTokens.stripe("sk"), .stripeLiveKey),
        (FakeTokens.stripe("rk"), .stripeLiveKey),
        (FakeTokens.openAI(), .openAIKey),
        (FakeTokens.openAILegacy(), .openAIKey),
        (FakeTokens.anthropic(), .anthropicKey),
    ]

    @Test(
        "a well-known token in a line of code is found, with its kind, line and a redacted preview",
        arguments: positives
    )
    func positive(token: String, kind: FindingKind) {
        let text = "first line\nclient = Client(token: \"\(token)\")\nlast line\n"
        let hits = ContentScanner().scan(Array(text.utf8))
        #expect(hits.count == 1, "\(kind.rawValue): \(hits.map(\.kind.rawValue))")
        #expect(hits.first?.kind == kind)
        #expect(hits.first?.line == 2)
        #expect(hits.first?.preview == String(token.prefix(4)) + "…(\(token.utf8.count) chars)")
        #expect(hits.first?.fingerprint?.hasPrefix("hmac-sha256:") == true)
    }

    static let nearMisses: [String] = [
        "ghp" + "_" + FakeTokens.random(35),  // one short
        "ghp" + "_" + FakeTokens.random(37),  // one long
        "ghx" + "_" + FakeTokens.random(36),  // unknown GitHub prefix
        "ghp" + "_" + FakeTokens.random(20) + "-" + FakeTokens.random(15),  // not base62
        "github" + "_pat_" + FakeTokens.random(81),  // no separator
        "AKIA" + FakeTokens.random(15, from: FakeTokens.upperDigits),  // short
        "AKIA" + FakeTokens.random(16).lowercased(),  // lower case
        "AKIB" + FakeTokens.random(16, from: FakeTokens.upperDigits),  // other prefix
        "xoxo" + "-" + "hugs-and-kisses-from-everyone",  // not a Slack token type
        "xoxb" + "-" + "no-digits-in-this-value-at-all",  // no ids
        "sk" + "_test_" + FakeTokens.random(24),  // Stripe test mode
        "sk" + "_live_" + FakeTokens.random(10),  // short
        "sk-" + "learn-is-a-python-library-name-not-a-key",  // words
        "sk-" + FakeTokens.random(20),  // short
        "sk-" + "ant-" + "short",  // short
    ]

    @Test("a near miss of a well-known shape is not a finding", arguments: nearMisses)
    func nearMiss(text: String) {
        let hits = ContentScanner().scan(Array("value = \(text)\n".utf8))
        #expect(hits.isEmpty, "found \(hits.map(\.kind.rawValue))")
    }

    @Test("a token glued to other word characters is not cut out of them")
    func embeddedInWord() {
        let text = "prefix" + FakeTokens.github() + "\n"
        #expect(ContentScanner().scan(Array(text.utf8)).isEmpty)
    }

    @Test("an AWS key id with a 40-character secret nearby reports both; a lone 40-character string is not a finding")
    func awsPair() {
        let keyID = FakeTokens.awsKeyID()
        let secret = FakeTokens.awsSecret()
        let paired = "[default]\naws_access_key_id = \(keyID)\naws_secret_access_key = \(secret)\n"
        let hits = ContentScanner().scan(Array(paired.utf8))
        #expect(hits.map(\.kind) == [.awsAccessKeyID, .awsSecretAccessKey])
        #expect(hits.map(\.line) == [2, 3])

        let alone = "checksum: \(secret)\n"
        #expect(ContentScanner().scan(Array(alone.utf8)).isEmpty)

        let far = "id: \(keyID)\n" + String(repeating: "filler\n", count: 8) + "other: \(secret)\n"
        #expect(ContentScanner().scan(Array(far.utf8)).map(\.kind) == [.awsAccessKeyID])
    }

    @Test("AWS's documentation example keys (…EXAMPLE, …EXAMPLEKEY) are not findings")
    func awsDocumentationExamples() {
        let text = "aws_access_key_id = AKIA" + "IOSFODNN7EXAMPLE\n"
            + "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY\n"
        #expect(ContentScanner().scan(Array(text.utf8)).isEmpty)
    }

    @Test("a PEM private key block is found at its BEGIN line, also written with \\n escapes")
    func privateKeyBlocks() {
        for label in ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"] {
            let text = "key:\n" + FakeTokens.privateKeyBlock(label)
            let hits = ContentScanner().scan(Array(text.utf8))
            #expect(hits.map(\.kind) == [.privateKey], "\(label)")
            #expect(hits.first?.line == 2)
        }
        let escaped = #"let key = "-----BEGIN PRIVATE KEY-----\n"# + FakeTokens.random(64)
            + #"\n-----END PRIVATE KEY-----""#
        #expect(ContentScanner().scan(Array(escaped.utf8)).map(\.kind) == [.privateKey])
    }

    @Test("a PEM header without key material, or a public key or certificate, is not a finding")
    func privateKeyNearMisses() {
        let headerOnly = #"guard pem.hasPrefix("-----BEGIN PRIVATE KEY-----") else { return }"# + "\n"
        #expect(ContentScanner().scan(Array(headerOnly.utf8)).isEmpty)
        let publicKey = FakeTokens.privateKeyBlock("PUBLIC KEY")
        #expect(ContentScanner().scan(Array(publicKey.utf8)).isEmpty)
        let certificate = FakeTokens.privateKeyBlock("CERTIFICATE")
        #expect(ContentScanner().scan(Array(certificate.utf8)).isEmpty)
    }

    @Test("binary contents are recognised by a NUL byte near the start")
    func binary() {
        #expect(ContentScanner.isBinary([0x50, 0x4B, 0x03, 0x04, 0x00, 0x01]))
        #expect(!ContentScanner.isBinary(Array("plain text\n".utf8)))
    }
}
