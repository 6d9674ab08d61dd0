import NIOCore
import TokenProxyCore

/// Applies the egress policy to one destination and picks the address to connect to.
///
/// The name is resolved once; every address is checked (ports, allow list, private blocks, the proxy's own
/// listeners) and the connection then goes to the first of them, never to a fresh lookup.
struct EgressGate: Sendable {
    /// The configured policy.
    let policy: EgressPolicy
    /// The one lookup per destination.
    let resolver: DestinationResolver

    /// What to do with a destination.
    enum Admission: Sendable {
        /// Connect to exactly this address; `wouldDeny` is set when `monitor` mode records a miss of the allow list.
        case connect(SocketAddress, wouldDeny: String?)
        /// Refuse with 403 and this reason; nothing is dialled.
        case refuse(String)
    }

    /// Decides on `host` (normalised) and `port`. Fails only when the name does not resolve.
    func admit(
        host: String, port: Int, ownListeners: OwnListeners, on eventLoop: EventLoop
    ) -> EventLoopFuture<Admission> {
        if case .deny(let reason) = policy.checkName(host: host, port: port) {
            return eventLoop.makeSucceededFuture(.refuse(reason))
        }
        let policy = self.policy
        return resolver.resolve(host: host, port: port, on: eventLoop).map { addresses -> Admission in
            let ips = addresses.compactMap { $0.ipAddress.flatMap(IPAddress.init) }
            guard let first = addresses.first, ips.count == addresses.count else {
                return .refuse("\(host) resolved to an address that is not IPv4 or IPv6")
            }
            for ip in ips where ownListeners.contains(host: ip.description, port: port) {
                return .refuse("refusing to proxy to tokenproxy's own listener \(HostPort(host: host, port: port))")
            }
            switch policy.checkAddresses(host: host, port: port, addresses: ips) {
            case .allow: return .connect(first, wouldDeny: nil)
            case .wouldDeny(let reason): return .connect(first, wouldDeny: reason)
            case .deny(let reason): return .refuse(reason)
            }
        }
    }
}

extension ProxyRuntime {
    /// Records that `monitor` mode let a destination through which `allowlist` mode would have refused.
    func recordWouldDeny(_ record: ExchangeRecord, reason: String) {
        var entry = record
        entry.decision = .wouldDeny
        entry.reason = reason
        entry.credential = nil
        self.record(entry.event())
    }
}
