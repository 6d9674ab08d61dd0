import Foundation
import Testing

@testable import TokenProxyCore

@Suite("Secret")
struct SecretTests {
    private struct Holder {
        var name: String
        var secret: Secret
    }

    /// Every way a value commonly ends up in text by accident.
    private static func renderings(of secret: Secret) -> [String] {
        var dumped = ""
        dump(secret, to: &dumped)
        var dumpedHolder = ""
        dump(Holder(name: "github", secret: secret), to: &dumpedHolder)
        var dumpedOptional = ""
        dump(Optional(secret), to: &dumpedOptional)
        return [
            secret.description,
            secret.debugDescription,
            String(describing: secret),
            String(reflecting: secret),
            "\(secret)",
            "\([secret])",
            "\(["github": secret])",
            "\(Optional(secret) as Any)",
            String(describing: Holder(name: "github", secret: secret)),
            String(reflecting: Holder(name: "github", secret: secret)),
            dumped,
            dumpedHolder,
            dumpedOptional,
        ]
    }

    @Test("no textual rendering shows the value")
    func redacted() {
        let canary = makeCanary()
        let secret = Secret(canary)
        for (index, text) in Self.renderings(of: secret).enumerated() {
            let leaked = text.contains(canary) || text.contains("tpcanary")
            #expect(!leaked, "rendering \(index) leaked the secret")
        }
        // Compared first and asserted as Bools, so a failure cannot print the value.
        let exact = [secret.description, secret.debugDescription, "\(secret)", String(reflecting: secret)]
            .allSatisfy { $0 == "<redacted>" }
        #expect(exact, "a direct rendering is not exactly <redacted>")
    }

    @Test("a secret built from bytes is redacted too")
    func redactedBytes() {
        let canary = makeCanary()
        let secret = Secret(bytes: Array(canary.utf8))
        for (index, text) in Self.renderings(of: secret).enumerated() {
            let leaked = text.contains(canary)
            #expect(!leaked, "rendering \(index) leaked the secret")
        }
    }

    @Test("reflection shows no children")
    func mirrorHasNoChildren() {
        let mirror = Mirror(reflecting: Secret(makeCanary()))
        #expect(mirror.children.isEmpty)
    }

    @Test("the value is available through withUnsafeString and withUnsafeBytes")
    func unsafeAccess() {
        let canary = makeCanary()
        let secret = Secret(canary)
        let sameString = secret.withUnsafeString { $0 == canary }
        #expect(sameString)
        let sameBytes = secret.withUnsafeBytes { Array($0) == Array(canary.utf8) }
        #expect(sameBytes)
        #expect(secret.count == canary.utf8.count)
        #expect(Secret("ä").count == 2)
    }

    @Test("equality compares values")
    func equality() {
        #expect(Secret("a") == Secret(bytes: [0x61]))
        #expect(Secret("a") != Secret("b"))
    }

    @Test("header-unsafe bytes are detected", arguments: [
        ("plain-token_123", false), ("with\ttab", false), ("caf\u{E9}", false), ("line\nbreak", true),
        ("carriage\rreturn", true), ("nul\u{0}", true), ("escape\u{1B}", true), ("delete\u{7F}", true),
    ])
    func headerUnsafe(text: String, unsafe: Bool) {
        #expect(Secret(text).containsHeaderUnsafeBytes == unsafe)
    }
}
