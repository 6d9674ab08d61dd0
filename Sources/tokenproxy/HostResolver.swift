import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resolves host names with `getaddrinfo` on a thread of its own, giving up after a timeout: a lookup blocks, and a
/// machine without network can make it hang for many seconds.
enum HostResolver {
    /// The outcome of one lookup.
    enum Outcome: Sendable, Equatable {
        /// The name has at least one address.
        case resolved
        /// The resolver answered that the name does not exist (or has no address).
        case notFound(String)
        /// The resolver could not be asked or did not answer in time (offline, no DNS server).
        case unavailable(String)
    }

    /// Looks up every name in `hosts` concurrently, each bounded by `timeout`.
    static func resolve(_ hosts: [String], timeout: Duration = .seconds(3)) -> [String: Outcome] {
        let results = Mutex<[String: Outcome]>([:])
        let group = DispatchGroup()
        for host in Set(hosts) {
            group.enter()
            Thread.detachNewThread {
                let outcome = lookup(host)
                results.withLock { $0[host] = outcome }
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + timeout.timeInterval)
        let finished = results.withLock { $0 }
        var outcomes: [String: Outcome] = [:]
        for host in hosts {
            outcomes[host] = finished[host] ?? .unavailable("no answer from the resolver within \(timeout)")
        }
        return outcomes
    }

    private static func lookup(_ host: String) -> Outcome {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        if status == 0 {
            freeaddrinfo(list)
            return .resolved
        }
        let reason = String(cString: gai_strerror(status))
        switch status {
        case EAI_NONAME: return .notFound(reason)
        default: return .unavailable(reason)
        }
    }
}
