/// Where a secret value comes from. Its `description` names the source (`env:GITHUB_TOKEN`), never the value.
public enum CredentialSource: Sendable, Hashable, CustomStringConvertible {
    /// An environment variable of the proxy process.
    case environment(variable: String)
    /// A file readable only by its owner; one trailing newline is stripped.
    case file(path: String)
    /// A program whose standard output is the value (`op read …`, `vault kv get -field=…`).
    case command(CommandSecretSource)
    /// A blob encrypted to the proxy's own seal key (`tokenproxy seal NAME`), safe to commit.
    case sealed(SealedSecret)

    /// Parses the string forms `env:NAME`, `file:PATH` and `sealed:BLOB`.
    public init(parsing text: String) throws(SourceSyntaxError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw SourceSyntaxError(
                description: "source '\(Self.quoteSafely(text))' needs a kind: use env:VARIABLE, file:PATH, "
                    + "sealed:BLOB or { command: [program, args…] }"
            )
        }
        let kind = text[..<colon]
        let reference = String(text[text.index(after: colon)...])
        guard !reference.isEmpty else {
            throw SourceSyntaxError(description: "source '\(kind):' names nothing after the colon")
        }
        switch kind {
        case "env":
            let valid = reference.unicodeScalars.allSatisfy { scalar in
                scalar == "_" || (scalar >= "A" && scalar <= "Z") || (scalar >= "a" && scalar <= "z")
                    || (scalar >= "0" && scalar <= "9")
            }
            guard valid else {
                throw SourceSyntaxError(
                    description: "'\(Self.quoteSafely(reference))' is not a valid environment variable name"
                )
            }
            self = .environment(variable: reference)
        case "file":
            self = .file(path: reference)
        case "sealed":
            do {
                self = .sealed(try SealedSecret(parsing: reference))
            } catch {
                throw SourceSyntaxError(description: error.description)
            }
        default:
            throw SourceSyntaxError(
                description: "unknown source kind '\(Self.quoteSafely(String(kind)))'; supported: env:VARIABLE, "
                    + "file:PATH, sealed:BLOB, { command: [program, args…] }"
            )
        }
    }

    /// `env:NAME`, `file:PATH`, `command:PROGRAM` or `sealed:v1.…` (shortened).
    public var description: String {
        switch self {
        case .environment(let variable): return "env:\(variable)"
        case .file(let path): return "file:\(path)"
        case .command(let command): return "command:\(command.argv.first ?? "")"
        case .sealed(let sealed): return "sealed:\(sealed)"
        }
    }

    /// A short word for the kind of source, for status output.
    public var kind: String {
        switch self {
        case .environment: return "env"
        case .file: return "file"
        case .command: return "command"
        case .sealed: return "sealed"
        }
    }

    /// Someone may paste a token where a source belongs; show only its start so the message cannot leak it.
    private static func quoteSafely(_ text: String) -> String {
        text.count <= 12 ? text : String(text.prefix(6)) + "…"
    }
}

/// A `source:` that does not parse.
public struct SourceSyntaxError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
