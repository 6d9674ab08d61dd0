import Foundation

/// The host part of a rule: an exact name or IP literal (`api.github.com`, `127.0.0.1`, `::1`), or a wildcard
/// over subdomains (`*.example.com`).
///
/// Matching is case-insensitive and ignores one trailing dot, so `API.GitHub.com.` matches `api.github.com`.
/// A wildcard matches names with one or more labels in front of the suffix (`a.example.com`,
/// `a.b.example.com`) but never the bare suffix (`example.com`): write a second rule for that.
public struct HostPattern: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case exact(String)
        /// The suffix including its leading dot: `.example.com`.
        case subdomains(of: String)
    }

    private let kind: Kind

    /// Why a pattern was refused; `description` is the user-facing reason.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses and validates a pattern.
    ///
    /// Refuses a bare `*`, a `*` anywhere but as the whole first label, a wildcard over fewer than two labels
    /// (`*.com` would send a token to every `.com` host), and characters that cannot appear in a host name.
    public init(_ text: String) throws(Invalid) {
        let normalized = Self.normalize(text)
        guard !normalized.isEmpty else { throw Invalid(description: "host pattern is empty") }
        if normalized == "*" {
            throw Invalid(description: "host pattern '*' would match every host; name the hosts this token is for")
        }
        if normalized.hasPrefix("*.") {
            let suffix = String(normalized.dropFirst(2))
            guard !suffix.contains("*") else {
                throw Invalid(description: "host pattern '\(text)' may contain '*' only as its whole first label")
            }
            try Self.validateName(suffix, original: text)
            guard suffix.split(separator: ".").count >= 2 else {
                throw Invalid(
                    description: "host pattern '\(text)' covers a whole top-level domain; use at least two labels "
                        + "after '*.' (for example '*.example.com')"
                )
            }
            kind = .subdomains(of: "." + suffix)
        } else {
            guard !normalized.contains("*") else {
                throw Invalid(description: "host pattern '\(text)' may contain '*' only as its whole first label")
            }
            if normalized.contains(":") {
                // Only an IPv6 literal may contain a colon; a port belongs in the rule's `port:`.
                var address = in6_addr()
                guard inet_pton(AF_INET6, normalized, &address) == 1 else {
                    throw Invalid(
                        description: "host pattern '\(text)' is neither a host name nor an IPv6 address "
                            + "(write a port as 'port:', not after the host)"
                    )
                }
            } else {
                try Self.validateName(normalized, original: text)
            }
            kind = .exact(normalized)
        }
    }

    /// Whether `host` (as sent by a client in CONNECT or Host) is covered by this pattern.
    public func matches(_ host: String) -> Bool {
        // Callers on the data path pass hosts normalised already: an exact match needs no second normalisation.
        if case .exact(let name) = kind, host == name { return true }
        let candidate = Self.normalize(host)
        switch kind {
        case .exact(let name):
            return candidate == name
        case .subdomains(let suffix):
            return candidate.count > suffix.count && candidate.hasSuffix(suffix)
        }
    }

    /// The pattern in its normalised spelling.
    public var description: String {
        switch kind {
        case .exact(let name): return name
        case .subdomains(let suffix): return "*" + suffix
        }
    }

    /// Lower-cases `host`, removes IPv6 brackets and one trailing dot, and writes an IP literal in its one canonical
    /// spelling (`0177.0.0.1`, `2130706433` and `127.1` become `127.0.0.1`; IPv6 is compressed and loses its zone id),
    /// so rules and policy see the address a client's odd spelling would reach.
    public static func normalize(_ host: String) -> String {
        if isPlainName(host) { return host }
        var result = host.lowercased()
        if result.hasPrefix("[") && result.hasSuffix("]") {
            result = String(result.dropFirst().dropLast())
        }
        if result.hasSuffix(".") {
            result.removeLast()
        }
        if let address = IPAddress(result) {
            return address.description
        }
        return result
    }

    /// Whether `host` is a lower-case DNS name that ``normalize(_:)`` would return unchanged: only `a-z`, `0-9`, `.`,
    /// `-` and `_`, no trailing dot, and a character no IP spelling can contain (IPv4 in any `inet_aton` form uses
    /// only digits, dots, `x` and `a-f`; IPv6 needs a colon). Answered from the bytes, without allocating.
    static func isPlainName(_ host: String) -> Bool {
        var sawNonAddressCharacter = false
        var last: UInt8 = 0
        for byte in host.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "x"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."):
                break
            case UInt8(ascii: "g")...UInt8(ascii: "z"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                sawNonAddressCharacter = true
            default:
                return false
            }
            last = byte
        }
        return sawNonAddressCharacter && last != UInt8(ascii: ".")
    }

    private static func validateName(_ name: String, original: String) throws(Invalid) {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.count <= 63 else {
                throw Invalid(description: "host pattern '\(original)' has an empty or over-long label")
            }
            let allowed = label.unicodeScalars.allSatisfy { scalar in
                (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") || scalar == "-" || scalar == "_"
            }
            guard allowed else {
                throw Invalid(
                    description: "host pattern '\(original)' contains a character that cannot appear in a host name"
                )
            }
        }
    }
}
