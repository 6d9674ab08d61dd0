import Yams

extension ConfigurationLoader {
    /// The largest `policy.leak_scan_bytes`: the bytes held per request before it may be forwarded.
    static let maximumLeakScanBytes = 16 * 1024 * 1024

    /// Parses `policy:`.
    static func parsePolicy(_ policy: inout YAMLMappingReader) throws(ConfigurationError) -> EgressPolicy {
        var result = EgressPolicy()
        var modeLocation: SourceLocation?
        if let (text, location) = try policy.string("egress") {
            modeLocation = location
            guard let mode = EgressPolicy.Mode(rawValue: text) else {
                throw ConfigurationError(
                    "policy.egress must be open, monitor or allowlist, got '\(text)'", at: location
                )
            }
            result.mode = mode
        }
        result.allow = try destinations("allow", in: &policy)
        result.allowPrivate = try destinations("allow_private", in: &policy)
        if let node = policy.value("ports") {
            result.ports = try ports(node, reader: policy)
        }
        if let (bytes, location) = try policy.int("leak_scan_bytes") {
            guard (0...maximumLeakScanBytes).contains(bytes) else {
                throw ConfigurationError(
                    "policy.leak_scan_bytes must be 0–\(maximumLeakScanBytes) (0 scans no body)", at: location
                )
            }
            result.leakScanBytes = bytes
        }
        if let (text, location) = try policy.string("inspect") {
            guard let inspection = EgressPolicy.Inspection(rawValue: text) else {
                throw ConfigurationError("policy.inspect must be rules or all, got '\(text)'", at: location)
            }
            result.inspect = inspection
        }
        try policy.rejectUnknownKeys()
        if result.mode == .allowlist && result.allow.isEmpty, let modeLocation {
            throw ConfigurationError(
                "policy.egress is allowlist but policy.allow is empty, so every destination would be refused",
                at: modeLocation
            )
        }
        return result
    }

    private static func destinations(
        _ key: String, in policy: inout YAMLMappingReader
    ) throws(ConfigurationError) -> [EgressDestination] {
        guard let nodes = try policy.sequence(key) else { return [] }
        var result: [EgressDestination] = []
        for node in nodes {
            let location = policy.location(of: node)
            guard case .scalar(let scalar) = node else {
                throw ConfigurationError("policy.\(key) must list hosts, *.domains or CIDR blocks", at: location)
            }
            do {
                result.append(try EgressDestination(scalar.string))
            } catch {
                throw ConfigurationError("policy.\(key): \(error.description)", at: location)
            }
        }
        return result
    }

    private static func ports(_ node: Node, reader: YAMLMappingReader) throws(ConfigurationError) -> Set<Int>? {
        if node.scalar?.string == "any" { return nil }
        guard let sequence = node.sequence else {
            throw ConfigurationError("policy.ports must be a list of ports or 'any'", at: reader.location(of: node))
        }
        var ports: Set<Int> = []
        for item in sequence {
            guard let port = item.int, (1...65535).contains(port) else {
                throw ConfigurationError("policy.ports must list ports 1–65535", at: reader.location(of: item))
            }
            ports.insert(port)
        }
        return ports
    }
}
