import Foundation
import Testing

@testable import TokenProxyCore

/// One configuration that must be refused, where, and with what.
struct BadConfiguration: Sendable, CustomTestStringConvertible {
    let name: String
    let yaml: String
    /// The line the error must name.
    let line: Int
    /// Text the message must contain, so it names the problem.
    let fragment: String

    var testDescription: String { name }

    /// Lines 1–4: one credential, then `rules:`; the rule given starts on line 5.
    static func withRule(_ rule: String) -> String {
        """
        credentials:
          github:
            source: env:GITHUB_TOKEN
        rules:
        \(rule)

        """
    }

    /// A rule whose host is on line 5, `extra` on line 6, credential on line 7 and inject on line 8.
    static func ruleWith(_ extra: String) -> String {
        withRule(
            """
              - host: api.github.com
                \(extra)
                credential: github
                inject: { header: Authorization, value: "Bearer {{secret}}" }
            """
        )
    }

    /// A rule on lines 5–7 whose `inject:` mapping (line 7) is `inject`.
    static func ruleInjecting(_ inject: String) -> String {
        withRule(
            """
              - host: api.github.com
                credential: github
                inject: \(inject)
            """
        )
    }

    /// A rule on lines 5–7 with the host pattern `host` (written quoted).
    static func ruleForHost(_ host: String) -> String {
        withRule(
            """
              - host: "\(host)"
                credential: github
                inject: { header: Authorization, value: "Bearer {{secret}}" }
            """
        )
    }

    /// A single credential on lines 2–3 whose source (line 3) is `source`.
    static func credentialWithSource(_ source: String) -> String {
        """
        credentials:
          github:
            source: "\(source)"

        """
    }

    static let unknownKeys: [BadConfiguration] = [
        .init(
            name: "unknown top-level key", yaml: "listen: 127.0.0.1:8080\nlisen: 127.0.0.1:9090\n", line: 2,
            fragment: "unknown key 'lisen' at the top level"
        ),
        .init(
            name: "unknown key in ca", yaml: "ca:\n  dir: Certs\n  dri: Other\n", line: 3,
            fragment: "unknown key 'dri' in ca"
        ),
        .init(
            name: "unknown key in upstream", yaml: "# roots\nupstream:\n  ca_bundel: roots.pem\n", line: 3,
            fragment: "unknown key 'ca_bundel' in upstream"
        ),
        .init(
            name: "unknown key in audit", yaml: "audit:\n  log: a.jsonl\n  lgo: b.jsonl\n", line: 3,
            fragment: "unknown key 'lgo' in audit"
        ),
        .init(
            name: "unknown key in a credential",
            yaml: "credentials:\n  github:\n    source: env:GITHUB_TOKEN\n    optinal: true\n", line: 4,
            fragment: "unknown key 'optinal' in credentials.github"
        ),
        .init(
            name: "unknown key in a rule", yaml: ruleWith("hots: api.example.com"), line: 6,
            fragment: "unknown key 'hots' in rules[0]"
        ),
        .init(
            name: "unknown key in inject",
            yaml: ruleInjecting("{ header: Authorization, value: \"Bearer {{secret}}\", prefix: x }"), line: 7,
            fragment: "unknown key 'prefix' in rules[0].inject"
        ),
    ]

    static let references: [BadConfiguration] = [
        .init(
            name: "rule naming a missing credential",
            yaml: withRule(
                """
                  - host: api.gitlab.com
                    credential: gitlab
                    inject: { header: Authorization, value: "Bearer {{secret}}" }
                """
            ),
            line: 6, fragment: "names credential 'gitlab', which is not defined"
        ),
        .init(
            name: "credential name with a space", yaml: "credentials:\n  \"git hub\":\n    source: env:X\n", line: 2,
            fragment: "credential name 'git hub'"
        ),
    ]

