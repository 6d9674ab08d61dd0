import Foundation
import TokenProxyCore

/// Prints findings for a person (errors on stderr, the rest on stdout) or as one JSON document for CI, and says
/// whether the command must fail. Shared by `check` and `doctor`.
struct FindingReport {
    /// The findings, in the order they were found.
    var findings: [CheckFinding]
    /// Lines printed before the findings for a person (what was checked); also `subject` in JSON.
    var heading: [String] = []
    /// Lines printed after them for a person.
    var footer: [String] = []

    /// Whether any finding is an error.
    var hasErrors: Bool { findings.contains { $0.severity == .error } }

    /// Prints the report; `quiet` leaves out the heading, footer and `ok` findings.
    func print(json: Bool, quiet: Bool) throws {
        if json {
            Swift.print(try jsonText())
            return
        }
        let style = TerminalStyle.forDescriptor(1)
        let errorStyle = TerminalStyle.forDescriptor(2)
        if !quiet { heading.forEach { Swift.print(style.bold($0)) } }
        for finding in findings where !(quiet && finding.severity == .ok) {
            if finding.severity == .error {
                printError(errorStyle.line(for: finding))
            } else {
                Swift.print(style.line(for: finding))
            }
        }
        if !quiet { footer.forEach { Swift.print($0) } }
        let errors = findings.filter { $0.severity == .error }.count
        let warnings = findings.filter { $0.severity == .warning }.count
        if !quiet || errors + warnings > 0 {
            Swift.print("\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
        }
    }

    /// `{"errors": N, "warnings": N, "findings": [{"severity", "check", "file", "line", "message"}…]}`.
    func jsonText() throws -> String {
        struct Entry: Encodable {
            var severity: String
            var check: String
            var file: String?
            var line: Int?
            var message: String
        }
        struct Document: Encodable {
            var subject: [String]
            var errors: Int
            var warnings: Int
            var findings: [Entry]
        }
        let document = Document(
            subject: heading,
            errors: findings.filter { $0.severity == .error }.count,
            warnings: findings.filter { $0.severity == .warning }.count,
            findings: findings.map {
                Entry(
                    severity: $0.severity.rawValue, check: $0.check, file: $0.location?.file, line: $0.location?.line,
                    message: $0.message
                )
            }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(document), as: UTF8.self)
    }
}
