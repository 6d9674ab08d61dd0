/// Replaces one secret value with a placeholder in a response streamed in chunks, so an API that echoes the
/// credential back does not hand it to the client.
///
/// A value may be split across two chunks, so the last `value.count - 1` bytes of each chunk are held back and
/// searched again together with the next chunk; ``finish()`` releases them at the end of the body.
public struct ResponseScrubber: Sendable {
    private let value: Secret
    private let replacement: [UInt8]
    private var carry: [UInt8] = []
    /// How many occurrences were replaced so far.
    public private(set) var replacements = 0

    /// Scrubs `value`, writing `replacement` in its place.
    public init(value: Secret, replacement: String) {
        self.value = value
        self.replacement = Array(replacement.utf8)
    }

    /// Scrubs the next chunk; returns what may be sent now (possibly less than was given, never the value).
    public mutating func scrub(_ chunk: UnsafeRawBufferPointer) -> [UInt8] {
        guard value.count > 0 else { return Array(chunk) }
        var data = carry
        data.append(contentsOf: chunk)
        var output: [UInt8] = []
        output.reserveCapacity(data.count)
        var index = 0
        value.withUnsafeBytes { pattern in
            let length = pattern.count
            data.withUnsafeBytes { bytes in
                while index + length <= bytes.count {
                    if bytes[index] == pattern[0]
                        && memcmp(bytes.baseAddress! + index, pattern.baseAddress!, length) == 0
                    {
                        output.append(contentsOf: replacement)
                        replacements += 1
                        index += length
                    } else {
                        output.append(bytes[index])
                        index += 1
                    }
                }
            }
        }
        // Fewer than `length` bytes remain: they may begin an occurrence that the next chunk completes.
        carry = Array(data[index...])
        return output
    }

    /// The held-back bytes, at the end of the body (they cannot be a whole occurrence).
    public mutating func finish() -> [UInt8] {
        defer { carry = [] }
        return carry
    }

    /// Scrubs a whole string (a header value).
    public mutating func scrub(text: String) -> String {
        var scrubbed = text
        let bytes = scrubbed.withUTF8 { scrub(UnsafeRawBufferPointer($0)) } + finish()
        return String(decoding: bytes, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
