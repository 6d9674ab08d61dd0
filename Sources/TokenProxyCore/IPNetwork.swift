/// A block of addresses in CIDR notation (`10.1.0.0/16`, `fd00::/8`); a bare address is a block of one.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the block.
    public let address: IPAddress
    /// How many leading bits are fixed.
    public let prefixLength: Int

    /// Why a block was refused; `description` is the user-facing reason.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses `ADDRESS/LENGTH` or a bare address. Host bits set below the prefix are refused, since
    /// `10.1.2.3/16` usually means a typo.
    public init(_ text: String) throws(Invalid) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else {
            throw Invalid(description: "'\(text)' is not an IP address or CIDR block (for example 10.1.0.0/16)")
        }
        let width = address.bytes.count * 8
        var length = width
        if parts.count == 2 {
            guard let value = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigit), (0...width).contains(value) else {
                throw Invalid(description: "'\(text)' needs a prefix length of 0–\(width) after '/'")
            }
            length = value
        }
        guard Self.masked(address.bytes, length) == address.bytes else {
            throw Invalid(
                description: "'\(text)' has bits set after its /\(length) prefix; write the block's first address"
            )
        }
        self.init(address: address, prefixLength: length)
    }

    /// A block from its first address and prefix length (host bits must be zero).
    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Whether `candidate` lies in the block. IPv4 and IPv6 blocks never contain each other's addresses.
    public func contains(_ candidate: IPAddress) -> Bool {
        let bytes = candidate.bytes
        guard bytes.count == address.bytes.count else { return false }
        return Self.masked(bytes, prefixLength) == address.bytes
    }

    /// `address/length`.
    public var description: String { "\(address)/\(prefixLength)" }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let kept = max(0, min(8, length - index * 8))
            result[index] &= kept == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - kept))
        }
        return result
    }
}
