import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TokenProxyCore

/// The proxy listener as a `Service`: binds, accepts until graceful shutdown, then stops accepting and closes.
public struct ProxyServer: Service {
    /// Where and how to listen.
    public struct Configuration: Sendable {
        /// The address to bind; port 0 picks a free port.
        public var listen: HostPort
        /// Accept backlog.
        public var backlog: Int32 = 256
        /// When set, clients speak TLS to this listener (`listen_tls:`), possibly with a client certificate.
        public var tls: NIOSSLContext?

        /// Creates a configuration for `listen`.
        public init(listen: HostPort) {
            self.listen = listen
        }
    }

    private let configuration: Configuration
    private let runtime: ProxyRuntime
    private let group: EventLoopGroup
    private let onListening: @Sendable (SocketAddress) -> Void

    /// Creates a server. `onListening` is called once with the bound address (useful with port 0).
    public init(
        configuration: Configuration,
        runtime: ProxyRuntime,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.runtime = runtime
        self.group = group
        self.onListening = onListening
    }

    /// Binds and serves until graceful shutdown or cancellation.
    public func run() async throws {
        let runtime = self.runtime
        let tls = configuration.tls
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                ProxyMetrics.clientConnections(1)
                runtime.clientConnections.add(channel)
                channel.closeFuture.whenComplete { _ in ProxyMetrics.clientConnections(-1) }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        // Under everything else: the proxy protocol, CONNECT included, runs inside this TLS session.
                        try pipeline.addHandler(NIOSSLServerHandler(context: tls))
                        try pipeline.addHandler(HandshakeDeadline(timeout: runtime.limits.handshakeTimeout))
                        try pipeline.addHandler(ClientHandshakeAuditor(runtime: runtime))
                    }
                    // First after TLS, so it outlives every switch (interception, tunnel, WebSocket).
                    try pipeline.addHandler(IdleStateHandler(allTimeout: runtime.limits.idleTimeout))
                    try pipeline.addHandler(IdleConnectionCloser())
                    try pipeline.addHandlers(HTTPPipeline.proxyFacingHandlers(limits: runtime.limits))
                    try pipeline.addHandler(ProxyConnectionHandler(runtime: runtime))
                }
            }
            .bind(host: configuration.listen.host, port: configuration.listen.port)
            .get()
        if let address = channel.localAddress {
            if let port = address.port { runtime.ownListeners.add(port) }
            onListening(address)
        }
        try await channel.runUntilShutdown()
        runtime.beginDraining()
        // The listener is closed; let what is in flight finish (bounded by the drain timeout) before the process
        // goes on to flush the recorder and exit.
        let deadline = ContinuousClock.now + .nanoseconds(runtime.limits.drainTimeout.nanoseconds)
        while runtime.inFlight.load(ordering: .relaxed) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = runtime.inFlight.load(ordering: .relaxed)
        if left > 0 {
            runtime.logger.warning("shutting down with \(left) requests or tunnels still in flight after the drain timeout")
        }
    }
}
