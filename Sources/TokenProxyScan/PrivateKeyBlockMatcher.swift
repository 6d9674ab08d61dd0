/// Finds PEM private key blocks: a `-----BEGIN … PRIVATE KEY-----` line (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP …
/// BLOCK or plain) followed by key material, also inside a string literal that writes its line breaks as `\n`.
///
/// A header with no body after it (a parser's constant, documentation naming the format) is not a finding.
enum PrivateKeyBlockMatcher {
    private static let begin = Array("-----BEGIN ".utf8)
    private static let end = Array("-----END ".utf8)
    private static let dashes = Array("-----".utf8)
    /// How far to look for the END line; a key block is a few KiB at most.
    private static let maximumBlockLength = 64 * 1024

    /// Every private key block in `bytes`, each ranging from its BEGIN line to the end of its END line (or of the
    /// BEGIN line when no END line follows).
    static func blocks(in bytes: UnsafeBufferPointer<UInt8>) -> [ShapeMatch] {
        var matches: [ShapeMatch] = []
        var searchFrom = 0
        while let start = find(begin, in: bytes, from: searchFrom) {
            searchFrom = start + begin.count
            let labelStart = start + begin.count
            guard let labelEnd = find(dashes, in: bytes, from: labelStart, within: 64) else { continue }
            let label = String(decoding: UnsafeBufferPointer(rebasing: bytes[labelStart..<labelEnd]), as: UTF8.self)
            guard label.hasSuffix("PRIVATE KEY") || label.hasSuffix("PRIVATE KEY BLOCK"),
                hasKeyMaterial(bytes, after: labelEnd + dashes.count)
            else { continue }
            var blockEnd = labelEnd + dashes.count
            if let endLine = find(end, in: bytes, from: blockEnd, within: maximumBlockLength),
                let endDashes = find(dashes, in: bytes, from: endLine + end.count, within: 64)
            {
                blockEnd = endDashes + dashes.count
            }
            matches.append(ShapeMatch(kind: .privateKey, range: start..<blockEnd))
            searchFrom = blockEnd
        }
        return matches
    }

    /// Whether the header ending at `offset` is followed by a line break (real or written `\n`) and then key material:
    /// a `Proc-Type:` header of an encrypted key, or at least 16 base64 characters.
    private static func hasKeyMaterial(_ bytes: UnsafeBufferPointer<UInt8>, after offset: Int) -> Bool {
        var index = offset
        var sawBreak = false
        while index < bytes.count {
            if bytes[index] == 0x0A || bytes[index] == 0x0D {
                sawBreak = true
                index += 1
            } else if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count,
                bytes[index + 1] == UInt8(ascii: "n") || bytes[index + 1] == UInt8(ascii: "r")
            {
                sawBreak = true
                index += 2
            } else {
                break
            }
        }
        guard sawBreak else { return false }
        let procType = Array("Proc-Type:".utf8)
        if index + procType.count <= bytes.count, bytes[index..<(index + procType.count)].elementsEqual(procType) {
            return true
        }
        var count = 0
        while index < bytes.count, ByteClass.base64[Int(bytes[index])] || bytes[index] == UInt8(ascii: "=") {
            count += 1
            index += 1
        }
        return count >= 16
    }

    /// The offset of the first `needle` in `bytes` at or after `start` (and starting before `start + within`).
    private static func find(
        _ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from start: Int, within: Int = .max
    ) -> Int? {
        guard let first = needle.first, needle.count <= bytes.count else { return nil }
        let last = bytes.count - needle.count
        let limit = within == .max ? last : min(last, start + within)
        guard start <= limit else { return nil }
        var index = start
        while index <= limit {
            if bytes[index] == first {
                var offset = 1
                while offset < needle.count, bytes[index + offset] == needle[offset] { offset += 1 }
                if offset == needle.count { return index }
            }
            index += 1
        }
        return nil
    }
}
