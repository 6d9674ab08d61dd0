import TokenProxyCore

/// The configured credentials' values, reduced to what finding them needs: their lengths and keyed fingerprints under
/// a random key that lives only as long as this value. No value is kept, so a scan never holds or prints one.
///
/// A text is cut into candidates at delimiter characters (anything but `[A-Za-z0-9_-]`, except the characters the
/// value itself contains: a token with `.` or `/` in it is not cut there), and each candidate of a configured length is
/// fingerprinted and compared.
public struct ConfiguredTokens: Sendable {
    /// The values that share one set of delimiters.
    private struct Group: Sendable {
        /// Which bytes belong to a candidate.
        var candidateBytes: [Bool]
        /// Fingerprint → credential name, by value length.
        var fingerprints: [Int: [String: String]]
    }

    /// The shortest value looked for: shorter ones would match ordinary words and numbers.
    public static let minimumLength = 8

    private let fingerprinter: CredentialFingerprinter
    private let groups: [Group]
    /// The names of the credentials looked for, sorted.
    public let names: [String]
    /// One line per value that is not looked for, saying why (never the value).
    public let notices: [String]

    /// No configured tokens: only the well-known shapes are looked for.
    public static let none = ConfiguredTokens(values: [])

    /// Fingerprints `values`; the caller drops them afterwards.
    public init(values: [(name: String, secret: Secret)]) {
        let fingerprinter = CredentialFingerprinter.ephemeral()
        var groups: [[UInt8]: Group] = [:]
        var names: Set<String> = []
        var notices: [String] = []
        for (name, secret) in values {
            guard secret.count >= Self.minimumLength else {
                notices.append(
                    "credential '\(name)' has a value shorter than \(Self.minimumLength) characters; "
                        + "it is not looked for"
                )
                continue
            }
            let extraBytes = secret.withUnsafeBytes { bytes in
                Array(Set(bytes.filter { !ByteClass.word[Int($0)] })).sorted()
            }
            var group = groups[extraBytes] ?? Group(
                candidateBytes: ByteClass.table { ByteClass.word[Int($0)] || extraBytes.contains($0) },
                fingerprints: [:]
            )
            group.fingerprints[secret.count, default: [:]][fingerprinter.fingerprint(of: secret)] = name
            groups[extraBytes] = group
            names.insert(name)
        }
        self.fingerprinter = fingerprinter
        self.groups = Array(groups.values)
        self.names = names.sorted()
        self.notices = notices
    }

    /// Fingerprints the values of every credential in `store` that holds one: tokens, AWS secret keys and session
    /// tokens, OAuth client secrets and refresh tokens.
    public init(store: CredentialStore) {
        var values: [(name: String, secret: Secret)] = []
        for name in store.loadedCredentialNames {
            guard let value = store.value(named: name) else { continue }
            switch value {
            case .token(let secret):
                values.append((name, secret))
            case .aws(let credentials):
                values.append((name, credentials.secretAccessKey))
                if let session = credentials.sessionToken { values.append((name, session)) }
            case .oauth2(let client):
                values.append((name, client.clientSecret))
                if let refresh = client.refreshToken { values.append((name, refresh)) }
            }
        }
        self.init(values: values)
    }

    /// Whether no value is looked for.
    public var isEmpty: Bool { names.isEmpty }

    /// Every occurrence of a configured value in `bytes`.
    func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [ShapeMatch] {
        var matches: [ShapeMatch] = []
        for group in groups {
            ByteClass.forEachRun(in: bytes, of: group.candidateBytes) { run in
                guard let byFingerprint = group.fingerprints[run.count] else { return }
                let fingerprint = fingerprinter.fingerprint(
                    ofBytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[run]))
                )
                if let name = byFingerprint[fingerprint] {
                    matches.append(ShapeMatch(kind: .configuredToken, range: run, credential: name))
                }
            }
        }
        return matches
    }
}
