/// A place in a configuration file, used so every configuration error can say `file:line`.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The path of the file as the user named it.
    public var file: String
    /// The 1-based line number, or `nil` when the problem concerns the file as a whole.
    public var line: Int?

    /// Creates a location in `file`, optionally at `line`.
    public init(file: String, line: Int? = nil) {
        self.file = file
        self.line = line
    }

    /// `file:line`, or just `file` when no line is known.
    public var description: String {
        guard let line else { return file }
        return "\(file):\(line)"
    }
}
