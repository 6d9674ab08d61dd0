import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Where an exchange's requests go: a host, a port, and whether the hop is TLS.
struct UpstreamEndpoint: Hashable, CustomStringConvertible {
    var host: String
    var port: Int
    var usesTLS: Bool

    var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// An upstream connection with the handler that reports its events. Lives on one event loop.
struct UpstreamConnection {
    var endpoint: UpstreamEndpoint
    var channel: Channel
    var handler: UpstreamHandler
}

@available(*, unavailable)
extension UpstreamConnection: Sendable {}

/// Dials upstream servers on the client's own event loop, so the two channels never hop threads.
enum UpstreamConnector {
    /// Connects to `endpoint` and, for TLS, completes a handshake that verifies the chain and the host name.
    /// The future fails before any request byte is written if verification fails.
    static func connect(
        to endpoint: UpstreamEndpoint,
        on eventLoop: EventLoop,
        runtime: ProxyRuntime
    ) -> EventLoopFuture<Channel> {
        let ready = eventLoop.makePromise(of: Void.self)
        let tlsContext = runtime.upstreamTLS
        let limits = runtime.limits
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(limits.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if endpoint.usesTLS {
                        // An IP literal cannot go in SNI; NIOSSL then checks the certificate against the peer IP.
                        let isIPLiteral = LeafAddress.isIPLiteral(endpoint.host)
                        let tls = try NIOSSLClientHandler(
                            context: tlsContext, serverHostname: isIPLiteral ? nil : endpoint.host
                        )
                        try sync.addHandler(tls)
                    }
                    var encoderConfiguration = HTTPRequestEncoder.Configuration()
                    encoderConfiguration.automaticallySetFramingHeaders = false
                    try sync.addHandler(HTTPRequestEncoder(configuration: encoderConfiguration))
                    try sync.addHandler(
                        ByteToMessageHandler(
                            HTTPResponseDecoder(
                                leftOverBytesStrategy: .dropBytes,
                                informationalResponseStrategy: .forward,
                                limitConfiguration: limits.decoderLimits
                            )
                        )
                    )
                    try sync.addHandler(UpstreamHandler(ready: ready, waitsForHandshake: endpoint.usesTLS))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)

        connected.whenFailure { ready.fail($0) }
        return connected.flatMap { channel in
            ready.futureResult.map { channel }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }
}

/// Recognises IP literals, which need an IP SAN on leaves and no SNI upstream.
enum LeafAddress {
    static func isIPLiteral(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
