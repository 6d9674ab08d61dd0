/// A host and a port, as written in `listen:` settings and CONNECT request targets.
///
/// IPv6 literals are written in brackets (`[::1]:8080`); `host` holds them without the brackets.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// A DNS name or an IP literal, without IPv6 brackets.
    public var host: String
    /// The TCP port.
    public var port: Int

    /// Creates a host and port.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`. Returns `nil` when either half is missing or the port is not 0...65535.
    public init?(parsing text: Substring, defaultPort: Int? = nil) {
        let hostPart: Substring
        let portPart: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portPart = nil
            } else if rest.first == ":" {
                portPart = rest.dropFirst()
            } else {
                return nil
            }
        } else if let colon = text.lastIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            // A bare IPv6 literal without brackets is ambiguous; refuse it.
            if hostPart.contains(":") { return nil }
        } else {
            hostPart = text
            portPart = nil
        }
        guard !hostPart.isEmpty else { return nil }
        let port: Int
        if let portPart {
            guard !portPart.isEmpty, portPart.allSatisfy(\.isASCIIDigit), portPart.count <= 5,
                let value = Int(portPart), (0...65535).contains(value)
            else { return nil }
            port = value
        } else if let defaultPort {
            port = defaultPort
        } else {
            return nil
        }
        self.init(host: String(hostPart), port: port)
    }

    /// Parses `host:port` or `[v6]:port`.
    public init?(parsing text: String, defaultPort: Int? = nil) {
        self.init(parsing: text[...], defaultPort: defaultPort)
    }

    /// Whether `host` is an IPv6 literal (and so needs brackets in URLs and authorities).
    public var isIPv6Literal: Bool { host.contains(":") }

    /// `host:port`, with brackets around an IPv6 literal.
    public var description: String {
        isIPv6Literal ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether the host is a loopback address or `localhost`.
    public var isLoopback: Bool {
        let lowered = HostPattern.normalize(host)
        if lowered == "localhost" || lowered.hasSuffix(".localhost") || lowered == "::1" { return true }
        if let address = IPv4Address(lowered) { return address.octets.0 == 127 }
        return false
    }
}

extension Character {
    /// `0`–`9` only (not other Unicode digits, which `isNumber` accepts).
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
