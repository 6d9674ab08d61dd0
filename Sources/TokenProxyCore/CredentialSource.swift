/// Where a credential's value comes from. Its `description` names the source (`env:GITHUB_TOKEN`), never the value.
public enum CredentialSource: Sendable, Hashable, CustomStringConvertible {
    /// An environment variable of the proxy process.
    case environment(variable: String)
    /// A file readable only by its owner; one trailing newline is stripped.
    case file(path: String)

    /// Parses `env:NAME` or `file:PATH`.
    public init(parsing text: String) throws(SourceSyntaxError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw SourceSyntaxError(
                description: "source '\(text)' needs a kind: use env:VARIABLE or file:PATH"
            )
        }
        let kind = text[..<colon]
        let reference = String(text[text.index(after: colon)...])
        guard !reference.isEmpty else {
            throw SourceSyntaxError(description: "source '\(text)' names nothing after '\(kind):'")
        }
        switch kind {
        case "env":
            let valid = reference.unicodeScalars.allSatisfy { scalar in
                scalar == "_" || (scalar >= "A" && scalar <= "Z") || (scalar >= "a" && scalar <= "z")
                    || (scalar >= "0" && scalar <= "9")
            }
            guard valid else {
                throw SourceSyntaxError(description: "'\(reference)' is not a valid environment variable name")
            }
            self = .environment(variable: reference)
        case "file":
            self = .file(path: reference)
        default:
            throw SourceSyntaxError(
                description: "unknown source kind '\(kind)'; supported kinds are env:VARIABLE and file:PATH"
            )
        }
    }

    /// `env:NAME` or `file:PATH`.
    public var description: String {
        switch self {
        case .environment(let variable): return "env:\(variable)"
        case .file(let path): return "file:\(path)"
        }
    }

    /// A short word for the kind of source, for status output.
    public var kind: String {
        switch self {
        case .environment: return "env"
        case .file: return "file"
        }
    }
}

/// A `source:` string that does not parse.
public struct SourceSyntaxError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
