import TokenProxyCore

/// Encodes audit records as JSON bytes, appended straight to a buffer, without `JSONEncoder`.
///
/// A record is a ``UsageEvent`` plus its chain fields `seq` and `prev` (see ``AuditChain``), one per proxied request.
/// `JSONEncoder` (boxing every value, sorting the keys of each record, then serializing) cost a noticeable share of
/// the proxy's CPU; this writes the same bytes directly.
///
/// The output is byte for byte what ``UsageEvent/jsonEncoder()`` produced for the record, so the logs written before
/// and after this encoder read and verify the same (the chain hashes the bytes as written). What that takes, as
/// `JSONEncoder` does it (`AuditRecordEncoderTests` compare the two):
/// - keys sorted by their UTF-8 bytes (`.sortedKeys`), `seq` and `prev` among the event's keys, no spaces;
/// - absent optionals as `null`;
/// - integers in decimal; the duration (``UsageEvent/recordedDurationMilliseconds``) as Swift's shortest
///   round-trip `description` of the `Double`, less a trailing `.0` (`12`, `12.5`, `0.001`, `1e-07`, `1e+21`);
/// - strings with `"` and `\` escaped, `\b`, `\f`, `\n`, `\r`, `\t` for those control characters, `\u00xx` (lowercase
///   hex) for the other bytes below 0x20, and everything else (`/`, U+007F, non-ASCII as UTF-8) as it is;
/// - times as ``UsageStoreTime/format(_:)`` strings.
enum AuditRecordEncoder {
    /// Appends the record of `event` with chain fields `seq` and `prev` to `buffer`, without a newline.
    ///
    /// - Throws: `EncodingError.invalidValue` when the duration cannot be written (where `JSONEncoder` refused it
    ///   too: see ``UsageEvent/recordedDurationMilliseconds``); `buffer` is then left as it was.
    static func append(_ event: UsageEvent, seq: Int, prev: String, to buffer: inout [UInt8]) throws {
        var prev = prev
        try prev.withUTF8 { prev in
            try append(event, seq: seq, prevUTF8: prev, to: &buffer)
        }
    }

    /// As ``append(_:seq:prev:to:)``, with `prev` given as its UTF-8 bytes (the writer keeps the hash of the record
    /// before in a reused buffer rather than a new string per record).
    static func append(
        _ event: UsageEvent, seq: Int, prevUTF8 prev: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]
    ) throws {
        let duration = event.recordedDurationMilliseconds
        guard duration.isFinite else {
            throw EncodingError.invalidValue(
                duration,
                EncodingError.Context(
                    codingPath: [DurationKey()],
                    debugDescription: "Unable to encode Double.\(duration) directly in JSON."
                )
            )
        }
        appendLiteral("{\"bytes_in\":", to: &buffer)
        appendInteger(event.bytesIn, to: &buffer)
        appendLiteral(",\"bytes_out\":", to: &buffer)
        appendInteger(event.bytesOut, to: &buffer)
        appendLiteral(",\"client\":", to: &buffer)
        appendString(event.client, to: &buffer)
        appendLiteral(",\"credential\":", to: &buffer)
        appendOptionalString(event.credential, to: &buffer)
        appendLiteral(",\"decision\":", to: &buffer)
        appendString(event.decision.rawValue, to: &buffer)
        appendLiteral(",\"duration_ms\":", to: &buffer)
        appendDouble(duration, to: &buffer)
        appendLiteral(",\"fingerprint\":", to: &buffer)
        appendOptionalString(event.fingerprint, to: &buffer)
        appendLiteral(",\"host\":", to: &buffer)
        appendString(event.host, to: &buffer)
        appendLiteral(",\"method\":", to: &buffer)
        appendString(event.method, to: &buffer)
        appendLiteral(",\"path\":", to: &buffer)
        appendOptionalString(event.path, to: &buffer)
        appendLiteral(",\"port\":", to: &buffer)
        appendInteger(event.port, to: &buffer)
        appendLiteral(",\"prev\":", to: &buffer)
        appendQuoted(prev, to: &buffer)
        appendLiteral(",\"reason\":", to: &buffer)
        appendOptionalString(event.reason, to: &buffer)
        appendLiteral(",\"rule\":", to: &buffer)
        if let rule = event.rule {
            appendInteger(rule, to: &buffer)
        } else {
            appendLiteral("null", to: &buffer)
        }
        appendLiteral(",\"seq\":", to: &buffer)
        appendInteger(seq, to: &buffer)
        appendLiteral(",\"status\":", to: &buffer)
        appendInteger(event.status, to: &buffer)
        appendLiteral(",\"time\":", to: &buffer)
        appendString(UsageStoreTime.format(event.time), to: &buffer)
        appendLiteral("}", to: &buffer)
    }

    // MARK: Values

    private static func appendLiteral(_ text: StaticString, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// `value` in decimal, as `Int.description` writes it, without making a string.
    static func appendInteger(_ value: Int, to buffer: inout [UInt8]) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        buffer.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var index = buffer.count - 1
        repeat {
            buffer[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            index -= 1
        } while magnitude > 0
    }

    /// A finite `value` as `JSONEncoder` writes it: its `description` (the shortest text that reads back as the
    /// same `Double`) without a trailing `.0`.
    static func appendDouble(_ value: Double, to buffer: inout [UInt8]) {
        let start = buffer.count
        // Short results (almost every duration) are small strings, stored inline: no allocation.
        buffer.append(contentsOf: value.description.utf8)
        let end = buffer.count
        if end - start >= 2, buffer[end - 2] == UInt8(ascii: "."), buffer[end - 1] == UInt8(ascii: "0") {
            buffer.removeLast(2)
        }
    }

    /// `value` as a JSON string, or `null`.
    private static func appendOptionalString(_ value: String?, to buffer: inout [UInt8]) {
        guard let value else {
            appendLiteral("null", to: &buffer)
            return
        }
        appendString(value, to: &buffer)
    }

    /// `value` as a JSON string.
    static func appendString(_ value: String, to buffer: inout [UInt8]) {
        let appended: Void? = value.utf8.withContiguousStorageIfAvailable { appendQuoted($0, to: &buffer) }
        if appended == nil {
            // A string not stored as contiguous UTF-8 (bridged): copy it once.
            var copy = value
            copy.withUTF8 { appendQuoted($0, to: &buffer) }
        }
    }

    /// The UTF-8 text `bytes`, quoted and escaped as `JSONEncoder` escapes it (`.withoutEscapingSlashes`).
    private static func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index {
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            }
            runStart = index + 1
            buffer.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): buffer.append(byte)
            case 0x08: buffer.append(UInt8(ascii: "b"))
            case 0x0C: buffer.append(UInt8(ascii: "f"))
            case 0x0A: buffer.append(UInt8(ascii: "n"))
            case 0x0D: buffer.append(UInt8(ascii: "r"))
            case 0x09: buffer.append(UInt8(ascii: "t"))
            default:
                buffer.append(UInt8(ascii: "u"))
                buffer.append(UInt8(ascii: "0"))
                buffer.append(UInt8(ascii: "0"))
                buffer.append(lowercaseHexDigit(byte >> 4))
                buffer.append(lowercaseHexDigit(byte & 0x0F))
            }
        }
        if runStart < bytes.count {
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        buffer.append(UInt8(ascii: "\""))
    }

    private static func lowercaseHexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// The coding path of the duration in the error for one that cannot be written.
    private struct DurationKey: CodingKey {
        var stringValue: String { "duration_ms" }
        var intValue: Int? { nil }
        init() {}
        init?(stringValue: String) { nil }
        init?(intValue: Int) { nil }
    }
}
