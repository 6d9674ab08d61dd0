import Yams

/// Reads one YAML mapping strictly: every key must be consumed, so a typo is an error that names file:line
/// instead of a setting silently ignored.
struct YAMLMappingReader {
    let file: String
    let context: String
    private let pairs: [(key: String, keyNode: Node, value: Node)]
    private var consumed: Set<String> = []

    /// Wraps `node`, which must be a mapping with string keys; `context` names it in messages ("rules[2]").
    init(_ node: Node, file: String, context: String) throws(ConfigurationError) {
        self.file = file
        self.context = context
        guard let mapping = node.mapping else {
            let subject = context.isEmpty ? "the configuration" : context
            throw ConfigurationError("\(subject) must be a mapping of keys to values", at: Self.location(of: node, in: file))
        }
        var pairs: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                throw ConfigurationError("\(context) has a key that is not a string", at: Self.location(of: key, in: file))
            }
            pairs.append((name, key, value))
        }
        self.pairs = pairs
    }

    /// The location of the mapping itself.
    static func location(of node: Node, in file: String) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line)
    }

    func location(of node: Node) -> SourceLocation {
        Self.location(of: node, in: file)
    }

    /// The keys, in file order.
    var keys: [(name: String, keyNode: Node, value: Node)] {
        pairs.map { ($0.key, $0.keyNode, $0.value) }
    }

    /// The value for `key`, marking it consumed.
    mutating func value(_ key: String) -> Node? {
        consumed.insert(key)
        guard let pair = pairs.first(where: { $0.key == key }) else { return nil }
        // `key:` with nothing after it, or `key: null`, means "not set".
        if pair.value.null != nil { return nil }
        return pair.value
    }

    /// The line of `key`'s value, or of the mapping when the key is absent.
    func location(ofKey key: String, fallback: Node) -> SourceLocation {
        guard let pair = pairs.first(where: { $0.key == key }) else { return location(of: fallback) }
        return location(of: pair.value)
    }

    /// A string value; numbers and booleans written without quotes are refused so `port: "x"` style mistakes show.
    mutating func string(_ key: String) throws(ConfigurationError) -> (String, SourceLocation)? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let scalar) = node else {
            throw ConfigurationError("\(context).\(key) must be a string", at: location(of: node))
        }
        return (scalar.string, location(of: node))
    }

    mutating func requiredString(_ key: String, near node: Node) throws(ConfigurationError) -> (String, SourceLocation) {
        guard let result = try string(key) else {
            throw ConfigurationError("\(context) needs '\(key)'", at: location(of: node))
        }
        return result
    }

    mutating func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let node = value(key) else { return nil }
        guard let value = node.bool else {
            throw ConfigurationError("\(context).\(key) must be true or false", at: location(of: node))
        }
        return value
    }

    mutating func int(_ key: String) throws(ConfigurationError) -> (Int, SourceLocation)? {
        guard let node = value(key) else { return nil }
        guard let value = node.int else {
            throw ConfigurationError("\(context).\(key) must be a whole number", at: location(of: node))
        }
        return (value, location(of: node))
    }

    mutating func mapping(_ key: String) throws(ConfigurationError) -> YAMLMappingReader? {
        guard let node = value(key) else { return nil }
        return try YAMLMappingReader(node, file: file, context: context.isEmpty ? key : "\(context).\(key)")
    }

    mutating func sequence(_ key: String) throws(ConfigurationError) -> [Node]? {
        guard let node = value(key) else { return nil }
        guard let sequence = node.sequence else {
            throw ConfigurationError("\(context.isEmpty ? key : "\(context).\(key)") must be a list", at: location(of: node))
        }
        return Array(sequence)
    }

    /// Fails on the first key that nothing consumed, listing the keys that are allowed here.
    func rejectUnknownKeys() throws(ConfigurationError) {
        for pair in pairs where !consumed.contains(pair.key) {
            let place = context.isEmpty ? "at the top level" : "in \(context)"
            let allowed = consumed.sorted().joined(separator: ", ")
            throw ConfigurationError(
                "unknown key '\(pair.key)' \(place) (allowed: \(allowed))",
                at: location(of: pair.keyNode)
            )
        }
    }
}
