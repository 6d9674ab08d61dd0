/// Where the proxy may connect on a client's behalf (`policy:` in the configuration), and how closely it looks at
/// what clients send.
///
/// Three checks, in order, each on the normalised host and then on every address it resolved to:
/// 1. the port must be in ``ports``;
/// 2. in `allowlist` mode the destination must match ``allow`` (in `monitor` mode a miss is only recorded);
/// 3. whatever the mode, an address in a special-purpose block (see ``AddressClassifier``) is refused unless
///    ``allowPrivate`` names it.
public struct EgressPolicy: Sendable, Equatable {
    /// How ``allow`` is applied.
    public enum Mode: String, Sendable, CaseIterable {
        /// Every public destination is allowed (the workstation default).
        case open
        /// Every destination is allowed, and one that `allow` does not match is recorded as `would_deny`.
        case monitor
        /// Only destinations that `allow` matches are allowed; everything else gets 403.
        case allowlist
    }

    /// Which CONNECTs are intercepted.
    public enum Inspection: String, Sendable, CaseIterable {
        /// Only hosts some rule covers; others are blind tunnels (the proxy never sees their contents).
        case rules
        /// Every CONNECT, so leak detection covers every host (clients must trust the proxy CA for all of them).
        case all
    }

    /// The outcome of checking one destination.
    public enum Verdict: Sendable, Equatable {
        case allow
        /// Allowed, but `allowlist` mode would have refused it (`monitor` mode); the reason says why.
        case wouldDeny(String)
        case deny(String)
    }

    /// The default `leak_scan_bytes`: how much of a request body is held and searched for token values.
    public static let defaultLeakScanBytes = 64 * 1024

    public var mode: Mode
    /// Destinations `allowlist` mode allows.
    public var allow: [EgressDestination]
    /// Special-purpose addresses (or the names resolving to them) that may be reached anyway.
    public var allowPrivate: [EgressDestination]
    /// The ports a destination may have; `nil` allows any.
    public var ports: Set<Int>?
    /// How many bytes at the start of each request body the proxy holds back and searches for token values.
    public var leakScanBytes: Int
    /// Which CONNECTs are intercepted.
    public var inspect: Inspection

    /// Creates a policy; the defaults are the workstation's: open, ports 443 and 80, no private destinations.
    public init(
        mode: Mode = .open, allow: [EgressDestination] = [], allowPrivate: [EgressDestination] = [],
        ports: Set<Int>? = [443, 80], leakScanBytes: Int = EgressPolicy.defaultLeakScanBytes,
        inspect: Inspection = .rules
    ) {
        self.mode = mode
        self.allow = allow
        self.allowPrivate = allowPrivate
        self.ports = ports
        self.leakScanBytes = leakScanBytes
        self.inspect = inspect
    }

    /// The checks that need no DNS: the port, and the allow list for the name itself. `host` is normalised
    /// (``HostPattern/normalize(_:)``).
    public func checkName(host: String, port: Int) -> Verdict {
        if let ports, !ports.contains(port) {
            let allowed = ports.sorted().map(String.init).joined(separator: ", ")
            return .deny("port \(port) is not allowed by policy.ports (allowed: \(allowed))")
        }
        return .allow
    }

    /// The checks on the addresses `host` resolved to (or its own address, for an IP literal). Every address
    /// must pass: a name answering with one public and one private address is refused.
    public func checkAddresses(host: String, port: Int, addresses: [IPAddress]) -> Verdict {
        if case .deny(let reason) = checkName(host: host, port: port) { return .deny(reason) }
        for address in addresses {
            if let restriction = AddressClassifier.restriction(of: address),
                !allowPrivate.contains(where: { $0.matches(host: host, address: address, port: port) })
            {
                let spelled = host == address.description ? host : "\(host) (\(address))"
                return .deny(
                    "destination \(spelled) is \(restriction); name it in policy.allow_private to allow it"
                )
            }
        }
        guard mode != .open else { return .allow }
        let allowed =
            allow.contains { $0.matches(host: host, address: nil, port: port) }
            || (!addresses.isEmpty
                && addresses.allSatisfy { address in
                    allow.contains { $0.matches(host: host, address: address, port: port) }
                })
        if allowed { return .allow }
        let reason = "destination \(host):\(port) is not in policy.allow (policy.egress: \(mode.rawValue))"
        return mode == .allowlist ? .deny(reason) : .wouldDeny(reason)
    }
}
