/// One thing `tokenproxy check` (or `doctor`) found: how bad it is, where, and what to do. Never holds a value.
public struct CheckFinding: Sendable, Hashable {
    /// How bad a finding is. Any ``error`` makes the command exit 1.
    public enum Severity: String, Sendable, Hashable, Comparable, CaseIterable {
        /// Fine, or worth knowing (a resolved source, an optional credential that is absent).
        case ok
        /// Works, but probably not as meant (a rule that can never match, a host that does not resolve offline).
        case warning
        /// Will not work as configured.
        case error

        private var rank: Int {
            switch self {
            case .ok: 0
            case .warning: 1
            case .error: 2
            }
        }

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// How bad it is.
    public var severity: Severity
    /// Which check found it, a short stable word for CI filters (`source`, `dns`, `shadowed-rule`, …).
    public var check: String
    /// Where in the configuration, when it is about one place.
    public var location: SourceLocation?
    /// What was found and, for warnings and errors, what to do about it.
    public var message: String

    /// Creates a finding.
    public init(_ severity: Severity, check: String, at location: SourceLocation? = nil, _ message: String) {
        self.severity = severity
        self.check = check
        self.location = location
        self.message = message
    }
}
