import TokenProxyCore

/// Finds secrets in the contents of one file or blob: configured tokens by fingerprint, the well-known shapes, PEM
/// private keys and generic secret assignments. Stateless between texts, so one scanner serves a whole scan.
public struct ContentScanner: Sendable {
    /// A secret found in one text, located by line, with its redacted preview.
    public struct Hit: Sendable, Hashable {
        /// The 1-based line the value starts on.
        public var line: Int
        /// What it is.
        public var kind: FindingKind
        /// The credential, for configured tokens.
        public var credential: String?
        /// The redacted preview.
        public var preview: String
        /// The public fingerprint (kind and value), for the allowlist; `nil` for configured tokens.
        public var fingerprint: String?
    }

    /// The label keying finding fingerprints: public on purpose, so an allowlist works on every machine.
    public static let fingerprintLabel = "tokenproxy-scan-allowlist-v1"
    /// How many leading bytes decide that a text is binary (a NUL among them), as git does.
    public static let binaryProbeLength = 8000

    private let configured: ConfiguredTokens
    private let placeholders: Placeholders
    private let publicFingerprinter = CredentialFingerprinter.publicLabel(ContentScanner.fingerprintLabel)

    /// Creates a scanner for `configured` tokens; values equal to one of `placeholders` (or containing a default
    /// `{{tokenproxy:NAME}}` placeholder) are never findings.
    public init(configured: ConfiguredTokens = .none, placeholders: Placeholders = Placeholders(credentials: [])) {
        self.configured = configured
        self.placeholders = placeholders
    }

    /// Whether `bytes` look binary (a NUL byte near the start); binary files are not scanned.
    public static func isBinary(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.prefix(binaryProbeLength).contains(0)
    }

    /// Every secret in `bytes`, in order of position; overlapping matches are reported once, by the most specific.
    public func scan(_ bytes: [UInt8]) -> [Hit] {
        bytes.withUnsafeBufferPointer { scan($0) }
    }

    private func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> [Hit] {
        var matches = configured.matches(in: bytes)
        ByteClass.forEachRun(in: bytes, of: ByteClass.word) { run in
            if let kind = TokenShapes.kind(of: bytes, run: run) { matches.append(ShapeMatch(kind: kind, range: run)) }
        }
        let lines = LineIndex(bytes)
        let keyIDLines = matches.filter { $0.kind == .awsAccessKeyID }.map { lines.line(of: $0.range.lowerBound) }
        matches += AWSSecretKeyMatcher.secrets(in: bytes, lines: lines, near: keyIDLines)
        matches += PrivateKeyBlockMatcher.blocks(in: bytes)
        matches += SecretAssignmentMatcher.assignments(in: bytes)
        return Self.mostSpecific(matches).compactMap { match -> Hit? in
            let value = UnsafeBufferPointer(rebasing: bytes[match.range])
            guard !isPlaceholder(value), !Self.isDocumentedExample(match.kind, value) else { return nil }
            let isConfigured = match.kind == .configuredToken
            return Hit(
                line: lines.line(of: match.range.lowerBound),
                kind: match.kind,
                credential: match.credential,
                preview: isConfigured ? Redaction.lengthOnly(of: value) : Redaction.preview(of: value),
                fingerprint: isConfigured ? nil : fingerprint(kind: match.kind, value: value)
            )
        }
    }

    /// The matches left when each overlap keeps only the one with the best precedence (then the earliest).
    private static func mostSpecific(_ matches: [ShapeMatch]) -> [ShapeMatch] {
        let ranked = matches.sorted { ($0.precedence, $0.range.lowerBound) < ($1.precedence, $1.range.lowerBound) }
        var kept: [ShapeMatch] = []
        for match in ranked where !kept.contains(where: { $0.range.overlaps(match.range) }) {
            kept.append(match)
        }
        return kept.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    private func isPlaceholder(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        let text = String(decoding: value, as: UTF8.self)
        return placeholders.names[text] != nil || text.contains("{{tokenproxy:")
    }

    /// Whether an AWS key is one of AWS's documentation examples (`AKIAIOSFODNN7EXAMPLE` and its secret key end in
    /// `EXAMPLE` / `EXAMPLEKEY`): they are in countless tests and docs, and no account accepts them.
    private static func isDocumentedExample(_ kind: FindingKind, _ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard kind == .awsAccessKeyID || kind == .awsSecretAccessKey else { return false }
        let text = String(decoding: value, as: UTF8.self)
        return text.hasSuffix("EXAMPLE") || text.hasSuffix("EXAMPLEKEY")
    }

    /// The public fingerprint of a finding: HMAC under ``fingerprintLabel`` of the kind, a NUL and the value.
    private func fingerprint(kind: FindingKind, value: UnsafeBufferPointer<UInt8>) -> String {
        var material = Array(kind.rawValue.utf8)
        material.append(0)
        material.append(contentsOf: value)
        let secret = Secret(bytes: material)
        return publicFingerprinter.fingerprint(of: secret)
    }
}
