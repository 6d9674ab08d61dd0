/// Finds the real value of any configured credential in what a client sends.
///
/// A client should never hold a real token (it sends nothing, or a placeholder); one that does got it from somewhere
/// it should not have, and forwarding it would leak it further. The values are known when the configuration
/// loads, so the search is a single pass: at each position the next two bytes are checked in a bitmap of every
/// value's first two bytes (a few instructions, and nearly always a miss), then the next eight are looked up in a
/// table keyed by every value's first eight bytes, and only those candidates are compared in full.
public struct LeakDetector: Sendable {
    /// Values shorter than this are not searched for: they would match ordinary text by chance.
    public static let minimumValueLength = 8

    private struct Entry: Sendable {
        var credential: String
        var value: Secret
    }

    private let table: [UInt64: [Entry]]
    /// Bit `k` is set when some value starts with the two bytes that load as the `UInt16` `k`.
    private let firstTwoBytes: [UInt64]

    /// Indexes `values` (credential name and value; one credential may contribute several, e.g. AWS keys).
    public init(values: [(credential: String, value: Secret)]) {
        var table: [UInt64: [Entry]] = [:]
        var firstTwoBytes = [UInt64](repeating: 0, count: 65536 / 64)
        for (credential, value) in values where value.count >= Self.minimumValueLength {
            let key = value.withUnsafeBytes { Self.key(in: $0, at: 0) }
            table[key, default: []].append(Entry(credential: credential, value: value))
            let prefix = value.withUnsafeBytes { Int($0.loadUnaligned(as: UInt16.self)) }
            firstTwoBytes[prefix >> 6] |= 1 << UInt64(prefix & 63)
        }
        self.table = table
        self.firstTwoBytes = table.isEmpty ? [] : firstTwoBytes
    }

    /// Whether there is nothing to look for.
    public var isEmpty: Bool { table.isEmpty }

    /// The credential whose value occurs in `bytes`, if any.
    public func credential(in bytes: UnsafeRawBufferPointer) -> String? {
        guard !table.isEmpty, bytes.count >= Self.minimumValueLength else { return nil }
        for offset in 0...(bytes.count - Self.minimumValueLength) {
            let prefix = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard firstTwoBytes[prefix >> 6] & (1 << UInt64(prefix & 63)) != 0 else { continue }
            guard let entries = table[Self.key(in: bytes, at: offset)] else { continue }
            for entry in entries {
                let found = entry.value.withUnsafeBytes { value in
                    offset + value.count <= bytes.count
                        && memcmp(bytes.baseAddress! + offset, value.baseAddress!, value.count) == 0
                }
                if found { return entry.credential }
            }
        }
        return nil
    }

    /// The credential whose value occurs in `text` as written, percent-decoded, or inside a `Basic` authorization
    /// value.
    public func credential(in text: String) -> String? {
        guard !table.isEmpty else { return nil }
        for view in Placeholders.views(of: text) {
            var view = view
            if let found = view.withUTF8({ credential(in: UnsafeRawBufferPointer($0)) }) { return found }
        }
        return nil
    }

    private static func key(in bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
