import Foundation

/// The `path:` of a rule: a prefix (`/v1/`) or a glob (`/repos/*/issues`, `/v1/**/objects`).
///
/// In a glob, `*` matches within one path segment (never `/`) and `**` matches across segments. A glob must match the
/// whole path; a pattern without `*` matches every path that starts with it.
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    private enum Token: Hashable {
        case literal(String)
        case segmentWildcard
        case anyWildcard
    }

    private let tokens: [Token]
    private let isPrefix: Bool
    /// The pattern as written.
    public let description: String

    /// Why a pattern was refused.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a pattern, which must start with `/`.
    public init(_ text: String) throws(Invalid) {
        guard text.hasPrefix("/") else { throw Invalid(description: "path '\(text)' must start with '/'") }
        guard !text.contains("***") else { throw Invalid(description: "path '\(text)' has '***'; use '*' or '**'") }
        guard !text.contains("?") && !text.contains("#") else {
            throw Invalid(description: "path '\(text)' must not contain a query or fragment")
        }
        guard text.filter({ $0 == "*" }).count <= 8 else {
            // Each wildcard multiplies the matching work on a client-chosen path; a handful is plenty.
            throw Invalid(description: "path '\(text)' has too many wildcards (at most 8 '*')")
        }
        description = text
        var tokens: [Token] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == "*" {
                if !literal.isEmpty { tokens.append(.literal(literal)); literal = "" }
                let next = text.index(after: index)
                if next < text.endIndex, text[next] == "*" {
                    tokens.append(.anyWildcard)
                    index = text.index(after: next)
                } else {
                    tokens.append(.segmentWildcard)
                    index = next
                }
            } else {
                literal.append(text[index])
                index = text.index(after: index)
            }
        }
        if !literal.isEmpty { tokens.append(.literal(literal)) }
        self.tokens = tokens
        self.isPrefix = !text.contains("*")
    }

    /// Whether `path` (without its query string) matches.
    ///
    /// A path with dot segments (`/v1/../admin`, also percent-encoded or with backslashes) never matches: the
    /// server would resolve it outside the prefix the rule allows.
    public func matches(_ path: String) -> Bool {
        if Self.hasDotSegments(path) { return false }
        if isPrefix { return path.hasPrefix(description) }
        return Self.match(tokens[...], Substring(path))
    }

    /// Whether `path`, decoded, has a `.` or `..` segment.
    static func hasDotSegments(_ path: String) -> Bool {
        let decoded = (path.removingPercentEncoding ?? path).replacingOccurrences(of: "\\", with: "/")
        return decoded.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
    }

    private static func match(_ tokens: ArraySlice<Token>, _ path: Substring) -> Bool {
        guard let first = tokens.first else { return path.isEmpty }
        let rest = tokens.dropFirst()
        switch first {
        case .literal(let text):
            guard path.hasPrefix(text) else { return false }
            return match(rest, path.dropFirst(text.count))
        case .segmentWildcard:
            var candidate = path
            while true {
                if match(rest, candidate) { return true }
                guard let next = candidate.first, next != "/" else { return false }
                candidate = candidate.dropFirst()
            }
        case .anyWildcard:
            var candidate = path
            while true {
                if match(rest, candidate) { return true }
                guard !candidate.isEmpty else { return false }
                candidate = candidate.dropFirst()
            }
        }
    }
}
