/// Recognises the addresses a proxy must not reach on a client's behalf unless told to: loopback, private networks,
/// link-local (cloud metadata at 169.254.169.254), CGNAT, unspecified, multicast, broadcast and reserved blocks, and
/// IPv6 forms that carry one of those IPv4 addresses inside (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
public enum AddressClassifier {
    /// A named block of special-purpose addresses.
    public struct Range: Sendable, CustomStringConvertible {
        /// What the block is for (`loopback`, `link-local (cloud metadata)`, …).
        public var name: String
        /// The block.
        public var network: IPNetwork
        public var description: String { "\(name) \(network)" }
    }

    /// The special-purpose IPv4 blocks.
    public static let ipv4Ranges: [Range] = [
        range("unspecified (this network)", "0.0.0.0/8"),
        range("private (RFC 1918)", "10.0.0.0/8"),
        range("carrier-grade NAT", "100.64.0.0/10"),
        range("loopback", "127.0.0.0/8"),
        range("link-local (incl. cloud metadata)", "169.254.0.0/16"),
        range("private (RFC 1918)", "172.16.0.0/12"),
        range("IETF protocol assignments", "192.0.0.0/24"),
        range("private (RFC 1918)", "192.168.0.0/16"),
        range("benchmarking", "198.18.0.0/15"),
        range("multicast", "224.0.0.0/4"),
        range("reserved and broadcast", "240.0.0.0/4"),
    ]

    /// The special-purpose IPv6 blocks (the forms embedding IPv4 are judged by the IPv4 address inside).
    public static let ipv6Ranges: [Range] = [
        range("unspecified", "::/128"),
        range("loopback", "::1/128"),
        range("unique local (ULA)", "fc00::/7"),
        range("link-local", "fe80::/10"),
        range("site-local (deprecated)", "fec0::/10"),
        range("multicast", "ff00::/8"),
    ]

    /// Why `address` counts as private, or `nil` for an ordinary public address.
    public static func restriction(of address: IPAddress) -> String? {
        switch address {
        case .v4:
            return ipv4Ranges.first { $0.network.contains(address) }.map { "\($0)" }
        case .v6:
            if let range = ipv6Ranges.first(where: { $0.network.contains(address) }) { return "\(range)" }
            if let (inner, form) = address.embeddedIPv4, let why = restriction(of: .v4(inner)) {
                return "\(form) embedding \(inner.dottedQuad), \(why)"
            }
            return nil
        }
    }

    private static func range(_ name: String, _ cidr: String) -> Range {
        // The table above is fixed and valid; a typo in it is a programming error caught by the unit tests.
        Range(name: name, network: try! IPNetwork(cidr))
    }
}
