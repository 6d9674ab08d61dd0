/// A configuration problem that stops tokenproxy from starting, naming where it is and what to fix.
///
/// The message never contains a secret: sources are named by kind and reference (`env:GITHUB_TOKEN`),
/// never by value.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public var location: SourceLocation
    /// What is wrong and, where it helps, what to do about it.
    public var message: String

    /// Creates an error at `location` with a one-line `message`.
    public init(_ message: String, at location: SourceLocation) {
        self.location = location
        self.message = message
    }

    /// `file:line: message`, on one line.
    public var description: String {
        "\(location): \(message)"
    }
}

/// Several configuration errors found in one pass, so a user can fix them all at once.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    /// The errors in the order they were found (file order).
    public var errors: [ConfigurationError]

    /// Wraps `errors`, which must not be empty.
    public init(_ errors: [ConfigurationError]) {
        precondition(!errors.isEmpty, "ConfigurationErrors needs at least one error")
        self.errors = errors
    }

    /// One line per error.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
