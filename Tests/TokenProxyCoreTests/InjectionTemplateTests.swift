import Testing

@testable import TokenProxyCore

@Suite("InjectionTemplate")
struct InjectionTemplateTests {
    @Test("render puts the secret in the slot", arguments: [
        ("Bearer {{secret}}", "Bearer tok-123"),
        ("{{secret}}", "tok-123"),
        ("token={{secret}}; scheme=v2", "token=tok-123; scheme=v2"),
        ("Basic {{secret}}==", "Basic tok-123=="),
        ("{ {{secret}} }", "{ tok-123 }"),
    ])
    func render(template: String, expected: String) throws {
        let parsed = try InjectionTemplate(template)
        #expect(parsed.render(Secret("tok-123")) == expected)
    }

    @Test("prefix and suffix are split once at parse time")
    func prefixAndSuffix() throws {
        let template = try InjectionTemplate("key={{secret}};v=1")
        #expect(template.prefix == "key=")
        #expect(template.suffix == ";v=1")
    }

    @Test("render keeps multi-byte UTF-8 in the secret intact")
    func renderUTF8() throws {
        let template = try InjectionTemplate("X {{secret}} Y")
        #expect(template.render(Secret("pässwörd")) == "X pässwörd Y")
        #expect(template.render(Secret(bytes: Array("ok".utf8))) == "X ok Y")
    }

    @Test("templates are refused with a reason", arguments: [
        ("Bearer", "must contain {{secret}}"),
        ("", "must contain {{secret}}"),
        ("{{ secret }}", "must contain {{secret}}"),
        ("{{SECRET}}", "must contain {{secret}}"),
        ("{{secret}}{{secret}}", "exactly once"),
        ("a {{secret}} b {{secret}} c {{secret}}", "exactly once"),
        ("{{user}}:{{secret}}", "unknown placeholder"),
        ("{{secret}} {{region}}", "unknown placeholder"),
        ("{{secret}}}}", "unknown placeholder"),
        ("Bearer\n{{secret}}", "control character"),
        ("{{secret}}\r\nX-Evil: 1", "control character"),
        ("Bearer {{secret}}\u{7F}", "control character"),
    ])
    func refused(text: String, reason: String) {
        do {
            _ = try InjectionTemplate(text)
            Issue.record("template was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    @Test("a template may be a plain literal when the secret is not required")
    func literalWhenNotRequired() throws {
        let literal = try InjectionTemplate("deploy-bot", secretRequired: false)
        #expect(!literal.containsSecret)
        #expect(literal.render(Secret("tok-123")) == "deploy-bot")
        let withSecret = try InjectionTemplate("{{secret}}", secretRequired: false)
        #expect(withSecret.containsSecret)
        #expect(withSecret.render(Secret("tok-123")) == "tok-123")
        #expect(try InjectionTemplate("Bearer {{secret}}").containsSecret)
    }

    @Test("a literal template is checked like any other", arguments: [
        ("{{user}}", "unknown placeholder"),
        ("{{secret}}{{secret}}", "exactly once"),
        ("bot\r\nX-Evil: 1", "control character"),
        ("bot\u{0}", "control character"),
    ])
    func literalChecked(text: String, reason: String) {
        do {
            _ = try InjectionTemplate(text, secretRequired: false)
            Issue.record("template was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    @Test("equal templates are equal")
    func equality() throws {
        #expect(try InjectionTemplate("Bearer {{secret}}") == InjectionTemplate("Bearer {{secret}}"))
        #expect(try InjectionTemplate("Bearer {{secret}}") != InjectionTemplate("Token {{secret}}"))
    }
}
