import Foundation
import NIOCore
import NIOHTTP1
import TokenProxyCore

/// What the proxy learns about one request while it forwards it, turned into a ``UsageEvent`` at the end.
struct ExchangeRecord {
    let started = Date()
    let startedUptime = NIODeadline.now()
    var client: String
    let method: HTTPMethod
    var host: String
    var port: Int
    var path: String?
    var rule: Int?
    var credential: String?
    var fingerprint: String?
    var status = 0
    var bytesIn = 0
    var bytesOut = 0
    var decision: UsageEvent.Decision = .forward
    var reason: String?

    init(client: String, method: HTTPMethod, host: String, port: Int, path: String?) {
        self.client = client
        self.method = method
        self.host = host
        self.port = port
        self.path = path
    }

    /// The event to record, timed from the request head until now.
    func event() -> UsageEvent {
        let elapsed = NIODeadline.now() - startedUptime
        return UsageEvent(
            time: started, client: client, method: method.rawValue, host: host, port: port, path: path, rule: rule,
            credential: credential, status: status, bytesIn: bytesIn, bytesOut: bytesOut,
            durationMilliseconds: Double(elapsed.nanoseconds) / 1_000_000, decision: decision, reason: reason,
            fingerprint: credential == nil ? nil : fingerprint
        )
    }
}
