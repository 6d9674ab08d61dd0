import NIOCore
import Synchronization

/// The client connections a proxy listener accepted and that are still open, so that a graceful shutdown can tell
/// each one to wind down: idle ones close, HTTP/2 ones get a GOAWAY, HTTP/1.1 responses say `Connection: close`.
final class ClientConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    /// Tracks `channel` until it closes.
    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.channels.withLock { _ = $0.removeValue(forKey: key) }
        }
    }

    /// Sends `ChannelShouldQuiesceEvent` into every open connection's pipeline, each on its own event loop.
    func quiesce() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }
}