    static let injections: [BadConfiguration] = [
        .init(
            name: "inject value without {{secret}}",
            yaml: ruleInjecting("{ header: Authorization, value: \"Bearer\" }"), line: 7,
            fragment: "must contain {{secret}}"
        ),
        .init(
            name: "inject value with two {{secret}}",
            yaml: ruleInjecting("{ header: Authorization, value: \"{{secret}}:{{secret}}\" }"), line: 7,
            fragment: "exactly once"
        ),
        .init(
            name: "inject value with an unknown placeholder",
            yaml: ruleInjecting("{ header: Authorization, value: \"{{user}}:{{secret}}\" }"), line: 7,
            fragment: "unknown placeholder"
        ),
        .init(
            name: "inject header Host", yaml: ruleInjecting("{ header: Host, value: \"{{secret}}\" }"), line: 7,
            fragment: "may not set 'Host'"
        ),
        .init(
            name: "inject header Content-Length",
            yaml: ruleInjecting("{ header: Content-Length, value: \"{{secret}}\" }"), line: 7,
            fragment: "may not set 'Content-Length'"
        ),
        .init(
            name: "inject header Proxy-Authorization",
            yaml: ruleInjecting("{ header: Proxy-Authorization, value: \"Basic {{secret}}\" }"), line: 7,
            fragment: "may not set 'Proxy-Authorization'"
        ),
        .init(
            name: "inject header transfer-encoding in lower case",
            yaml: ruleInjecting("{ header: transfer-encoding, value: \"{{secret}}\" }"), line: 7,
            fragment: "may not set 'transfer-encoding'"
        ),
        .init(
            name: "inject header name with a space",
            yaml: ruleInjecting("{ header: \"X Api Key\", value: \"{{secret}}\" }"), line: 7,
            fragment: "'X Api Key' is not a valid HTTP header name"
        ),
        .init(
            name: "inject header name with a colon",
            yaml: ruleInjecting("{ header: \"X-Api:Key\", value: \"{{secret}}\" }"), line: 7,
            fragment: "'X-Api:Key' is not a valid HTTP header name"
        ),
    ]

    static let hosts: [BadConfiguration] = ["*", "*.com", "a.*.com", "exa mple.com", "*.*.example.com"].map { host in
        .init(name: "host pattern '\(host)'", yaml: ruleForHost(host), line: 5, fragment: "host pattern '\(host)'")
    }

    static let ruleFilters: [BadConfiguration] = [
        .init(name: "port 0", yaml: ruleWith("port: 0"), line: 6, fragment: "rules[0].port must be 1–65535"),
        .init(name: "port 70000", yaml: ruleWith("port: 70000"), line: 6, fragment: "rules[0].port must be 1–65535"),
        .init(name: "port -1", yaml: ruleWith("port: -1"), line: 6, fragment: "rules[0].port must be 1–65535"),
        .init(
            name: "port \"abc\"", yaml: ruleWith("port: \"abc\""), line: 6,
            fragment: "rules[0].port must be a whole number"
        ),
        .init(
            name: "path without a leading slash", yaml: ruleWith("path: v1/items"), line: 6,
            fragment: "path 'v1/items' must start with '/'"
        ),
        .init(
            name: "method that is not a name", yaml: ruleWith("methods: [GET, \"G3T\"]"), line: 6,
            fragment: "rules[0].methods must list HTTP method names"
        ),
        .init(
            name: "methods not a list", yaml: ruleWith("methods: GET"), line: 6,
            fragment: "rules[0].methods must be a list"
        ),
        .init(
            name: "allow_plaintext not a boolean", yaml: ruleWith("allow_plaintext: sometimes"), line: 6,
            fragment: "rules[0].allow_plaintext must be true or false"
        ),
    ]

    /// Non-loopback proxy listen addresses load (``ListenerExposure`` decides at `serve`); the admin endpoint's
    /// are refused.
    static let listens: [BadConfiguration] =
        ["0.0.0.0:8080", "10.0.0.1:80", "[::]:8080", "example.com:8080", "192.168.1.10:3128"].map { listen in
            .init(
                name: "non-loopback admin listen \(listen)", yaml: "# proxy\nadmin: { listen: \"\(listen)\" }\n",
                line: 2, fragment: "listen address '\(listen)' is not loopback"
            )
        }
        + ["localhost", "127.0.0.1:", "127.0.0.1:99999", "::1:8080", "127.0.0.1:http", ":8080"].map { listen in
            .init(
                name: "malformed listen \(listen)", yaml: "# proxy\nlisten: \"\(listen)\"\n", line: 2,
                fragment: "listen address '\(listen)' is not HOST:PORT"
            )
        }

