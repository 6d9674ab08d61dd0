import NIOCore
import NIOHTTP1
import NIOHTTP2
import Synchronization

/// A channel an exchange writes one request to: an HTTP/1.1 connection, or one HTTP/2 stream.
struct UpstreamLease {
    var endpoint: UpstreamEndpoint
    var channel: Channel
    var handler: UpstreamHandler
    /// An HTTP/2 stream carries exactly one exchange and closes after it.
    var isStream: Bool

    /// The lease of a channel the pool handed out. Call on the channel's loop.
    init(channel: Channel, endpoint: UpstreamEndpoint) throws {
        self.endpoint = endpoint
        self.channel = channel
        self.handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
        self.isStream = channel.parent != nil
    }

    /// Detaches the connection from the exchange that used it, between exchanges: it reads on (a slow client may
    /// have left reads paused) and, with no exchange to hear from it, closes if the server speaks out of turn.
    func park() {
        handler.delegate = nil
        handler.resumeReads()
    }
}

@available(*, unavailable)
extension UpstreamLease: Sendable {}

/// Reusable upstream connections of one event loop: idle HTTP/1.1 connections by endpoint, and one HTTP/2
/// connection per endpoint multiplexing every request to it.
///
/// Used only on its event loop (the client channels of that loop lease from it), so it needs no locks. A connection
/// is returned only after a clean, keep-alive exchange; one that saw an error or a malformed response is closed.
final class UpstreamPool {
    struct Configuration {
        /// Idle HTTP/1.1 connections kept per endpoint. Generous: a connection closed here is a TLS handshake to
        /// pay again when the load returns, and more client connections than this on one loop would churn.
        var maxIdlePerEndpoint = 64
        /// How long an idle connection is kept.
        var idleTimeout: TimeAmount = .seconds(60)
    }

    private struct IdleConnection {
        var channel: Channel
        var idleSince: NIODeadline
    }

    private struct HTTP2Connection {
        var channel: Channel
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer
    }

    private let eventLoop: EventLoop
    private let runtime: ProxyRuntime
    private let configuration: Configuration
    private var idle: [UpstreamEndpoint: [IdleConnection]] = [:]
    private var http2: [UpstreamEndpoint: HTTP2Connection] = [:]
    /// The one timer that closes connections idle for longer than ``Configuration/idleTimeout``; set while any
    /// connection is idle. One sweep instead of a timer per release keeps the per-request cost to a timestamp.
    private var sweep: Scheduled<Void>?
    /// Connections opened so far, for tests and status.
    private(set) var connectionsOpened = 0

    init(eventLoop: EventLoop, runtime: ProxyRuntime, configuration: Configuration = Configuration()) {
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.configuration = configuration
    }

