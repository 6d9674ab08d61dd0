/// Hexadecimal text of bytes, for hashes, signatures and fingerprints (without Foundation's slow `String(format:)`).
public enum Hex {
    /// Lowercase hex of `bytes`.
    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        encode(bytes, digits: lowercaseDigits)
    }

    /// Uppercase hex of `bytes`, each byte separated by `separator` (certificate fingerprints: `AB:CD:…`).
    public static func uppercase(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
        guard !separator.isEmpty else { return encode(bytes, digits: uppercaseDigits) }
        return bytes.map { encode(CollectionOfOne($0), digits: uppercaseDigits) }.joined(separator: separator)
    }

    private static let lowercaseDigits = Array("0123456789abcdef".utf8)
    private static let uppercaseDigits = Array("0123456789ABCDEF".utf8)

    private static func encode(_ bytes: some Sequence<UInt8>, digits: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