    static let sources: [BadConfiguration] = [
        .init(
            name: "source vault:x", yaml: credentialWithSource("vault:x"), line: 3,
            fragment: "unknown source kind 'vault'"
        ),
        .init(
            name: "source env:", yaml: credentialWithSource("env:"), line: 3,
            fragment: "source 'env:' names nothing after the colon"
        ),
        .init(
            name: "source file:", yaml: credentialWithSource("file:"), line: 3,
            fragment: "source 'file:' names nothing after the colon"
        ),
        .init(
            name: "source env:BAD-NAME", yaml: credentialWithSource("env:BAD-NAME"), line: 3,
            fragment: "'BAD-NAME' is not a valid environment variable name"
        ),
        .init(
            name: "source without a kind", yaml: credentialWithSource("GITHUB_TOKEN"), line: 3,
            fragment: "source 'GITHUB_TOKEN' needs a kind"
        ),
    ]

    static let syntax: [BadConfiguration] = [
        .init(
            name: "mapping value in a plain scalar", yaml: "listen: 127.0.0.1:8080\nca: dir: Certs\n", line: 2,
            fragment: "invalid YAML"
        ),
        .init(
            name: "tab indentation", yaml: "listen: 127.0.0.1:8080\naudit:\n\tlog: a.jsonl\n", line: 3,
            fragment: "invalid YAML"
        ),
    ]

    static let types: [BadConfiguration] = [
        .init(
            name: "rules as a mapping", yaml: "rules:\n  host: api.github.com\n", line: 2,
            fragment: "rules must be a list"
        ),
        .init(
            name: "credentials as a list", yaml: "credentials:\n  - github\n", line: 2,
            fragment: "credentials must be a mapping"
        ),
        .init(name: "ca as a string", yaml: "ca: Certs\n", line: 1, fragment: "ca must be a mapping"),
        .init(
            name: "listen as a list", yaml: "listen:\n  - 127.0.0.1:8080\n", line: 2,
            fragment: "listen must be a string"
        ),
        .init(
            name: "a rule that is a string", yaml: "rules:\n  - api.github.com\n", line: 2,
            fragment: "rules[0] must be a mapping"
        ),
        .init(
            name: "a credential that is a string", yaml: "credentials:\n  github: env:GITHUB_TOKEN\n", line: 2,
            fragment: "credentials.github must be a mapping"
        ),
        .init(
            name: "optional not a boolean",
            yaml: "credentials:\n  github:\n    source: env:GITHUB_TOKEN\n    optional: maybe\n", line: 4,
            fragment: "credentials.github.optional must be true or false"
        ),
    ]

    static let missingKeys: [BadConfiguration] = [
        .init(
            name: "credential without source", yaml: "credentials:\n  github: { optional: true }\n", line: 2,
            fragment: "credentials.github needs 'source'"
        ),
        .init(
            name: "rule without host",
            yaml: withRule(
                """
                  - credential: github
                    inject: { header: Authorization, value: "Bearer {{secret}}" }
                """
            ),
            line: 5, fragment: "rules[0] needs 'host'"
        ),
        .init(
            name: "rule without credential",
            yaml: withRule(
                """
                  - host: api.github.com
                    inject: { header: Authorization, value: "Bearer {{secret}}" }
                """
            ),
            line: 5, fragment: "rules[0] needs 'credential'"
        ),
        .init(
            name: "rule without inject",
            yaml: withRule(
                """
                  - host: api.github.com
                    credential: github
                """
            ),
            line: 5, fragment: "rules[0] needs 'inject"
        ),
        .init(
            name: "inject without header", yaml: ruleInjecting("{ value: \"Bearer {{secret}}\" }"), line: 7,
            fragment: "rules[0].inject needs"
        ),
        .init(
            name: "inject without value", yaml: ruleInjecting("{ header: Authorization }"), line: 7,
            fragment: "rules[0].inject needs 'value'"
        ),
    ]
}

@Suite("ConfigurationLoader")
struct ConfigurationLoaderTests {
    static let fullConfiguration = """
        # tokenproxy test configuration
        listen: "[::1]:9443"
        ca:
          dir: /var/lib/tokenproxy/ca
        upstream:
          ca_bundle: /etc/tokenproxy/upstream.pem
        audit:
          log: /var/log/tokenproxy/audit.jsonl
        credentials:
          github:
            source: env:GITHUB_TOKEN
            description: GitHub token for CI
          stripe:
            source: file:/run/secrets/stripe
            optional: true
        rules:
          - host: api.github.com
            credential: github
            inject: { header: Authorization, value: "Bearer {{secret}}" }
          - host: "*.Internal.Example.com"
            port: 8443
            path: /v1/
            methods: [get, POST]
            credential: stripe
            inject:
              header: X-Api-Key
              value: "key={{secret}};v=1"
            allow_plaintext: true

        """

