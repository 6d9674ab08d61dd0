import Foundation

/// The YAML configuration one end-to-end test runs the proxy with.
///
/// Every test uses one credential, `e2e`, whose value the proxy reads from `TP_E2E_TOKEN` in its own environment:
/// the value is never in a file the test writes, so finding it on disk later can only mean the proxy leaked it.
struct ProxyConfiguration: Sendable {
    /// One entry of `rules:`.
    struct Rule: Sendable {
        /// The host pattern the rule matches.
        var host: String = "localhost"
        /// Whether the rule may inject into plain `http://` requests.
        var allowPlaintext: Bool = false
        /// An optional port restriction.
        var port: Int? = nil
        /// An optional path prefix restriction.
        var path: String? = nil
        /// An optional method restriction.
        var methods: [String]? = nil
    }

    /// The name of the one credential.
    static let credentialName = "e2e"
    /// The environment variable that holds its value, set only in the proxy's environment.
    static let credentialVariable = "TP_E2E_TOKEN"
    /// The header every rule injects.
    static let injectedHeader = "Authorization"

    /// The rules, in order; the default is one rule for `localhost`.
    var rules: [Rule] = [Rule()]

    /// The config file's text, with every path absolute inside `directory`.
    func yaml(in directory: TestDirectory, upstreamBundle: String) -> String {
        var lines = [
            "listen: 127.0.0.1:0",
            "ca: { dir: \(quoted(directory.file("certs"))) }",
            "upstream: { ca_bundle: \(quoted(upstreamBundle)) }",
            "audit: { log: \(quoted(directory.file("audit.jsonl"))) }",
            "credentials:",
            "  \(Self.credentialName):",
            "    source: env:\(Self.credentialVariable)",
            "rules:",
        ]
        for rule in rules {
            lines.append("  - host: \(quoted(rule.host))")
            lines.append("    credential: \(Self.credentialName)")
            lines.append("    inject: { header: \(Self.injectedHeader), value: \"Bearer {{secret}}\" }")
            if rule.allowPlaintext {
                lines.append("    allow_plaintext: true")
            }
            if let port = rule.port {
                lines.append("    port: \(port)")
            }
            if let path = rule.path {
                lines.append("    path: \(quoted(path))")
            }
            if let methods = rule.methods {
                lines.append("    methods: [\(methods.joined(separator: ", "))]")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
