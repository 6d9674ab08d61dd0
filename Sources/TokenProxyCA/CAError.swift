/// A problem creating, loading or using the local CA. The message never contains key material.
public struct CAError: Error, Sendable, CustomStringConvertible {
    /// What went wrong and what to do.
    public var description: String

    /// Creates an error with a one-line message.
    public init(_ description: String) {
        self.description = description
    }
}
