extension IPv4Address {
    /// Parses every spelling of an IPv4 address that `inet_aton` (and so curl, browsers and most HTTP stacks)
    /// accepts: `127.0.0.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`.
    ///
    /// A host that such a stack would dial as an IPv4 address must be matched and checked as that address, or a
    /// policy naming `127.0.0.1` could be walked around with `0177.0.0.1`. One to four parts, each decimal, octal
    /// (leading `0`) or hexadecimal (`0x`); the last part fills the remaining bytes.
    public init?(lenient text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt32] = []
        for part in parts {
            guard let value = Self.number(part) else { return nil }
            values.append(value)
        }
        var result: UInt32 = 0
        for (index, value) in values.dropLast().enumerated() {
            guard value <= 255 else { return nil }
            result |= value << (8 * (3 - index))
        }
        let lastBytes = 4 - (values.count - 1)
        let last = values[values.count - 1]
        guard lastBytes == 4 || last < (UInt32(1) << (8 * lastBytes)) else { return nil }
        result |= last
        self.init(value: result)
    }

    /// Builds an address from its 32-bit value (most significant byte first).
    public init(value: UInt32) {
        octets = (UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF))
    }

    /// The address as a 32-bit number.
    public var value: UInt32 {
        UInt32(octets.0) << 24 | UInt32(octets.1) << 16 | UInt32(octets.2) << 8 | UInt32(octets.3)
    }

    /// The canonical dotted quad.
    public var dottedQuad: String {
        "\(octets.0).\(octets.1).\(octets.2).\(octets.3)"
    }

    /// One part of a lenient address: decimal, `0`-prefixed octal or `0x`-prefixed hexadecimal, at most 32 bits.
    private static func number(_ part: Substring) -> UInt32? {
        guard !part.isEmpty, part.count <= 34 else { return nil }
        let lowered = part.lowercased()
        let digits: Substring
        let radix: Int
        if lowered.hasPrefix("0x") {
            digits = lowered.dropFirst(2)[...]
            radix = 16
            if digits.isEmpty { return 0 }  // inet_aton reads a bare "0x" as zero
        } else if lowered.count > 1 && lowered.hasPrefix("0") {
            digits = lowered.dropFirst()[...]
            radix = 8
        } else {
            digits = lowered[...]
            radix = 10
        }
        guard digits.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
        return UInt32(digits, radix: radix)
    }
}
