/// One entry under `rules:`: which requests get which credential, and how it is attached.
public struct Rule: Sendable, Hashable {
    /// The position in `rules:` (0-based); the first matching rule wins.
    public var index: Int
    /// The hosts the rule covers.
    public var host: HostPattern
    /// When set, only this destination port matches; otherwise any port.
    public var port: Int?
    /// When set, only request paths starting with this prefix match.
    public var pathPrefix: String?
    /// When set, only these methods (upper case) match.
    public var methods: Set<String>?
    /// The credential to attach.
    public var credential: String
    /// How the credential is attached.
    public var injection: HeaderInjection
    /// Whether the credential may be attached to plain `http://` requests, which anyone on the path can read.
    public var allowPlaintext: Bool
    /// Where the rule is defined.
    public var location: SourceLocation

    /// Creates a rule.
    public init(
        index: Int,
        host: HostPattern,
        port: Int? = nil,
        pathPrefix: String? = nil,
        methods: Set<String>? = nil,
        credential: String,
        injection: HeaderInjection,
        allowPlaintext: Bool = false,
        location: SourceLocation
    ) {
        self.index = index
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
        self.methods = methods
        self.credential = credential
        self.injection = injection
        self.allowPlaintext = allowPlaintext
        self.location = location
    }

    /// Whether the rule covers this destination at all, whatever the path and method.
    /// This decides between intercepting a CONNECT and tunnelling it.
    public func covers(host candidate: String, port candidatePort: Int) -> Bool {
        host.matches(candidate) && (port == nil || port == candidatePort)
    }

    /// Whether the rule applies to this request.
    public func matches(host candidate: String, port candidatePort: Int, path: String, method: String) -> Bool {
        guard covers(host: candidate, port: candidatePort) else { return false }
        if let pathPrefix, !path.hasPrefix(pathPrefix) { return false }
        if let methods, !methods.contains(method.uppercased()) { return false }
        return true
    }
}

/// How a rule attaches a credential: set one header to a template with the secret in it.
public struct HeaderInjection: Sendable, Hashable {
    /// The header name, as configured.
    public var header: String
    /// The header value with a `{{secret}}` slot.
    public var template: InjectionTemplate

    /// Creates a header injection.
    public init(header: String, template: InjectionTemplate) {
        self.header = header
        self.template = template
    }
}
