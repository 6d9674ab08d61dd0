/// One entry under `credentials:`: a named token and where to read it.
public struct CredentialConfiguration: Sendable, Hashable {
    /// The name rules refer to and records carry (never the value).
    public var name: String
    /// Where the value comes from.
    public var source: CredentialSource
    /// When `true`, a source that is absent (unset variable, missing file) disables the rules that use this
    /// credential with a notice instead of refusing to start. A source that is present but broken is still an error.
    public var optional: Bool
    /// Where the credential is defined, for error messages.
    public var location: SourceLocation
    /// Where its `source:` is written, for source errors.
    public var sourceLocation: SourceLocation

    /// Creates a credential definition.
    public init(
        name: String,
        source: CredentialSource,
        optional: Bool = false,
        location: SourceLocation,
        sourceLocation: SourceLocation? = nil
    ) {
        self.name = name
        self.source = source
        self.optional = optional
        self.location = location
        self.sourceLocation = sourceLocation ?? location
    }
}
