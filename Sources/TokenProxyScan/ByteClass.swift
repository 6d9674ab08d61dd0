/// Byte tables for the hand-written matchers: each lookup is one array index, with no regular expression and no
/// per-line setup.
enum ByteClass {
    /// `[A-Za-z0-9_-]`: the characters of a token in all the well-known formats.
    static let word = table { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    /// `[A-Za-z0-9+/]`: base64 without padding, the characters of an AWS secret access key.
    static let base64 = table { isAlphanumeric($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") }
    /// `[A-Za-z0-9_.-]`: the characters of a variable or key name in an assignment.
    static let name = table { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == 0x2E }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isUpper(byte) || isLower(byte) || isDigit(byte)
    }

    static func isUpper(_ byte: UInt8) -> Bool { byte >= 0x41 && byte <= 0x5A }
    static func isLower(_ byte: UInt8) -> Bool { byte >= 0x61 && byte <= 0x7A }
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// A 256-entry membership table for `predicate`.
    static func table(_ predicate: (UInt8) -> Bool) -> [Bool] {
        (0...255).map { predicate(UInt8($0)) }
    }

    /// Calls `body` with the range of every maximal run of bytes in `table`.
    static func forEachRun(in bytes: UnsafeBufferPointer<UInt8>, of table: [Bool], _ body: (Range<Int>) -> Void) {
        var index = 0
        let count = bytes.count
        while index < count {
            guard table[Int(bytes[index])] else {
                index += 1
                continue
            }
            let start = index
            while index < count, table[Int(bytes[index])] { index += 1 }
            body(start..<index)
        }
    }

    /// Whether `bytes[range]` starts with the ASCII `prefix`.
    static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ prefix: StaticString) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard range.count >= length else { return false }
        let pointer = prefix.utf8Start
        for offset in 0..<length where bytes[range.lowerBound + offset] != pointer[offset] {
            return false
        }
        return true
    }

    /// Whether every byte of `bytes[range]` satisfies `predicate`.
    static func all(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ predicate: (UInt8) -> Bool) -> Bool {
        for index in range where !predicate(bytes[index]) {
            return false
        }
        return true
    }

    /// Whether some byte of `bytes[range]` satisfies `predicate`.
    static func any(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ predicate: (UInt8) -> Bool) -> Bool {
        for index in range where predicate(bytes[index]) {
            return true
        }
        return false
    }
}
