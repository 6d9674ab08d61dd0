/// One entry under `clients:`: a workload allowed to use the proxy, how it proves who it is, and what it may use.
public struct ClientConfiguration: Sendable, Hashable {
    /// Which client certificate names this client (on the `listen_tls:` listener).
    public struct CertificateMatch: Sendable, Hashable {
        /// The subject common name (CN) the certificate must carry.
        public var subject: String?
        /// A subject alternative name (DNS name, URI such as a SPIFFE ID, e-mail or IP) the certificate must carry.
        public var alternativeName: String?

        /// Creates a match; at least one of the two must be set.
        public init(subject: String? = nil, alternativeName: String? = nil) {
            self.subject = subject
            self.alternativeName = alternativeName
        }

        /// Whether a verified certificate with `names` is this client's.
        public func matches(_ names: CertificateNames) -> Bool {
            if let subject, !names.commonNames.contains(subject) { return false }
            if let alternativeName, !names.alternativeNames.contains(alternativeName) { return false }
            return subject != nil || alternativeName != nil
        }
    }

    /// The client's name: it goes into every record of its requests (`client: NAME@ip:port`).
    public var name: String
    /// The key the client sends as `Proxy-Authorization` (Basic with the client name as user, or Bearer).
    public var key: CredentialSource?
    /// The client certificate that identifies the client.
    public var certificate: CertificateMatch?
    /// The environment tag (`staging`, `prod`…): a tagged credential is only injected for a client with its tag.
    public var environment: String?
    /// The credentials the client may use by name; with `rules` both `nil`, any credential of its environment.
    public var credentials: Set<String>?
    /// The rules the client may use by index (`rules[N]`, as records name them).
    public var rules: Set<Int>?
    /// The client's own rate limits and daily budget.
    public var limits: RateLimits
    /// Where the client is defined.
    public var location: SourceLocation
    /// Where its key source is written, for source errors.
    public var keyLocation: SourceLocation

    /// Creates a client.
    public init(
        name: String, key: CredentialSource? = nil, certificate: CertificateMatch? = nil, environment: String? = nil,
        credentials: Set<String>? = nil, rules: Set<Int>? = nil, limits: RateLimits = RateLimits(),
        location: SourceLocation, keyLocation: SourceLocation? = nil
    ) {
        self.name = name
        self.key = key
        self.certificate = certificate
        self.environment = environment
        self.credentials = credentials
        self.rules = rules
        self.limits = limits
        self.location = location
        self.keyLocation = keyLocation ?? location
    }

    /// Whether the client's allow-lists let it use `rule` (and so the rule's credential).
    public func mayUse(_ rule: Rule) -> Bool {
        if credentials == nil && rules == nil { return true }
        return credentials?.contains(rule.credential) == true || rules?.contains(rule.index) == true
    }

    /// The name the key's source is read and sealed under (`tokenproxy seal clients.NAME.key`).
    public var keySourceName: String { "clients.\(name).key" }
}

/// The names a verified client certificate carries, as the TLS listener read them.
public struct CertificateNames: Sendable, Hashable, CustomStringConvertible {
    /// The subject's common names (usually one).
    public var commonNames: [String]
    /// The subject alternative names: DNS names, URIs, e-mail addresses and IP addresses as text.
    public var alternativeNames: [String]

    /// Creates the names of one certificate.
    public init(commonNames: [String], alternativeNames: [String]) {
        self.commonNames = commonNames
        self.alternativeNames = alternativeNames
    }

    /// `CN=…, SAN=…`, for refusal reasons (certificate names are not secret).
    public var description: String {
        let cn = commonNames.isEmpty ? "no CN" : "CN=" + commonNames.joined(separator: ",")
        let san = alternativeNames.isEmpty ? "" : " SAN=" + alternativeNames.joined(separator: ",")
        return String((cn + san).prefix(200))
    }
}
