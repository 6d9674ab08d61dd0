import Foundation

/// The YAML configuration one end-to-end test runs the proxy with.
///
/// By default a test uses one credential, `e2e`, whose value the proxy reads from `TP_E2E_TOKEN` in its own
/// environment: the value is never in a file the test writes, so finding it on disk later can only mean the proxy
/// leaked it. Tests of other sources and forms write `credentials:`/`rules:` verbatim and declare where each
/// canary lives (variables, secret files, sealed blobs); only the declared secret files are exempt from the scan.
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

    /// A file holding a canary that the fixture writes before the proxy starts, for `file:` and `command:` sources.
    ///
    /// Its contents are exempt from the canary check (it is where the secret is meant to be); a copy anywhere else
    /// in the test directory still fails the test.
    struct SecretFile: Sendable {
        /// The path relative to the test directory.
        var path: String
        /// Which canary the file holds (see ``secretVariables``).
        var canary: String = ProxyConfiguration.credentialName
        /// The file's permission bits.
        var mode: Int = 0o600
    }

    /// The rules, in order; the default is one rule for `localhost`.
    var rules: [Rule] = [Rule()]

    /// The entries under `credentials:`, verbatim (two-space indented), instead of the one generated `e2e`
    /// credential. `{{dir}}` stands for the test directory, `{{sealed:NAME}}` for the blob of
    /// ``sealedCredentials``[NAME].
    var credentialsYAML: String? = nil
    /// Settings added under the generated `e2e` credential (four-space indented lines such as `    burst: 5`), when
    /// a test needs that one credential with more than its `source:`.
    var credentialSettingsYAML: String? = nil
    /// The entries under `rules:`, verbatim (two-space indented), instead of ``rules``. `{{dir}}` as above.
    var rulesYAML: String? = nil

    /// The proxy's environment variables that hold canaries: variable → canary label.
    ///
    /// Each label names one canary, made fresh per test; ``credentialName`` is the fixture's main canary, any other
    /// label gets its own. Values exist only in the proxy's environment, never in a file the test writes.
    var secretVariables: [String: String] = [credentialVariable: credentialName]
    /// Files holding canaries, written before the proxy starts.
    var secretFiles: [SecretFile] = []
    /// Credentials sealed with `tokenproxy seal NAME --dir <ca dir>` before the proxy starts: credential name →
    /// canary label. The canary is piped to `seal` from its environment; the blob replaces `{{sealed:NAME}}`.
    var sealedCredentials: [String: String] = [:]
    /// More environment for the proxy, holding no secret.
    var environment: [String: String] = [:]
    /// More arguments for `tokenproxy serve`.
    var serveArguments: [String] = []
    /// The usage store (`audit.store: sqlite:…`), relative to the test directory; `nil` leaves the proxy's default.
    ///
    /// Set by default so that no test's proxy writes the default `state/usage.db` in the working directory, and so
    /// that the canary check scans every test's store.
    var usageStore: String? = "usage.db"
    /// An absolute audit log path instead of `audit.jsonl` in the test directory (a tiny filesystem, say).
    var auditLogPath: String? = nil
    /// More keys for the `audit:` mapping, such as `on_failure: fail_closed`.
    var auditSettings: String = ""
    /// More top-level YAML (e.g. `timeouts: { first_byte: 2s }`), placed before `credentials:`.
    var topLevelYAML: String = ""
    /// The entries under `policy:`, verbatim (two-space indented); `nil` writes no `policy:` (the proxy's defaults).
    ///
    /// The default lets the proxy reach the test origins, which are private (loopback) destinations on ephemeral
    /// ports; egress tests set their own.
    var policyYAML: String? = ProxyConfiguration.loopbackOriginsPolicy

    /// `policy:` entries that admit origins on 127.0.0.0/8 and ::1 on any port.
    static let loopbackOriginsPolicy = """
          allow_private: [127.0.0.0/8, "::1"]
          ports: any
        """
    /// More top-level settings (`clients:`, `listen_tls:`…), verbatim, appended after `rules:`. `{{dir}}` as above.
    var extraYAML: String? = nil

    /// Every canary label the configuration refers to.
    var canaryLabels: Set<String> {
        Set(secretVariables.values).union(secretFiles.map(\.canary)).union(sealedCredentials.values)
    }

    /// The config file's text, with every path absolute inside `directory`.
    ///
    /// - Parameter sealed: the blobs of ``sealedCredentials`` by credential name, for `{{sealed:NAME}}`.
    func yaml(in directory: TestDirectory, upstreamBundle: String, sealed: [String: String] = [:]) -> String {
        var lines = [
            "listen: 127.0.0.1:0",
            "ca: { dir: \(quoted(Self.caDirectory(in: directory))) }",
            "upstream: { ca_bundle: \(quoted(upstreamBundle)) }",
            "audit: { log: \(quoted(auditLogPath ?? directory.file("audit.jsonl")))"
                + (usageStore.map { ", store: \(quoted("sqlite:" + directory.file($0)))" } ?? "")
                + (auditSettings.isEmpty ? "" : ", \(auditSettings)") + " }",
        ]
        if !topLevelYAML.isEmpty { lines.append(topLevelYAML) }
        if let policyYAML {
            lines.append("policy:")
            lines.append(expand(policyYAML, in: directory))
        }
        lines.append("credentials:")
        if let credentialsYAML {
            var text = credentialsYAML
            for (name, blob) in sealed {
                text = text.replacingOccurrences(of: "{{sealed:\(name)}}", with: blob)
            }
            lines.append(expand(text, in: directory))
        } else {
            lines.append("  \(Self.credentialName):")
            lines.append("    source: env:\(Self.credentialVariable)")
            if let credentialSettingsYAML { lines.append(credentialSettingsYAML) }
        }
        lines.append("rules:")
        if let rulesYAML {
            lines.append(expand(rulesYAML, in: directory))
            return lines.joined(separator: "\n") + "\n" + extraLines(in: directory)
        }
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
        return lines.joined(separator: "\n") + "\n" + extraLines(in: directory)
    }

    private func extraLines(in directory: TestDirectory) -> String {
        extraYAML.map { expand($0, in: directory) + "\n" } ?? ""
    }

    /// The directory of the proxy's CA (and seal key).
    static func caDirectory(in directory: TestDirectory) -> String {
        directory.file("certs")
    }

    private func expand(_ text: String, in directory: TestDirectory) -> String {
        let trimmed = text.hasSuffix("\n") ? String(text.dropLast()) : text
        return trimmed.replacingOccurrences(of: "{{dir}}", with: directory.path)
    }

    private func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
