/// One secret found by a scan: where, what, and a preview that never holds the value.
public struct Finding: Sendable, Hashable, Codable {
    /// The file (relative to where the scan started, or to the repository for `--staged` and `--history`).
    public var path: String
    /// The 1-based line the value starts on.
    public var line: Int
    /// What was found.
    public var kind: FindingKind
    /// The credential's name, for ``FindingKind/configuredToken``.
    public var credential: String?
    /// A redacted preview (see ``Redaction``): at most the first 4 characters and the length.
    public var preview: String
    /// A stable fingerprint of the kind and value, to allowlist a known false positive; `nil` for configured tokens,
    /// whose values are never hashed with a public key.
    public var fingerprint: String?
    /// The commit that introduced the value (`--history`), when known.
    public var commit: String?
    /// The git blob holding the value (`--staged`, `--history`).
    public var blob: String?

    /// Creates a finding.
    public init(
        path: String, line: Int, kind: FindingKind, credential: String? = nil, preview: String,
        fingerprint: String? = nil, commit: String? = nil, blob: String? = nil
    ) {
        self.path = path
        self.line = line
        self.kind = kind
        self.credential = credential
        self.preview = preview
        self.fingerprint = fingerprint
        self.commit = commit
        self.blob = blob
    }

    /// `path:line`, prefixed by the short commit (`1a2b3c4d5e6f:path:line`) when the commit is known.
    public var location: String {
        (commit.map { String($0.prefix(12)) + ":" } ?? "") + "\(path):\(line)"
    }
}
