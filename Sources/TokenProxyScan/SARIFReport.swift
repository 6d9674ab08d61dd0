import TokenProxyCore

/// The scan result as SARIF 2.1.0, the format GitHub code scanning (`github/codeql-action/upload-sarif`) reads.
///
/// One rule per ``FindingKind``; each result has its location (`path`, `startLine`), the redacted preview in its
/// message, and `partialFingerprints` so that GitHub tracks an alert across commits.
public enum SARIFReport {
    /// The schema the document names.
    public static let schema = "https://json.schemastore.org/sarif-2.1.0.json"

    /// The SARIF document for `result`, from the tool at `version`.
    public static func document(_ result: ScanResult, version: String) throws(ScanError) -> String {
        let kinds = FindingKind.allCases
        let rules = kinds.map { kind in
            Rule(
                id: kind.rawValue, name: kind.rawValue, shortDescription: Message(text: kind.summary),
                fullDescription: Message(text: kind.summary + ". Remove it from the repository and rotate it."),
                help: Message(
                    text: "Revoke or rotate the secret, remove it from the file (and history), and let tokenproxy "
                        + "hold it instead. Known false positives go in .tokenproxy-scan-allow."
                ),
                defaultConfiguration: Configuration(level: "error"),
                properties: RuleProperties(tags: ["security", "secret"], securitySeverity: "9.0")
            )
        }
        let results = result.findings.map { finding in
            var message = "\(finding.kind.summary): \(finding.preview)"
            if let credential = finding.credential { message += " (credential \(credential))" }
            if let commit = finding.commit { message += " introduced in commit \(commit)" }
            return Result(
                ruleId: finding.kind.rawValue,
                ruleIndex: kinds.firstIndex(of: finding.kind) ?? 0,
                level: "error",
                message: Message(text: message),
                locations: [
                    Location(
                        physicalLocation: PhysicalLocation(
                            artifactLocation: ArtifactLocation(uri: uri(finding.path), uriBaseId: "%SRCROOT%"),
                            region: Region(startLine: finding.line)
                        )
                    )
                ],
                partialFingerprints: [
                    "tokenproxyScan/v1": finding.fingerprint
                        ?? "\(finding.kind.rawValue):\(finding.credential ?? ""):\(finding.path):\(finding.line)"
                ]
            )
        }
        let log = Log(
            schema: schema, version: "2.1.0",
            runs: [
                Run(
                    tool: Tool(
                        driver: Driver(
                            name: "tokenproxy scan", semanticVersion: version, rules: rules
                        )
                    ),
                    results: results
                )
            ]
        )
        return try ScanReport.encode(log)
    }

    /// A relative URI reference for `path`: percent-encoded where a URI needs it, `/` kept.
    private static func uri(_ path: String) -> String {
        var encoded = ""
        for byte in path.utf8 {
            if uriCharacters[Int(byte)] {
                encoded.append(Character(Unicode.Scalar(byte)))
            } else {
                encoded += "%" + Hex.uppercase([byte])
            }
        }
        return encoded
    }

    /// RFC 3986 unreserved and sub-delimiter characters, `/`, `:` and `@`: what a path keeps in a URI.
    private static let uriCharacters = ByteClass.table { byte in
        ByteClass.isAlphanumeric(byte) || "-._~/!$&'()*+,;=:@".utf8.contains(byte)
    }

    // The SARIF object model, as much of it as the report uses; property names are SARIF's.

    private struct Log: Encodable {
        var schema: String
        var version: String
        var runs: [Run]
        enum CodingKeys: String, CodingKey {
            case schema = "$schema"
            case version, runs
        }
    }

    private struct Run: Encodable {
        var tool: Tool
        var results: [Result]
    }

    private struct Tool: Encodable {
        var driver: Driver
    }

    private struct Driver: Encodable {
        var name: String
        var semanticVersion: String
        var rules: [Rule]
    }

    private struct Rule: Encodable {
        var id: String
        var name: String
        var shortDescription: Message
        var fullDescription: Message
        var help: Message
        var defaultConfiguration: Configuration
        var properties: RuleProperties
    }

    private struct RuleProperties: Encodable {
        var tags: [String]
        var securitySeverity: String
        enum CodingKeys: String, CodingKey {
            case tags
            case securitySeverity = "security-severity"
        }
    }

    private struct Configuration: Encodable {
        var level: String
    }

    private struct Message: Encodable {
        var text: String
    }

    private struct Result: Encodable {
        var ruleId: String
        var ruleIndex: Int
        var level: String
        var message: Message
        var locations: [Location]
        var partialFingerprints: [String: String]
    }

    private struct Location: Encodable {
        var physicalLocation: PhysicalLocation
    }

    private struct PhysicalLocation: Encodable {
        var artifactLocation: ArtifactLocation
        var region: Region
    }

    private struct ArtifactLocation: Encodable {
        var uri: String
        var uriBaseId: String
    }

    private struct Region: Encodable {
        var startLine: Int
    }
}
