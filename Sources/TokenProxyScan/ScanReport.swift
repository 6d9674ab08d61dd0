import Foundation

/// The text and JSON forms of a scan result. Every form carries only previews, never a value.
public enum ScanReport {
    /// One line per finding: `path:line: kind [credential NAME] preview [fingerprint]`.
    public static func text(_ result: ScanResult) -> String {
        result.findings.map(line(for:)).joined()
    }

    /// `path:line: kind [credential NAME] preview [fingerprint]` and a newline.
    public static func line(for finding: Finding) -> String {
        var line = "\(finding.location): \(finding.kind.rawValue)"
        if let credential = finding.credential { line += " credential \(credential)" }
        line += " \(finding.preview)"
        if let fingerprint = finding.fingerprint { line += " \(fingerprint)" }
        return line + "\n"
    }

    /// One line for stderr saying what was scanned and found.
    public static func summary(_ result: ScanResult) -> String {
        let found = result.findings.count
        var summary = found == 0 ? "no tokens found" : "\(found) finding\(found == 1 ? "" : "s")"
        summary += " in \(result.scanned) file\(result.scanned == 1 ? "" : "s")"
        var notes: [String] = []
        if result.allowed > 0 { notes.append("\(result.allowed) allowlisted") }
        if result.skippedBinary > 0 { notes.append("\(result.skippedBinary) binary skipped") }
        if result.skippedLarge > 0 {
            notes.append("\(result.skippedLarge) over \(SecretScanner.defaultSizeLimit / 1024 / 1024) MiB skipped")
        }
        return summary + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
    }

    /// The result as one JSON object: `findings` (each with `path`, `line`, `kind`, `credential`, `preview`,
    /// `fingerprint`, `commit`, `blob`) and the counts.
    public static func json(_ result: ScanResult) throws(ScanError) -> String {
        try encode(result)
    }

    /// Pretty-printed JSON with sorted keys.
    static func encode(_ value: some Encodable) throws(ScanError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
        } catch {
            throw ScanError("cannot encode the report: \(error)")
        }
    }
}
