import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Finds and replaces credential placeholders in what a client sends.
///
/// A client that must put *something* where a token goes (an SDK that insists on an API key) sends a placeholder
/// instead: `{{tokenproxy:NAME}}` by default, or the credential's own `placeholder:` string. The proxy swaps it for the
/// real value only on requests the matching rule binds to that credential; a placeholder anywhere else is refused
/// and recorded as a leak attempt, and never forwarded.
public struct Placeholders: Sendable {
    /// Placeholder text → credential name.
    public let names: [String: String]
    /// The same, as bytes, for searching without Foundation.
    private let patterns: [(text: String, bytes: [UInt8], name: String)]

    /// The default placeholder of credential `name`.
    public static func defaultPlaceholder(for name: String) -> String {
        "{{tokenproxy:\(name)}}"
    }

    /// Creates the table from credential names and their custom placeholders (`nil` → the default form).
    public init(credentials: [(name: String, placeholder: String?)]) {
        var names: [String: String] = [:]
        for credential in credentials {
            names[Self.defaultPlaceholder(for: credential.name)] = credential.name
            if let custom = credential.placeholder { names[custom] = credential.name }
        }
        self.names = names
        self.patterns = names.sorted { $0.key < $1.key }.map { ($0.key, Array($0.key.utf8), $0.value) }
    }

    /// Whether there are any placeholders at all (when not, scanning is skipped).
    public var isEmpty: Bool { names.isEmpty }

    /// The credential names whose placeholders occur in `text`, looking also inside percent-encoding and inside the
    /// base64 of a `Basic` authorization value.
    public func credentialsMentioned(in text: String) -> Set<String> {
        guard !names.isEmpty else { return [] }
        var found: Set<String> = []
        for candidate in Self.views(of: text) {
            for pattern in patterns where ByteSearch.contains(pattern.bytes, in: candidate) {
                found.insert(pattern.name)
            }
        }
        return found
    }

    /// Whether a placeholder of `credential` occurs in `text` as written or in any view of it.
    func mentions(_ credential: String, in text: String) -> Bool {
        Self.views(of: text).contains { view in
            patterns.contains { $0.name == credential && ByteSearch.contains($0.bytes, in: view) }
        }
    }

    /// Replaces every placeholder of `credential` in a header value with `secret`, including inside a `Basic`
    /// authorization value (decoded, replaced, re-encoded).
    public func replacingInHeader(_ value: String, credential: String, with secret: Secret) -> String {
        // Nearly every header holds no placeholder: answer those without building anything.
        guard mentions(credential, in: value) else { return value }
        if let basic = Self.decodedBasic(value) {
            let replaced = replacing(in: basic, credential: credential, with: secret)
            if replaced != basic { return "Basic " + Data(replaced.utf8).base64EncodedString() }
        }
        return replacing(in: value, credential: credential, with: secret)
    }

    /// Replaces placeholders of `credential` in a raw query string, as written or percent-encoded, with the
    /// percent-encoded secret. Everything else in the query stays byte for byte as the client sent it.
    public func replacingInQuery(_ query: String, credential: String, with secret: Secret) -> String {
        var result = query
        let encodedSecret = secret.withUnsafeString { QueryEncoding.encode($0) }
        for (placeholder, name) in names where name == credential {
            for spelling in Self.querySpellings(of: placeholder) where result.contains(spelling) {
                result = result.replacingOccurrences(of: spelling, with: encodedSecret)
            }
        }
        return result
    }

    /// Replaces placeholders of `credential` in raw bytes (a body, which need not be text).
    public func replacing(inBytes bytes: [UInt8], credential: String, with secret: Secret) -> [UInt8] {
        var result = bytes
        let value = secret.withUnsafeBytes { Array($0) }
        for (placeholder, name) in names where name == credential {
            let pattern = Array(placeholder.utf8)
            guard !pattern.isEmpty else { continue }
            var output: [UInt8] = []
            output.reserveCapacity(result.count)
            var index = 0
            var changed = false
            while index < result.count {
                if result[index] == pattern[0], index + pattern.count <= result.count,
                    result[index..<(index + pattern.count)].elementsEqual(pattern)
                {
                    output.append(contentsOf: value)
                    index += pattern.count
                    changed = true
                } else {
                    output.append(result[index])
                    index += 1
                }
            }
            if changed { result = output }
        }
        return result
    }

