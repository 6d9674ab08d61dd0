import Foundation
import TokenProxyCore

/// Known false positives a scan does not report (`--allowlist FILE`, default `.tokenproxy-scan-allow`).
///
/// One entry per line; `#` starts a comment (at the start of a line or after a space); blank lines are ignored:
///
/// ```
/// hmac-sha256:3f1c2b9a8d7e6f50   # a finding's fingerprint: that value, wherever it appears
/// Tests/fixtures/config.yaml:12  # path:line: whatever is found on that line
/// Tests/fixtures/**              # a glob: * within a path segment, ** across; a path without * is a prefix
/// ```
///
/// Paths are as the scan prints them (relative to where it started, or to the repository top for `--staged` and
/// `--history`). Configured tokens have no fingerprint; allow them by path only.
public struct ScanAllowlist: Sendable {
    /// The file looked for when `--allowlist` is not given.
    public static let defaultFileName = ".tokenproxy-scan-allow"

    private var fingerprints: Set<String> = []
    private var lines: Set<String> = []
    private var globs: [PathPattern] = []

    /// An empty allowlist.
    public init() {}

    /// Parses `text`, read from `file` (named in errors as `file:line`).
    public init(text: String, file: String) throws(ScanError) {
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let entry = Self.stripComment(rawLine).trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty else { continue }
            let place = "\(file):\(number + 1)"
            if entry.hasPrefix("hmac-sha256:") {
                let digits = entry.dropFirst("hmac-sha256:".count)
                guard digits.count == 16, digits.allSatisfy(\.isHexDigit) else {
                    throw ScanError("\(place): '\(entry)' is not a fingerprint (hmac-sha256: and 16 hex digits)")
                }
                fingerprints.insert(entry.lowercased())
            } else if let colon = entry.lastIndex(of: ":"), let line = Int(entry[entry.index(after: colon)...]) {
                guard line > 0, colon > entry.startIndex else {
                    throw ScanError("\(place): '\(entry)' needs a path and a line number from 1 (path:line)")
                }
                lines.insert(Self.normalize(String(entry[..<colon])) + ":\(line)")
            } else {
                do {
                    globs.append(try PathPattern("/" + Self.normalize(entry)))
                } catch {
                    throw ScanError("\(place): '\(entry)' is not a usable glob: \(error.description)")
                }
            }
        }
    }

    /// Reads the allowlist at `path`. Blocking file I/O.
    public init(contentsOf path: String) throws(ScanError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ScanError("cannot read the allowlist \(path): \((error as NSError).localizedDescription)")
        }
        try self.init(text: text, file: path)
    }

    /// The number of entries.
    public var count: Int { fingerprints.count + lines.count + globs.count }

    /// Whether `finding` is a known false positive.
    public func allows(_ finding: Finding) -> Bool {
        if let fingerprint = finding.fingerprint, fingerprints.contains(fingerprint) { return true }
        let path = Self.normalize(finding.path)
        if lines.contains("\(path):\(finding.line)") { return true }
        return globs.contains { $0.matches("/" + path) }
    }

    /// `path` without a leading `./` or `/`, as findings name files.
    static func normalize(_ path: String) -> String {
        var path = Substring(path)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.hasPrefix("/") { path = path.dropFirst() }
        return String(path)
    }

    private static func stripComment(_ line: Substring) -> Substring {
        if line.hasPrefix("#") { return "" }
        guard let hash = line.range(of: " #") ?? line.range(of: "\t#") else { return line }
        return line[..<hash.lowerBound]
    }
}

extension ScanAllowlist {
    /// Where the default allowlist is looked for: `.tokenproxy-scan-allow` in the current directory for a file scan,
    /// at the top of the repository for `--staged` and `--history`.
    public static func defaultPath(for mode: SecretScanner.Mode) -> String {
        switch mode {
        case .files:
            return defaultFileName
        case .staged(let directory), .history(let directory):
            let top = (try? GitBlobStream.topLevel(of: directory)) ?? directory
            return top + "/" + defaultFileName
        }
    }
}
