import Foundation
import TokenProxyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether something accepts TCP connections at an address: a bounded connect, run on the calling (CLI) thread.
enum ProxyReachability {
    /// `nil` when a connection to `address` succeeds within `timeout`, else why not.
    static func problem(connectingTo address: HostPort, timeout: Duration = .seconds(2)) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard lookup == 0, let first = list else {
            return "cannot resolve \(address.host): \(String(cString: gai_strerror(lookup)))"
        }
        defer { freeaddrinfo(list) }
        let descriptor = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return "cannot create a socket: \(String(cString: strerror(errno)))" }
        defer { close(descriptor) }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        if connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 { return nil }
        guard errno == EINPROGRESS else {
            return "nothing accepts connections on \(address) (\(String(cString: strerror(errno))))"
        }
        var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(
            timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&poller, 1, milliseconds) == 1 else { return "no answer from \(address) within \(timeout)" }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0 ? nil : "nothing accepts connections on \(address) (\(String(cString: strerror(error))))"
    }

    /// Throws a ``CLIFailure`` that says what to do when no proxy answers at `address`.
    static func require(_ address: HostPort) throws {
        if let problem = problem(connectingTo: address) {
            throw CLIFailure("\(problem); start the proxy with 'tokenproxy serve' or leave out --attach")
        }
    }
}
