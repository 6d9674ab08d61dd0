/// One entry of `policy.allow` or `policy.allow_private`: a host (`api.example.com`), a wildcard (`*.example.com`)
/// or an address block (`10.1.0.0/16`, `fd00::/8`, a single IP), each optionally with a port.
public struct EgressDestination: Sendable, Hashable, CustomStringConvertible {
    /// What the entry names.
    public enum Target: Sendable, Hashable {
        case host(HostPattern)
        case network(IPNetwork)
    }

    /// The host pattern or address block.
    public var target: Target
    /// When set, only this port.
    public var port: Int?

    /// Why an entry was refused; `description` is the user-facing reason.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Creates an entry.
    public init(target: Target, port: Int? = nil) {
        self.target = target
        self.port = port
    }

    /// Parses `HOST`, `*.DOMAIN`, `CIDR` or `IP`, each optionally followed by `:PORT`; an IPv6 address or block
    /// with a port goes in brackets (`[fd00::/8]:443`).
    public init(_ text: String) throws(Invalid) {
        var body = Substring(text)
        var port: Int?
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else {
                throw Invalid(description: "'\(text)' opens '[' without closing it")
            }
            let rest = body[body.index(after: close)...]
            body = body[body.index(after: body.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.first == ":" else { throw Invalid(description: "'\(text)' has text after ']'") }
                port = try Self.port(rest.dropFirst(), in: text)
            }
        } else if body.filter({ $0 == ":" }).count == 1, let colon = body.lastIndex(of: ":") {
            port = try Self.port(body[body.index(after: colon)...], in: text)
            body = body[..<colon]
        }
        let name = String(body)
        if name.contains("/") || IPAddress(name) != nil {
            do {
                target = .network(try IPNetwork(name))
            } catch {
                throw Invalid(description: error.description)
            }
        } else {
            do {
                target = .host(try HostPattern(name))
            } catch {
                throw Invalid(description: error.description)
            }
        }
        self.port = port
    }

    /// Whether the entry covers a destination: the host as the client named it (normalised) or one of the
    /// addresses it resolved to, and the port.
    public func matches(host: String, address: IPAddress?, port candidatePort: Int) -> Bool {
        if let port, port != candidatePort { return false }
        switch target {
        case .host(let pattern):
            return pattern.matches(host)
        case .network(let network):
            guard let address else { return false }
            if network.contains(address) { return true }
            // `allow_private: [127.0.0.0/8]` also covers ::ffff:127.0.0.1, which reaches the same socket.
            if let inner = address.embeddedIPv4?.address { return network.contains(.v4(inner)) }
            return false
        }
    }

    /// The entry as it would be written in the configuration.
    public var description: String {
        let name: String
        switch target {
        case .host(let pattern): name = pattern.description
        case .network(let network): name = network.description
        }
        guard let port else { return name }
        return name.contains(":") ? "[\(name)]:\(port)" : "\(name):\(port)"
    }

    private static func port(_ text: Substring, in entry: String) throws(Invalid) -> Int {
        guard let value = Int(text), text.allSatisfy(\.isASCIIDigit), (1...65535).contains(value) else {
            throw Invalid(description: "'\(entry)' has a port that is not 1–65535")
        }
        return value
    }
}
