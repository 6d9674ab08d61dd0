/// How a shell sets an exported variable, with the value quoted so that no character in it is interpreted.
enum ShellSyntax: Sendable, CaseIterable {
    /// sh, bash, zsh: `export NAME='value'`.
    case posix
    /// fish: `set -gx NAME 'value'`.
    case fish
    /// PowerShell: `$env:NAME = 'value'`.
    case powershell

    /// The line that sets `name` to `value`.
    func assignment(_ name: String, _ value: String) -> String {
        switch self {
        case .posix:
            return "export \(name)='\(value.replacingOccurrences(of: "'", with: "'\\''"))'"
        case .fish:
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            return "set -gx \(name) '\(escaped)'"
        case .powershell:
            return "$env:\(name) = '\(value.replacingOccurrences(of: "'", with: "''"))'"
        }
    }
}
