/// A token value held in memory.
///
/// Its `description`, `debugDescription` and reflection all print `<redacted>`, so a secret that ends up in a
/// log statement, an error or a test failure by accident shows nothing. Use ``withUnsafeString(_:)`` at the
/// single point where the value must be written to the wire.
///
/// The bytes live in one buffer that is overwritten with zeros when the last copy of the secret goes away, so a
/// replaced or revoked token does not linger in freed memory.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    private let storage: Storage

    /// Wraps `bytes`.
    public init(bytes: [UInt8]) {
        self.storage = Storage(bytes)
    }

    /// Wraps the UTF-8 bytes of `value`.
    public init(_ value: String) {
        self.storage = Storage(Array(value.utf8))
    }

    /// The number of bytes, which is safe to show.
    public var count: Int { storage.bytes.count }

    /// Whether the value contains bytes that must never go into an HTTP header (CR, LF, NUL, other controls).
    public var containsHeaderUnsafeBytes: Bool {
        storage.bytes.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }
    }

    /// Calls `body` with the value as a string. Do not let the string escape into logs or errors.
    public func withUnsafeString<Result>(_ body: (String) throws -> Result) rethrows -> Result {
        try body(String(decoding: storage.bytes, as: UTF8.self))
    }

    /// Calls `body` with the raw bytes.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(storage.bytes)
    }

    public static func == (lhs: Secret, rhs: Secret) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.bytes.elementsEqual(rhs.storage.bytes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes: storage.bytes)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// The one buffer behind every copy of a secret, allocated by hand so that it can be zeroed when freed (an
    /// array's storage could be copied or freed behind our back).
    private final class Storage: @unchecked Sendable {
        // Written once in `init` and zeroed in `deinit`; read-only in between, so sharing it is safe.
        private let buffer: UnsafeMutableRawBufferPointer

        init(_ bytes: [UInt8]) {
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
            buffer.copyBytes(from: bytes)
        }

        var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(buffer) }

        deinit {
            if let base = buffer.baseAddress, buffer.count > 0 {
                memset(base, 0, buffer.count)
                // Read back through an opaque call so the zeroing cannot be removed as a dead store.
                _ = withExtendedLifetime(buffer) { buffer.load(fromByteOffset: 0, as: UInt8.self) }
            }
            buffer.deallocate()
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
