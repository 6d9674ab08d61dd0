import Foundation
import TokenProxyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Colour and symbols for a person at a terminal; plain words for pipes, files and `NO_COLOR` (no-color.org).
struct TerminalStyle: Sendable {
    /// Whether to use ANSI colour and symbols.
    let decorated: Bool

    /// The style for file descriptor `descriptor` (1 = stdout): decorated only on a TTY with `NO_COLOR` unset.
    static func forDescriptor(_ descriptor: Int32, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> TerminalStyle
    {
        TerminalStyle(decorated: isatty(descriptor) == 1 && environment["NO_COLOR"] == nil)
    }

    /// One finding as a line: `✓ message` / `⚠ warning: file:line: message` on a terminal, the same without symbol
    /// and colour elsewhere. Errors read `tokenproxy: error: file:line: message`, like every other CLI error.
    func line(for finding: CheckFinding) -> String {
        let place = finding.location.map { "\($0): " } ?? ""
        switch finding.severity {
        case .ok:
            return decorated ? paint("✓", code: 32) + " " + finding.message : finding.message
        case .warning:
            return (decorated ? paint("⚠ warning:", code: 33) : "warning:") + " \(place)\(finding.message)"
        case .error:
            return (decorated ? paint("✗ error:", code: 31) : "tokenproxy: error:") + " \(place)\(finding.message)"
        }
    }

    /// `text` in bold, on a terminal.
    func bold(_ text: String) -> String {
        decorated ? paint(text, code: 1) : text
    }

    private func paint(_ text: String, code: Int) -> String {
        "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}
