import Foundation

/// An IPv4 or IPv6 address, from any spelling a client might use for it.
///
/// Egress policy decides on addresses, never on how they were written: `[::FFFF:127.0.0.1]`, `0177.0.0.1` and
/// `127.1` are all the loopback address they stand for.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(IPv4Address)
    /// The 16 bytes of an IPv6 address, most significant first.
    case v6([UInt8])

    /// Parses an IP literal: any IPv4 spelling `inet_aton` accepts, or IPv6 with or without brackets and with an
    /// optional zone id (`fe80::1%eth0`, also percent-encoded as in URLs: `%25eth0`), ignoring one trailing dot.
    /// Returns `nil` for host names.
    public init?(_ text: String) {
        var host = text
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.contains(":") {
            if let zone = host.firstIndex(of: "%") { host = String(host[..<zone]) }
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else { return nil }
            self = .v6(withUnsafeBytes(of: &address) { Array($0) })
            return
        }
        if host.hasSuffix(".") { host.removeLast() }
        guard let address = IPv4Address(lenient: host) else { return nil }
        self = .v4(address)
    }

    /// The address in network byte order (4 or 16 bytes).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let address): return [address.octets.0, address.octets.1, address.octets.2, address.octets.3]
        case .v6(let bytes): return bytes
        }
    }

    /// The IPv4 address carried inside an IPv6 one, for the forms that carry one: IPv4-mapped `::ffff:0:0/96`,
    /// IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` (last 32 bits) and 6to4 `2002::/16` (bits 16–47).
    public var embeddedIPv4: (address: IPv4Address, form: String)? {
        guard case .v6(let bytes) = self else { return nil }
        func v4(_ offset: Int) -> IPv4Address {
            IPv4Address(
                value: UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
                    | UInt32(bytes[offset + 3])
            )
        }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return (v4(12), "IPv4-mapped ::ffff:0:0/96")
        }
        if bytes[0..<12].allSatisfy({ $0 == 0 }) && bytes[12..<16].contains(where: { $0 != 0 })
            && !(bytes[12..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1)
        {
            return (v4(12), "IPv4-compatible ::/96")
        }
        if bytes[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
            return (v4(12), "NAT64 64:ff9b::/96")
        }
        if bytes[0] == 0x20 && bytes[1] == 0x02 {
            return (v4(2), "6to4 2002::/16")
        }
        return nil
    }

    /// The canonical spelling: a dotted quad, or RFC 5952 IPv6 without brackets.
    public var description: String {
        switch self {
        case .v4(let address):
            return address.dottedQuad
        case .v6(var bytes):
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            bytes.withUnsafeMutableBytes { raw in
                _ = inet_ntop(AF_INET6, raw.baseAddress, &text, socklen_t(text.count))
            }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
