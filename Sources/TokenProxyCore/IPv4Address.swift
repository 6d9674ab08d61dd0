/// A dotted-quad IPv4 address in its one canonical spelling (`a.b.c.d`, each 0–255, no leading zeros).
///
/// Odd spellings (`0177.0.0.1`, `2130706433`) are deliberately not accepted here; the policy layer normalises them.
public struct IPv4Address: Sendable, Hashable {
    /// The four octets, most significant first.
    public var octets: (UInt8, UInt8, UInt8, UInt8)

    /// Parses a canonical dotted quad, or returns `nil`.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var values: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit),
                part == "0" || !part.hasPrefix("0"), let value = UInt8(part)
            else { return nil }
            values.append(value)
        }
        octets = (values[0], values[1], values[2], values[3])
    }

    public static func == (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
        lhs.octets == rhs.octets
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(octets.0)
        hasher.combine(octets.1)
        hasher.combine(octets.2)
        hasher.combine(octets.3)
    }
}
