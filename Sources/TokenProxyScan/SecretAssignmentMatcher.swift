/// The generic rule: a literal, high-entropy value assigned to a name that says it is a secret.
///
/// Names: anything ending in `_TOKEN`, `_KEY` or `_SECRET`, or containing `PASSWORD` (case-insensitive, with `-`, `.`
/// and camelCase read as `_`: `apiKey`, `client-secret`, `db.password`), but not public keys and the like. Forms:
/// `NAME=value`, `NAME: value`, `NAME := value`, `NAME => value`, `"NAME": "value"`, with or without quotes around
/// the value. Values: 16 to 1024 characters with no spaces, template or reference syntax (`$`, `{`, `(`, `<`, `[`, `%`,
/// `:`, `?`), with letters and digits, a Shannon entropy of at least ``minimumEntropy`` bits per character, and not a
/// dotted identifier path (`P256.Signing.PrivateKey`). That leaves out references (`${GITHUB_TOKEN}`,
/// `os.environ["X"]`, `env:API_KEY`, `sealed:…`), code, placeholders and words (`your-token-here`).
enum SecretAssignmentMatcher {
    /// The shortest value the generic rule reports.
    static let minimumLength = 16
    /// The longest value the generic rule considers (longer ones are data, not a credential).
    static let maximumLength = 1024
    /// The Shannon entropy a value needs, in bits per character.
    static let minimumEntropy = 3.5

    /// Names that end like a secret's but are not one.
    private static let excludedSuffixes = [
        "PUBLIC_KEY", "PUBKEY", "PRIMARY_KEY", "FOREIGN_KEY", "SORT_KEY", "CACHE_KEY",
    ]
    /// Bytes a literal secret value may not contain: whitespace, quotes and the syntax of references and templates.
    private static let valueStoppers = ByteClass.table { byte in
        byte <= 0x20 || byte >= 0x7F || "\"'`$(){}<>[]%\\,;:?".utf8.contains(byte)
    }

    /// The values of every secret assignment in `bytes` (the value's range, without quotes).
    static func assignments(in bytes: UnsafeBufferPointer<UInt8>) -> [ShapeMatch] {
        var matches: [ShapeMatch] = []
        ByteClass.forEachRun(in: bytes, of: ByteClass.name) { nameRange in
            guard let valueRange = value(assignedAfter: nameRange.upperBound, in: bytes),
                isSecretName(bytes, nameRange), isSecretValue(bytes, valueRange)
            else { return }
            matches.append(ShapeMatch(kind: .genericSecret, range: valueRange))
        }
        return matches
    }

    /// The range of the literal value assigned right after a name ending at `offset`, if an assignment follows.
    private static func value(assignedAfter offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var index = offset
        let count = bytes.count
        func isSpace(_ at: Int) -> Bool { at < count && (bytes[at] == 0x20 || bytes[at] == 0x09) }
        // The closing quote of a quoted key: "api_key": "…"
        if index < count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") { index += 1 }
        while isSpace(index) { index += 1 }
        guard index < count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "="):
            index += 1
            guard index >= count || (bytes[index] != UInt8(ascii: "=") && bytes[index] != UInt8(ascii: "~")) else {
                return nil  // == and =~ compare; they do not assign
            }
            if index < count, bytes[index] == UInt8(ascii: ">") { index += 1 }
        case UInt8(ascii: ":"):
            index += 1
            guard index >= count || bytes[index] != UInt8(ascii: ":") else { return nil }
            if index < count, bytes[index] == UInt8(ascii: "=") { index += 1 }
        default:
            return nil
        }
        while isSpace(index) { index += 1 }
        guard index < count else { return nil }
        var quote: UInt8?
        if "\"'`".utf8.contains(bytes[index]) {
            quote = bytes[index]
            index += 1
        }
        let start = index
        while index < count, !valueStoppers[Int(bytes[index])], index - start <= maximumLength { index += 1 }
        let range = start..<index
        if let quote {
            guard index < count, bytes[index] == quote else { return nil }
        } else if index < count, !(bytes[index] <= 0x20 || ",;".utf8.contains(bytes[index])) {
            return nil  // an unquoted value running into other syntax is an expression, not a literal
        }
        return range
    }

    /// Whether the name says secret: `*_TOKEN`, `*_KEY`, `*_SECRET`, `*PASSWORD*` after normalising.
    static func isSecretName(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        var normalized: [UInt8] = []
        normalized.reserveCapacity(range.count + 4)
        var previousWasLower = false
        for index in range {
            let byte = bytes[index]
            if ByteClass.isUpper(byte), previousWasLower { normalized.append(UInt8(ascii: "_")) }
            previousWasLower = ByteClass.isLower(byte) || ByteClass.isDigit(byte)
            switch byte {
            case UInt8(ascii: "-"), UInt8(ascii: "."): normalized.append(UInt8(ascii: "_"))
            default: normalized.append(ByteClass.isLower(byte) ? byte - 0x20 : byte)
            }
        }
        let name = String(decoding: normalized, as: UTF8.self)
        if excludedSuffixes.contains(where: { name.hasSuffix($0) }) { return false }
        return name.hasSuffix("_TOKEN") || name.hasSuffix("_KEY") || name.hasSuffix("_SECRET")
            || name.contains("PASSWORD") || name == "TOKEN" || name == "SECRET" || name == "APIKEY"
    }

    /// Whether the value looks like a literal secret rather than a reference, a placeholder or a word.
    static func isSecretValue(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard range.count >= minimumLength, range.count <= maximumLength else { return false }
        guard ByteClass.any(bytes, range, ByteClass.isDigit),
            ByteClass.any(bytes, range, { ByteClass.isUpper($0) || ByteClass.isLower($0) }),
            !isIdentifierPath(bytes, range)
        else { return false }
        return ShannonEntropy.bitsPerCharacter(UnsafeBufferPointer(rebasing: bytes[range])) >= minimumEntropy
    }

    /// Whether the value is code naming something (`P256.Signing.PrivateKey`, `authority.privateKey`): two or more
    /// dot-separated identifiers. A JWT (`eyJ…`) has the same alphabet but is a credential.
    static func isIdentifierPath(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard !ByteClass.hasPrefix(bytes, range, "eyJ") else { return false }
        var segments = 1
        var segmentStart = true
        for index in range {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") {
                guard !segmentStart else { return false }
                segments += 1
                segmentStart = true
            } else if segmentStart {
                let startsIdentifier = ByteClass.isUpper(byte) || ByteClass.isLower(byte) || byte == UInt8(ascii: "_")
                guard startsIdentifier else { return false }
                segmentStart = false
            } else if !(ByteClass.isAlphanumeric(byte) || byte == UInt8(ascii: "_")) {
                return false
            }
        }
        return segments >= 2 && !segmentStart
    }
}
