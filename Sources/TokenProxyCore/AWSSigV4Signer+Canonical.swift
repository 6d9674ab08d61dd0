import Foundation

/// The pieces of an AWS Signature Version 4 canonical request, each a pure function of its input.
///
/// Kept apart from ``AWSSigV4Signer`` so that the encoding rules, which are where signers usually go wrong, can be
/// read (and tested) on their own.
enum SigV4Canonical {
    /// Header names the signer never signs.
    ///
    /// The hop-by-hop ones (RFC 9110 §7.6.1) are removed or rewritten by every proxy on the way, so a signature
    /// over them would break. `expect` is answered or dropped by intermediaries (`100-continue`), and
    /// `x-amzn-trace-id` is amended by AWS's own front ends before the signature is checked; the AWS SDKs leave
    /// both unsigned for the same reasons, and `user-agent` too, which proxies and gateways commonly rewrite (and
    /// servers that re-derive the signed set the way the SDKs do, such as moto, leave it out).
    /// `proxy-*` names are matched by prefix in ``isUnsignable(_:)``.
    static let unsignableNames: Set<String> = [
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "expect", "x-amzn-trace-id",
        "user-agent",
    ]

    /// Whether a header with the lowercased `name` must stay out of the signature.
    static func isUnsignable(_ name: String) -> Bool {
        // A name starting with ":" is an HTTP/2 pseudo-header, which is not a header at all: `:authority` has to
        // be passed as `host` by the caller.
        unsignableNames.contains(name) || name.hasPrefix("proxy-") || name.hasPrefix(":") || name.isEmpty
    }

    // MARK: - Bytes and text

    /// `name` with ASCII letters lowercased and every other character untouched.
    ///
    /// Header names are ASCII tokens; `String.lowercased()` would apply Unicode rules that a server does not.
    static func asciiLowercased(_ name: String) -> String {
        String(decoding: name.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// Whether `lhs` sorts before `rhs` by byte value, which is the order SigV4 specifies for names and values.
    ///
    /// `String`'s own `<` compares Unicode scalars after normalisation; for the ASCII that canonical strings
    /// contain it agrees, but the byte order is what AWS defines, so compare that.
    static func bytewiseLess(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    // MARK: - Percent-encoding

    /// RFC 3986 `unreserved`: the only bytes SigV4 leaves unencoded.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// `bytes` with every byte outside the unreserved set written as `%XY` (uppercase hex).
    static func uriEncode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` percent-decodes to.
    ///
    /// A `%` not followed by two hex digits is kept as a literal byte rather than rejected: the request is the
    /// client's, and the server reads such a sequence literally too. `+` is a literal plus sign here (RFC 3986
    /// gives it no meaning in a query); form encoding's "+ means space" is not assumed.
    static func percentDecode(_ text: some StringProtocol) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    // MARK: - Canonical URI

    /// The canonical URI for `path`, the path as sent on the wire (without query).
    ///
    /// - `.s3`: S3 signs the object key encoded exactly once and never rewrites the path (`a//b` and `./` are
    ///   parts of a key). Each segment is decoded and re-encoded, so a path that the client already encoded is
    ///   not encoded twice, and one that it left partly unencoded (`$`, space) still comes out the way S3
    ///   computes it.
    /// - `.standard`: every other service normalises the path (drops empty, `.` and `..` segments, RFC 3986
    ///   §5.2.4) and signs each segment encoded once more than on the wire, so `%20` is signed as `%2520`.
    static func canonicalURI(path: String, mode: AWSSigV4Signer.URIEncodingMode) -> String {
        let absolute = path.hasPrefix("/") ? path : "/" + path
        let segments = absolute.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        switch mode {
        case .s3:
            return "/" + segments.map { uriEncode(percentDecode($0)) }.joined(separator: "/")
        case .standard:
            var kept: [Substring] = []
            for segment in segments {
                switch segment {
                case "", ".":
                    continue
                case "..":
                    _ = kept.popLast()
                default:
                    kept.append(segment)
                }
            }
            guard !kept.isEmpty else { return "/" }
            let joined = "/" + kept.map { uriEncode($0.utf8) }.joined(separator: "/")
            // A trailing slash names a different resource than none, so it survives normalisation.
            return absolute.hasSuffix("/") ? joined + "/" : joined
        }
    }

    // MARK: - Canonical query

    /// The canonical query string for `query` (without the `?`).
    ///
    /// Each `name=value` pair is decoded and re-encoded, so input that is already percent-encoded is not encoded
    /// twice, then the pairs are sorted by name and then by value. A name without `=` gets an empty value
    /// (`lifecycle` → `lifecycle=`); empty pairs (`a=1&&b=2`) are dropped, as servers drop them.
    static func canonicalQuery(_ query: String) -> String {
        let pairs: [(name: String, value: String)] = query.split(separator: "&").map { component in
            if let equals = component.firstIndex(of: "=") {
                let name = component[..<equals]
                let value = component[component.index(after: equals)...]
                return (uriEncode(percentDecode(name)), uriEncode(percentDecode(value)))
            }
            return (uriEncode(percentDecode(component)), "")
        }
        return pairs.sorted { lhs, rhs in
            lhs.name == rhs.name ? bytewiseLess(lhs.value, rhs.value) : bytewiseLess(lhs.name, rhs.name)
        }
        .map { "\($0.name)=\($0.value)" }
        .joined(separator: "&")
    }

    // MARK: - Canonical headers

    /// `value` trimmed, with every run of whitespace inside it replaced by one space.
    ///
    /// AWS says "sequential spaces"; the SDKs and the servers treat tabs and line breaks (obsolete line folding)
    /// as spaces too, so all whitespace is collapsed.
    static func canonicalHeaderValue(_ value: String) -> String {
        // Split on bytes, not Characters: "\r\n" is one Character, and an ASCII separator never cuts a UTF-8
        // sequence in two.
        value.utf8.split(whereSeparator: isASCIIWhitespace)
            .map { String(decoding: $0, as: UTF8.self) }
            .joined(separator: " ")
    }

    private static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    // MARK: - Time

    /// `date` as `yyyyMMdd'T'HHmmss'Z'` in UTC.
    ///
    /// Computed from the Unix time directly rather than with a `DateFormatter`, whose output depends on the
    /// process's calendar and locale settings.
    static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (day, adjustedSecond) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
        let (year, month, dayOfMonth) = civilDate(daysSinceEpoch: day)
        return pad(year, 4) + pad(month, 2) + pad(dayOfMonth, 2) + "T" + pad(adjustedSecond / 3600, 2)
            + pad(adjustedSecond % 3600 / 60, 2) + pad(adjustedSecond % 60, 2) + "Z"
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
