/// One entry under `rules:`: which requests get which credential, and how it is attached.
public struct Rule: Sendable, Hashable {
    /// The position in `rules:` (0-based); the first matching rule wins.
    public var index: Int
    /// The hosts the rule covers.
    public var host: HostPattern
    /// When set, only this destination port matches; otherwise any port.
    public var port: Int?
    /// When set, only request paths matching this prefix or glob match.
    public var path: PathPattern?
    /// When set, only these methods (upper case) match.
    public var methods: Set<String>?
    /// The credential to attach.
    public var credential: String
    /// How the credential is attached.
    public var injection: Injection
    /// Whether the credential may be attached to plain `http://` requests, which anyone on the path can read.
    public var allowPlaintext: Bool
    /// When `true`, a request to this rule's hosts that did not get this rule's credential is refused (403), so a
    /// client cannot use a credential of its own there.
    public var require: Bool
    /// When set, placeholders are also replaced in request bodies of at most this many bytes (bodies are then
    /// buffered; a larger one gets 413).
    public var bodyLimit: Int?
    /// Where the rule is defined.
    public var location: SourceLocation
    /// When `true`, the injected value is replaced by the credential's placeholder wherever it appears in the
    /// response (headers and body), for APIs that echo credentials back.
    public var scrubResponses = false

    /// Creates a rule.
    public init(
        index: Int,
        host: HostPattern,
        port: Int? = nil,
        path: PathPattern? = nil,
        methods: Set<String>? = nil,
        credential: String,
        injection: Injection,
        allowPlaintext: Bool = false,
        require: Bool = false,
        bodyLimit: Int? = nil,
        location: SourceLocation
    ) {
        self.index = index
        self.host = host
        self.port = port
        self.path = path
        self.methods = methods
        self.credential = credential
        self.injection = injection
        self.allowPlaintext = allowPlaintext
        self.require = require
        self.bodyLimit = bodyLimit
        self.location = location
    }

    /// Whether the rule covers this destination at all, whatever the path and method.
    /// This decides between intercepting a CONNECT and tunnelling it.
    public func covers(host candidate: String, port candidatePort: Int) -> Bool {
        host.matches(candidate) && (port == nil || port == candidatePort)
    }

    /// Whether the rule applies to this request (`path` without its query string).
    public func matches(host candidate: String, port candidatePort: Int, path requestPath: String, method: String) -> Bool {
        guard covers(host: candidate, port: candidatePort) else { return false }
        if let path, !path.matches(requestPath) { return false }
        if let methods, !methods.contains(method.uppercased()) { return false }
        return true
    }
}
