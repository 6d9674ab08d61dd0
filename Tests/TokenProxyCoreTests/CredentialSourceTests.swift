import Testing

@testable import TokenProxyCore

@Suite("CredentialSource")
struct CredentialSourceTests {
    @Test("env: and file: sources parse and describe themselves", arguments: [
        ("env:GITHUB_TOKEN", CredentialSource.environment(variable: "GITHUB_TOKEN"), "env"),
        ("env:_lower_1", CredentialSource.environment(variable: "_lower_1"), "env"),
        ("file:/run/secrets/token", CredentialSource.file(path: "/run/secrets/token"), "file"),
        ("file:relative/token", CredentialSource.file(path: "relative/token"), "file"),
        ("file:/path:with:colons", CredentialSource.file(path: "/path:with:colons"), "file"),
    ])
    func parses(text: String, expected: CredentialSource, kind: String) throws {
        let source = try CredentialSource(parsing: text)
        #expect(source == expected)
        #expect(source.description == text)
        #expect(source.kind == kind)
    }

    @Test("a token pasted where a source belongs is not echoed in the error", arguments: [
        "bare", "env:", "unknown kind", "sealed:",
    ])
    func pastedTokenNotEchoed(shape: String) throws {
        let canary = makeCanary()  // contains '-', so it is not a valid variable name either
        let text: String
        switch shape {
        case "bare": text = canary
        case "env:": text = "env:" + canary
        case "unknown kind": text = canary + ":" + canary
        default: text = "sealed:" + canary
        }
        var messages: [String] = []
        do {
            _ = try CredentialSource(parsing: text)
            Issue.record("the source was accepted")
        } catch {
            messages.append(error.description)
        }
        let yaml = "credentials:\n  github:\n    source: \"\(text)\"\n"
        messages.append(parseError(yaml)?.description ?? "")
        let leaked = messages.contains { $0.contains(canary) }
        #expect(!leaked, "error message leaked the secret")
        let refused = messages.allSatisfy { !$0.isEmpty }
        #expect(refused, "the source was not refused")
    }

    @Test("bad source syntax is refused with a reason", arguments: [
        ("vault:x", "unknown source kind 'vault'"),
        ("ENV:X", "unknown source kind 'ENV'"),
        ("env:", "source 'env:' names nothing after the colon"),
        ("file:", "source 'file:' names nothing after the colon"),
        ("sealed:", "source 'sealed:' names nothing after the colon"),
        ("env:BAD-NAME", "'BAD-NAME' is not a valid environment variable name"),
        ("env:A B", "'A B' is not a valid environment variable name"),
        ("env:X=Y", "'X=Y' is not a valid environment variable name"),
        ("GITHUB_TOKEN", "needs a kind"),
        ("", "needs a kind"),
    ])
    func refused(text: String, reason: String) {
        do {
            _ = try CredentialSource(parsing: text)
            Issue.record("'\(text)' was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }
}