    /// The ways a placeholder can appear in a query: as written, and percent-encoded with upper or lower hex.
    private static func querySpellings(of placeholder: String) -> [String] {
        let encoded = QueryEncoding.encode(placeholder)
        var spellings = [placeholder, encoded]
        var lowerHex = ""
        var iterator = encoded.makeIterator()
        while let character = iterator.next() {
            lowerHex.append(character)
            if character == "%", let high = iterator.next(), let low = iterator.next() {
                lowerHex += String(high).lowercased() + String(low).lowercased()
            }
        }
        if lowerHex != encoded { spellings.append(lowerHex) }
        return spellings
    }

    /// Replaces placeholders of `credential` in plain text (a body).
    public func replacing(in text: String, credential: String, with secret: Secret) -> String {
        var result = text
        for pattern in patterns where pattern.name == credential && ByteSearch.contains(pattern.bytes, in: result) {
            result = secret.withUnsafeString { result.replacingOccurrences(of: pattern.text, with: $0) }
        }
        return result
    }

    /// The text as sent, percent-decoded, and the decoded credentials of a Basic value.
    static func views(of text: String) -> [String] {
        var views = [text]
        if ByteSearch.contains([UInt8(ascii: "%")], in: text), let decoded = text.removingPercentEncoding,
            decoded != text
        {
            views.append(decoded)
        }
        if let basic = decodedBasic(text) { views.append(basic) }
        return views
    }

    private static func decodedBasic(_ value: String) -> String? {
        // Most values are not Basic credentials: tell from the bytes before asking Foundation to trim and decode.
        guard looksLikeBasic(value.utf8) else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "basic " else { return nil }
        let encoded = trimmed.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded) else { return nil }
        return String(data: data, encoding: .utf8)
    }
}

extension Placeholders {
    /// Whether `utf8`, after leading blanks, starts with `basic ` in any letter case.
    static func looksLikeBasic(_ utf8: String.UTF8View) -> Bool {
        var bytes = utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }.makeIterator()
        for expected in "basic ".utf8 {
            guard let byte = bytes.next() else { return false }
            let folded = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
            guard folded == expected else { return false }
        }
        return true
    }
}

/// Substring search over UTF-8 bytes, without bridging to Foundation's string search.
public enum ByteSearch {
    /// Whether `needle` occurs in `text`'s UTF-8.
    public static func contains(_ needle: [UInt8], in text: String) -> Bool {
        guard !needle.isEmpty else { return true }
        var text = text
        return text.withUTF8 { haystack in
            contains(needle, in: UnsafeRawBufferPointer(haystack))
        }
    }

    /// Whether `needle` occurs in `haystack`.
    public static func contains(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count, let base = haystack.baseAddress else { return false }
        return needle.withUnsafeBytes { pattern in
            // memchr to each candidate first byte, then memcmp: both vectorised by libc.
            let first = Int32(pattern[0])
            var offset = 0
            let lastStart = haystack.count - pattern.count
            while offset <= lastStart {
                guard let found = memchr(base + offset, first, lastStart - offset + 1) else { return false }
                let position = UnsafeRawPointer(found) - base
                if memcmp(base + position, pattern.baseAddress!, pattern.count) == 0 { return true }
                offset = position + 1
            }
            return false
        }
    }
}

/// Percent-encoding of query parameter names and values (RFC 3986 unreserved characters stay as they are).
public enum QueryEncoding {
    private static let unreserved: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return set
    }()

    /// Encodes everything but unreserved characters.
    public static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// Sets `name` to `value` in a raw query string, removing every existing `name=` parameter first.
    public static func replacingParameter(_ name: String, with value: String, in query: String) -> String {
        var pairs = query.split(separator: "&").map(String.init).filter { pair in
            let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return (String(key).removingPercentEncoding ?? String(key)) != name
        }
        pairs.append(encode(name) + "=" + encode(value))
        return pairs.joined(separator: "&")
    }
}