    @Test("a full configuration parses to the expected model")
    func fullConfigurationParses() throws {
        let configuration = try ConfigurationLoader.parse(yaml: Self.fullConfiguration, file: "full.yaml")

        #expect(configuration.file == "full.yaml")
        #expect(configuration.listen == HostPort(host: "::1", port: 9443))
        #expect(configuration.caDirectory == "/var/lib/tokenproxy/ca")
        #expect(configuration.upstreamCABundle == "/etc/tokenproxy/upstream.pem")
        #expect(configuration.auditLogPath == "/var/log/tokenproxy/audit.jsonl")

        #expect(configuration.credentials.count == 2)
        let github = try #require(configuration.credential(named: "github"))
        #expect(github.source == .environment(variable: "GITHUB_TOKEN"))
        #expect(github.kind == .token(.environment(variable: "GITHUB_TOKEN")))
        #expect(github.optional == false)
        #expect(github.location == ConfigLocation(file: "full.yaml", line: 10))
        #expect(github.sourceLocation == ConfigLocation(file: "full.yaml", line: 11))
        let stripe = try #require(configuration.credential(named: "stripe"))
        #expect(stripe.source == .file(path: "/run/secrets/stripe"))
        #expect(stripe.optional == true)
        #expect(stripe.sourceLocation == ConfigLocation(file: "full.yaml", line: 14))
        #expect(configuration.credentials.map(\.name) == ["github", "stripe"])

        try #require(configuration.rules.count == 2)
        let first = configuration.rules[0]
        #expect(first.index == 0)
        #expect(first.host.description == "api.github.com")
        #expect(first.port == nil)
        #expect(first.path == nil)
        #expect(first.methods == nil)
        #expect(first.credential == "github")
        #expect(first.injection == .header(name: "Authorization", template: try InjectionTemplate("Bearer {{secret}}")))
        guard case .header(_, let firstTemplate) = first.injection else {
            Issue.record("rule 0 does not inject a header")
            return
        }
        #expect(firstTemplate.prefix == "Bearer ")
        #expect(firstTemplate.suffix == "")
        #expect(first.allowPlaintext == false)
        #expect(first.require == false)
        #expect(first.bodyLimit == nil)
        #expect(first.location == ConfigLocation(file: "full.yaml", line: 17))

        let second = configuration.rules[1]
        #expect(second.index == 1)
        #expect(second.host.description == "*.internal.example.com")
        #expect(second.host.matches("db.internal.example.com"))
        #expect(second.port == 8443)
        #expect(second.path?.description == "/v1/")
        #expect(second.path?.matches("/v1/charges") == true)
        #expect(second.path?.matches("/v2/charges") == false)
        #expect(second.methods == ["GET", "POST"])
        #expect(second.credential == "stripe")
        guard case .header(let secondHeader, let secondTemplate) = second.injection else {
            Issue.record("rule 1 does not inject a header")
            return
        }
        #expect(secondHeader == "X-Api-Key")
        #expect(secondTemplate.prefix == "key=")
        #expect(secondTemplate.suffix == ";v=1")
        #expect(second.allowPlaintext == true)
        #expect(second.location == ConfigLocation(file: "full.yaml", line: 20))
    }

