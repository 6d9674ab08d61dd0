/// Finds rules that can never match because an earlier rule matches every request they would (first match wins).
public enum RuleShadowing {
    /// Each shadowed rule with the first earlier rule that covers it, in configuration order.
    public static func shadowed(in rules: [Rule]) -> [(rule: Rule, by: Rule)] {
        var result: [(Rule, Rule)] = []
        for (position, rule) in rules.enumerated() {
            if let earlier = rules[..<position].first(where: { covers($0, rule) }) {
                result.append((rule, earlier))
            }
        }
        return result
    }

    /// Whether every request `later` matches is also matched by `earlier`.
    public static func covers(_ earlier: Rule, _ later: Rule) -> Bool {
        hostCovers(earlier.host, later.host) && (earlier.port == nil || earlier.port == later.port)
            && pathCovers(earlier.path, later.path) && methodsCover(earlier.methods, later.methods)
    }

    private static func hostCovers(_ earlier: HostPattern, _ later: HostPattern) -> Bool {
        let outer = earlier.description
        let inner = later.description
        guard outer.hasPrefix("*.") else { return outer == inner }
        let suffix = String(outer.dropFirst(1))  // ".example.com"
        if inner.hasPrefix("*.") { return String(inner.dropFirst(1)).hasSuffix(suffix) }
        return earlier.matches(inner)
    }

    private static func pathCovers(_ earlier: PathPattern?, _ later: PathPattern?) -> Bool {
        guard let earlier else { return true }
        guard let later else { return false }
        if earlier.description.contains("*") { return earlier.description == later.description }
        // A prefix covers a prefix or glob whose literal start begins with it.
        let literalStart = later.description.prefix { $0 != "*" }
        return literalStart.hasPrefix(earlier.description)
    }

    private static func methodsCover(_ earlier: Set<String>?, _ later: Set<String>?) -> Bool {
        guard let earlier else { return true }
        guard let later else { return false }
        return later.isSubset(of: earlier)
    }
}