    /// A channel for one request to `endpoint` (make it a lease with ``UpstreamLease/init(channel:endpoint:)`` on
    /// the loop). `exclusiveHTTP1` forces a fresh HTTP/1.1 connection that is never shared (a WebSocket handshake
    /// turns it into a tunnel).
    func lease(_ endpoint: UpstreamEndpoint, exclusiveHTTP1: Bool = false) -> EventLoopFuture<Channel> {
        eventLoop.assertInEventLoop()
        if !exclusiveHTTP1 {
            if let connection = http2[endpoint], connection.channel.isActive {
                return openStream(on: connection)
            }
            // Most recently used first: the busiest connections stay warm and the rest age out.
            while var connections = idle[endpoint], let reused = connections.popLast() {
                idle[endpoint] = connections.isEmpty ? nil : connections
                if reused.channel.isActive {
                    return eventLoop.makeSucceededFuture(reused.channel)
                }
            }
        }
        connectionsOpened += 1
        let eventLoop = self.eventLoop
        return UpstreamConnector.connect(to: endpoint, on: eventLoop, runtime: runtime, allowHTTP2: !exclusiveHTTP1)
            .assumeIsolated()
            .flatMap { channel, upstreamProtocol -> EventLoopFuture<Channel> in
                switch upstreamProtocol {
                case .http1:
                    // Registered once per connection (not per release): a connection that closes while idle
                    // leaves the pool at once.
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        self.dropIdle(channel, endpoint: endpoint)
                    }
                    return eventLoop.makeSucceededFuture(channel)
                case .http2:
                    do {
                        let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
                            .syncMultiplexer()
                        let connection = HTTP2Connection(channel: channel, multiplexer: multiplexer)
                        if self.http2[endpoint]?.channel.isActive != true {
                            self.http2[endpoint] = connection
                            channel.closeFuture.assumeIsolated().whenComplete { _ in
                                if self.http2[endpoint]?.channel === channel { self.http2[endpoint] = nil }
                            }
                        }
                        return self.openStream(on: connection)
                    } catch {
                        channel.close(promise: nil)
                        return eventLoop.makeFailedFuture(error)
                    }
                }
            }
            .nonisolated()
    }

    /// Takes back a lease after its exchange. Only a cleanly finished HTTP/1.1 keep-alive connection is kept.
    func release(_ lease: UpstreamLease, reusable: Bool) {
        eventLoop.assertInEventLoop()
        lease.park()
        guard reusable, !lease.isStream, lease.channel.isActive else {
            lease.channel.close(promise: nil)
            return
        }
        var connections = idle[lease.endpoint] ?? []
        guard connections.count < configuration.maxIdlePerEndpoint else {
            lease.channel.close(promise: nil)
            return
        }
        connections.append(IdleConnection(channel: lease.channel, idleSince: .now()))
        idle[lease.endpoint] = connections
        scheduleSweepIfNeeded()
    }

    private func dropIdle(_ channel: Channel, endpoint: UpstreamEndpoint) {
        guard var connections = idle[endpoint] else { return }
        connections.removeAll { $0.channel === channel }
        idle[endpoint] = connections.isEmpty ? nil : connections
    }

    private func scheduleSweepIfNeeded() {
        guard sweep == nil, !idle.isEmpty else { return }
        // A quarter of the timeout between sweeps: a connection is closed at most 25% after its time is up.
        let interval = TimeAmount.nanoseconds(max(configuration.idleTimeout.nanoseconds / 4, 1_000_000))
        sweep = eventLoop.assumeIsolated().scheduleTask(in: interval) {
            self.sweep = nil
            self.closeExpired()
            self.scheduleSweepIfNeeded()
        }
    }

    /// Closes the connections idle for longer than the idle timeout.
    private func closeExpired() {
        let cutoff = NIODeadline.now() - configuration.idleTimeout
        for (endpoint, connections) in idle {
            let kept = connections.filter { $0.idleSince > cutoff }
            idle[endpoint] = kept.isEmpty ? nil : kept
            for connection in connections where connection.idleSince <= cutoff {
                connection.channel.close(promise: nil)
            }
        }
    }

    private func openStream(on connection: HTTP2Connection) -> EventLoopFuture<Channel> {
        let promise = eventLoop.makePromise(of: Channel.self)
        connection.multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
            }
        }
        return promise.futureResult
    }
}

@available(*, unavailable)
extension UpstreamPool: Sendable {}

/// One ``UpstreamPool`` per event loop.
final class UpstreamPools: Sendable {
    private let pools = Mutex<[ObjectIdentifier: NIOLoopBound<UpstreamPool>]>([:])

    /// The pool of `eventLoop`, created on first use. Call on that loop.
    func pool(for eventLoop: EventLoop, runtime: ProxyRuntime) -> UpstreamPool {
        let key = ObjectIdentifier(eventLoop)
        if let existing = pools.withLock({ $0[key] }) { return existing.value }
        let created = NIOLoopBound(UpstreamPool(eventLoop: eventLoop, runtime: runtime), eventLoop: eventLoop)
        return pools.withLock { pools in
            if let existing = pools[key] { return existing.value }
            pools[key] = created
            return created.value
        }
    }
}
