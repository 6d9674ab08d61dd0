/// The rules in effect, in configuration order; the first match wins.
public struct RuleSet: Sendable {
    /// The rules, in order.
    public let rules: [Rule]

    /// Wraps `rules`, keeping their order.
    public init(_ rules: [Rule]) {
        self.rules = rules
    }

    /// Whether any rule covers the destination, so a CONNECT to it should be intercepted rather than tunnelled.
    public func covers(host: String, port: Int) -> Bool {
        rules.contains { $0.covers(host: host, port: port) }
    }

    /// The first rule that applies to the request, if any.
    public func firstMatch(host: String, port: Int, path: String, method: String) -> Rule? {
        rules.first { $0.matches(host: host, port: port, path: path, method: method) }
    }

    /// The first rule covering the destination that has `require: true`, if any.
    public func requiringRule(host: String, port: Int) -> Rule? {
        rules.first { $0.require && $0.covers(host: host, port: port) }
    }
}
