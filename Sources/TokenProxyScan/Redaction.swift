/// The previews a scan shows instead of a value.
public enum Redaction {
    /// How many leading characters a preview of a well-known shape shows (its public prefix, such as `ghp_`).
    public static let shownPrefixLength = 4

    /// `ghp_…(40 chars)`: the first 4 characters and the length. Non-ASCII leading bytes are not shown.
    public static func preview(of value: some Collection<UInt8>) -> String {
        let prefix = value.prefix(shownPrefixLength)
        let printable = prefix.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
        let shown = printable ? String(decoding: prefix, as: UTF8.self) : ""
        return shown + "…(\(value.count) chars)"
    }

    /// `(41 chars)`: the length only, for configured tokens, whose characters are never shown.
    public static func lengthOnly(of value: some Collection<UInt8>) -> String {
        "(\(value.count) chars)"
    }
}
