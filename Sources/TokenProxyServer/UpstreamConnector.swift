import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// Where an exchange's requests go: a host, a port, and whether the hop is TLS.
struct UpstreamEndpoint: Hashable, CustomStringConvertible {
    var host: String
    var port: Int
    var usesTLS: Bool
    /// The address the egress policy admitted; the connection goes there, never to a second lookup of `host`
    /// (which stays the TLS server name and the name the certificate is verified for).
    var address: SocketAddress? = nil

    var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The protocol an upstream connection ended up speaking.
enum UpstreamProtocol: Sendable {
    case http1
    case http2
}

/// Dials upstream servers on the client's own event loop, so the channels of one exchange never hop threads.
///
/// For TLS the handshake verifies the chain and the host name, and ALPN picks HTTP/2 or HTTP/1.1 independently of
/// what the client speaks to the proxy. The returned future succeeds only once the connection is verified and its
/// pipeline is set up for the negotiated protocol, so no request byte can precede verification.
enum UpstreamConnector {
    static func connect(
        to endpoint: UpstreamEndpoint,
        on eventLoop: EventLoop,
        runtime: ProxyRuntime,
        allowHTTP2: Bool
    ) -> EventLoopFuture<(Channel, UpstreamProtocol)> {
        let ready = eventLoop.makePromise(of: UpstreamProtocol.self)
        let tlsContext = allowHTTP2 ? runtime.upstreamTLS : runtime.upstreamTLSHTTP1Only
        let limits = runtime.limits
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(limits.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            // Responses can be large: let one read grow up to 256 KiB (each channel keeps its read buffer, so it
            // starts small: hundreds of idle keep-alive connections must not hold big ones).
            .channelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 2048, maximum: 262_144)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // The guard sits right behind TLS, so handshake errors and closure reach it whatever follows.
                    let guardHandler = UpstreamSetupGuard(ready: ready, timeout: limits.handshakeTimeout)
                    guard endpoint.usesTLS else {
                        try sync.addHandler(guardHandler)
                        try addHTTP1Handlers(to: channel, limits: limits)
                        return
                    }
                    // An IP literal cannot go in SNI; NIOSSL then checks the certificate against the peer IP.
                    let isIPLiteral = LeafAddress.isIPLiteral(endpoint.host)
                    try sync.addHandler(
                        NIOSSLClientHandler(context: tlsContext, serverHostname: isIPLiteral ? nil : endpoint.host)
                    )
                    try sync.addHandler(guardHandler)
                    try sync.addHandler(
                        ApplicationProtocolNegotiationHandler { result, channel in
                            channel.eventLoop.makeCompletedFuture {
                                if case .negotiated("h2") = result {
                                    try addHTTP2Handler(to: channel)
                                    guardHandler.succeed(.http2)
                                } else {
                                    try addHTTP1Handlers(to: channel, limits: limits)
                                    guardHandler.succeed(.http1)
                                }
                            }
                        }
                    )
                }
            }
        let connected = endpoint.address.map { bootstrap.connect(to: $0) }
            ?? bootstrap.connect(host: endpoint.host, port: endpoint.port)

        connected.whenComplete { result in
            switch result {
            case .failure(let error):
                ready.fail(error)
            case .success(let channel):
                if !endpoint.usesTLS {
                    channel.pipeline.handler(type: UpstreamSetupGuard.self).whenSuccess { $0.succeed(.http1) }
                }
            }
        }
        return connected.flatMap { channel in
            ready.futureResult.map { (channel, $0) }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    static func addHTTP1Handlers(to channel: Channel, limits: ProxyLimits) throws {
        var encoderConfiguration = HTTPRequestEncoder.Configuration()
        encoderConfiguration.automaticallySetFramingHeaders = false
        let handlers: [ChannelHandler] = [
            HTTPRequestEncoder(configuration: encoderConfiguration),
            // Bytes after a 101 stay for the tunnel that replaces the decoder (WebSocket).
            ByteToMessageHandler(
                HTTPResponseDecoder(
                    leftOverBytesStrategy: .forwardBytes,
                    informationalResponseStrategy: .forward,
                    limitConfiguration: limits.decoderLimits
                )
            ),
            UpstreamHandler(),
        ]
        try channel.pipeline.syncOperations.addHandlers(handlers)
    }

    private static func addHTTP2Handler(to channel: Channel) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 64 * 1024),
        ]
        connection.targetWindowSize = 1 << 20
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        try channel.pipeline.syncOperations.addHandler(HTTP2FrameAligner(isServer: false))
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: connection, streamConfiguration: stream
        ) { pushed in
            // Servers may not start streams here (push is disabled); refuse any that arrive.
            pushed.close()
        }
    }
}

/// Completes an upstream connection's readiness: after a verified handshake and protocol setup, or with the first
/// error, closure, or the handshake timeout. Removes itself once done.
final class UpstreamSetupGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let ready: EventLoopPromise<UpstreamProtocol>
    private let timeout: TimeAmount
    private var done = false
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(ready: EventLoopPromise<UpstreamProtocol>, timeout: TimeAmount) {
        self.ready = ready
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            self?.fail(UpstreamTimeout(what: "TLS handshake"))
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    /// The connection is verified and set up for `upstreamProtocol`.
    func succeed(_ upstreamProtocol: UpstreamProtocol) {
        guard !done else { return }
        done = true
        timer?.cancel()
        ready.succeed(upstreamProtocol)
        if let context { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    private func fail(_ error: Error) {
        guard !done else { return }
        done = true
        timer?.cancel()
        ready.fail(error)
    }
}

@available(*, unavailable)
extension UpstreamSetupGuard: Sendable {}

/// An upstream took too long for one step.
struct UpstreamTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for the \(what)" }
}

/// Recognises IP literals, which need an IP SAN on leaves and no SNI upstream.
enum LeafAddress {
    static func isIPLiteral(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
