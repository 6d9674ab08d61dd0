/// Why a scan could not run: a usage mistake, an unreadable file, a failing git. The message says what and where and
/// never holds a scanned value.
public struct ScanError: Error, Sendable, CustomStringConvertible {
    /// What went wrong and, when it helps, what to do.
    public var description: String

    /// Creates an error with `description`.
    public init(_ description: String) {
        self.description = description
    }
}
