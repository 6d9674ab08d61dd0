import NIOCore
import NIOPosix
import TokenProxyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resolves a destination's name once, on a thread pool (getaddrinfo blocks), so the policy can decide on the
/// addresses and the proxy can then connect to exactly the address it decided on: a DNS answer that changes between
/// a check and a connect (rebinding) can then not switch the destination.
struct DestinationResolver: Sendable {
    /// Where blocking lookups run.
    let threadPool: NIOThreadPool

    /// The addresses of `host` (already normalised) with `port`: the literal itself for an IP, else getaddrinfo's
    /// answer in its preference order.
    func resolve(host: String, port: Int, on eventLoop: EventLoop) -> EventLoopFuture<[SocketAddress]> {
        if let literal = IPAddress(host) {
            return eventLoop.makeCompletedFuture { [try SocketAddress(ipAddress: literal.description, port: port)] }
        }
        return threadPool.runIfActive(eventLoop: eventLoop) {
            try Self.lookUp(host: host, port: port)
        }
    }

    /// getaddrinfo for TCP; blocks.
    static func lookUp(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if os(Linux)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw DestinationResolutionError(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let raw = info.pointee.ai_addr else { continue }
            let address: SocketAddress
            switch info.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    SocketAddress($0.pointee, host: host)
                }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    SocketAddress($0.pointee, host: host)
                }
            default:
                continue
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        guard !addresses.isEmpty else {
            throw DestinationResolutionError(host: host, reason: "no IPv4 or IPv6 address")
        }
        return addresses
    }
}

/// A destination's name did not resolve.
struct DestinationResolutionError: Error, CustomStringConvertible {
    var host: String
    var reason: String
    var description: String { "cannot resolve \(host): \(reason)" }
}
