/// A token value held in memory.
///
/// Its `description`, `debugDescription` and reflection all print `<redacted>`, so a secret that ends up in a
/// log statement, an error or a test failure by accident shows nothing. Use ``withUnsafeString(_:)`` at the
/// single point where the value must be written to the wire.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    private let bytes: [UInt8]

    /// Wraps `bytes`.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps the UTF-8 bytes of `value`.
    public init(_ value: String) {
        self.bytes = Array(value.utf8)
    }

    /// The number of bytes, which is safe to show.
    public var count: Int { bytes.count }

    /// Whether the value contains bytes that must never go into an HTTP header (CR, LF, NUL, other controls).
    public var containsHeaderUnsafeBytes: Bool {
        bytes.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }
    }

    /// Calls `body` with the value as a string. Do not let the string escape into logs or errors.
    public func withUnsafeString<Result>(_ body: (String) throws -> Result) rethrows -> Result {
        try body(String(decoding: bytes, as: UTF8.self))
    }

    /// Calls `body` with the raw bytes.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes(body)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
