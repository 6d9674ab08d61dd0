/// Finds the AWS secret access keys that sit near an access key id: 40 characters of `[A-Za-z0-9+/]`, standing alone
/// (no base64 neighbours, no `=` padding), mixing upper case, lower case and digits.
///
/// Only near a key id, because a lone 40-character base64 string is as likely a hash or an id as a secret; a key id
/// with such a string a few lines away is the classic leaked key pair.
enum AWSSecretKeyMatcher {
    /// How many lines above or below a key id a secret may sit.
    static let lineDistance = 5

    /// The secrets within ``lineDistance`` lines of one of `keyIDLines`.
    static func secrets(
        in bytes: UnsafeBufferPointer<UInt8>, lines: LineIndex, near keyIDLines: [Int]
    ) -> [ShapeMatch] {
        guard !keyIDLines.isEmpty else { return [] }
        var matches: [ShapeMatch] = []
        ByteClass.forEachRun(in: bytes, of: ByteClass.base64) { run in
            guard run.count == 40, run.upperBound == bytes.count || bytes[run.upperBound] != UInt8(ascii: "="),
                ByteClass.any(bytes, run, ByteClass.isUpper), ByteClass.any(bytes, run, ByteClass.isLower),
                ByteClass.any(bytes, run, ByteClass.isDigit)
            else { return }
            let line = lines.line(of: run.lowerBound)
            guard keyIDLines.contains(where: { abs($0 - line) <= lineDistance }) else { return }
            matches.append(ShapeMatch(kind: .awsSecretAccessKey, range: run))
        }
        return matches
    }
}