    @Test("an empty file gives the workstation defaults", arguments: ["", "\n", "# nothing configured yet\n"])
    func emptyFileGivesDefaults(yaml: String) throws {
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "empty.yaml")
        #expect(configuration.file == "empty.yaml")
        #expect(configuration.listen == HostPort(host: "127.0.0.1", port: 8080))
        #expect(configuration.caDirectory == "Certs")
        #expect(configuration.upstreamCABundle == nil)
        #expect(configuration.auditLogPath == "state/audit.jsonl")
        #expect(configuration.credentials.isEmpty)
        #expect(configuration.rules.isEmpty)
    }

    @Test("an explicitly empty document gives the workstation defaults", arguments: [
        "---\n", "--- # tokenproxy: all defaults\n", "# header\n---\n...\n",
    ])
    func emptyDocumentGivesDefaults(yaml: String) throws {
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "empty.yaml")
        #expect(configuration.listen == ProxyConfiguration.defaultListen)
        #expect(configuration.rules.isEmpty)
        #expect(configuration.file == "empty.yaml")
    }

    @Test("keys that are absent or null keep their defaults")
    func nullKeysKeepDefaults() throws {
        let configuration = try ConfigurationLoader.parse(
            yaml: "listen:\nca: { dir: null }\nupstream: { ca_bundle: null }\n", file: "nulls.yaml"
        )
        #expect(configuration.listen == ProxyConfiguration.defaultListen)
        #expect(configuration.caDirectory == "Certs")
        #expect(configuration.upstreamCABundle == nil)
        #expect(configuration.auditLogPath == "state/audit.jsonl")
    }

    @Test("audit log: null turns recording off")
    func auditLogCanBeTurnedOff() throws {
        let configuration = try ConfigurationLoader.parse(yaml: "audit: { log: null }\n", file: "audit.yaml")
        #expect(configuration.auditLogPath == nil)
    }

    @Test("loopback listen addresses are accepted", arguments: [
        ("127.0.0.1:8080", HostPort(host: "127.0.0.1", port: 8080)),
        ("127.0.0.2:3128", HostPort(host: "127.0.0.2", port: 3128)),
        ("localhost:9000", HostPort(host: "localhost", port: 9000)),
        ("[::1]:8443", HostPort(host: "::1", port: 8443)),
        ("127.0.0.1:0", HostPort(host: "127.0.0.1", port: 0)),
    ])
    func loopbackListenAccepted(text: String, expected: HostPort) throws {
        let configuration = try ConfigurationLoader.parse(yaml: "listen: \"\(text)\"\n", file: "listen.yaml")
        #expect(configuration.listen == expected)
    }

    @Test("rule methods are upper-cased and a rule without filters matches anything on its host")
    func methodsUpperCased() throws {
        let configuration = try ConfigurationLoader.parse(
            yaml: BadConfiguration.ruleWith("methods: [get, Post, DELETE]"), file: "methods.yaml"
        )
        #expect(configuration.rules.first?.methods == ["GET", "POST", "DELETE"])
    }

    @Test("credentials are resolved in file order and rules keep their order and indices")
    func orderIsKept() throws {
        let yaml = """
            credentials:
              zeta: { source: env:ZETA }
              alpha: { source: env:ALPHA }
            rules:
              - { host: z.example.com, credential: zeta, inject: { header: X-Z, value: "{{secret}}" } }
              - { host: a.example.com, credential: alpha, inject: { header: X-A, value: "{{secret}}" } }
              - { host: b.example.com, credential: zeta, inject: { header: X-B, value: "{{secret}}" } }

            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "order.yaml")
        #expect(configuration.credentials.map(\.name) == ["zeta", "alpha"])
        #expect(configuration.rules.map(\.index) == [0, 1, 2])
        #expect(configuration.rules.map(\.injection.summary) == ["X-Z", "X-A", "X-B"])
        #expect(configuration.rules.map(\.location.line) == [5, 6, 7])
    }

    @Test("unknown keys are refused with file:line", arguments: BadConfiguration.unknownKeys)
    func unknownKeys(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("a rule must name a defined credential; credential names are checked", arguments: BadConfiguration.references)
    func references(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("bad inject templates and headers are refused", arguments: BadConfiguration.injections)
    func injections(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("bad host patterns are refused", arguments: BadConfiguration.hosts)
    func hosts(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("a host pattern with a port in it is refused (ports go in port:)")
    func hostWithPortRefused() throws {
        try Self.expectRefusal(
            BadConfiguration(
                name: "host with port", yaml: BadConfiguration.ruleForHost("api.github.com:443"), line: 5,
                fragment: "host pattern 'api.github.com:443'"
            )
        )
    }

    @Test("bad ports, paths, methods and flags are refused", arguments: BadConfiguration.ruleFilters)
    func ruleFilters(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("non-loopback admin and malformed listen addresses are refused", arguments: BadConfiguration.listens)
    func listens(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("bad source syntax is refused at the source line", arguments: BadConfiguration.sources)
    func sources(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("invalid YAML is refused with its line", arguments: BadConfiguration.syntax)
    func syntax(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("values of the wrong type are refused", arguments: BadConfiguration.types)
    func types(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("missing required keys are refused", arguments: BadConfiguration.missingKeys)
    func missingKeys(_ bad: BadConfiguration) throws {
        try Self.expectRefusal(bad)
    }

    @Test("a duplicate key is refused, naming the key and a line where it appears")
    func duplicateKey() throws {
        let yaml = "listen: 127.0.0.1:8080\nca: { dir: Certs }\nlisten: 127.0.0.1:9090\n"
        let error = try #require(parseError(yaml, file: "dup.yaml"))
        #expect(error.message.contains("duplicate key 'listen'"))
        #expect(error.location.file == "dup.yaml")
        #expect([1, 3].contains(error.location.line))
        #expect(error.description.hasPrefix("dup.yaml:\(error.location.line ?? -1): "))
    }

    @Test("a duplicate credential name is refused")
    func duplicateCredential() throws {
        let yaml = "credentials:\n  github: { source: env:A }\n  github: { source: env:B }\n"
        let error = try #require(parseError(yaml))
        #expect(error.message.contains("duplicate key 'github'"))
        #expect([2, 3].contains(error.location.line))
    }

    @Test("a document that is not a mapping is refused with a message that names the problem")
    func topLevelNotMapping() throws {
        let error = try #require(parseError("- listen\n- rules\n", file: "list.yaml"))
        #expect(error.description.hasPrefix("list.yaml:1: "))
        #expect(error.message.contains("must be a mapping"))
        // The message must say *what* must be a mapping, not start with an empty subject.
        #expect(error.message.first?.isWhitespace == false)
        #expect(!error.description.contains(":  "))
    }

    @Test("the first error in file order is the one reported")
    func firstErrorReported() throws {
        let yaml = BadConfiguration.ruleWith("port: 0") + "bogus: 1\n"
        let error = try #require(parseError(yaml))
        // The rule's bad port is found while parsing rules, before unknown top-level keys are checked.
        #expect(error.location.line == 6)
    }

    // MARK: - load(path:)

    @Test("load reads a file and names it in the configuration")
    func loadReadsFile() throws {
        try withTemporaryDirectory { directory in
            let path = try directory.write(Self.fullConfiguration, to: "tokenproxy.yaml", mode: 0o644)
            let configuration = try ConfigurationLoader.load(path: path)
            #expect(configuration.file == path)
            #expect(configuration.rules.count == 2)
            #expect(configuration.credentials.first?.location == ConfigLocation(file: path, line: 10))
        }
    }

    @Test("load reports errors at PATH:LINE")
    func loadReportsPathAndLine() throws {
        try withTemporaryDirectory { directory in
            let path = try directory.write("listen: 127.0.0.1:8080\nlisen: x\n", to: "bad.yaml", mode: 0o644)
            #expect {
                try ConfigurationLoader.load(path: path)
            } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return error.description.hasPrefix("\(path):2: ") && error.message.contains("unknown key 'lisen'")
            }
        }
    }

    @Test("load of a missing file or a directory is an error naming the path")
    func loadMissingOrDirectory() throws {
        try withTemporaryDirectory { directory in
            for path in [directory.file("absent.yaml"), directory.path] {
                #expect {
                    try ConfigurationLoader.load(path: path)
                } throws: { error in
                    guard let error = error as? ConfigurationError else { return false }
                    return error.location == ConfigLocation(file: path) && error.description.hasPrefix(path + ": ")
                }
            }
        }
    }

    @Test("load of a file that is not UTF-8 is an error")
    func loadNonUTF8() throws {
        try withTemporaryDirectory { directory in
            let path = try directory.write([0x6C, 0x69, 0xFF, 0xFE, 0x0A], to: "binary.yaml", mode: 0o644)
            #expect {
                try ConfigurationLoader.load(path: path)
            } throws: { error in
                (error as? ConfigurationError)?.message.contains("UTF-8") == true
            }
        }
    }

    private static func expectRefusal(
        _ bad: BadConfiguration, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let file = "conf/tokenproxy.yaml"
        let error = try #require(parseError(bad.yaml, file: file), sourceLocation: sourceLocation)
        #expect(
            error.description.hasPrefix("\(file):\(bad.line): "),
            "expected line \(bad.line): \(error.description)", sourceLocation: sourceLocation
        )
        #expect(error.location == ConfigLocation(file: file, line: bad.line), sourceLocation: sourceLocation)
        #expect(
            error.message.contains(bad.fragment), "expected '\(bad.fragment)' in: \(error.message)",
            sourceLocation: sourceLocation
        )
        #expect(!error.description.contains("\n"), "an error is one line", sourceLocation: sourceLocation)
    }
}
