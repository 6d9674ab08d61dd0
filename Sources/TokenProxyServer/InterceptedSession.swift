import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS
import TokenProxyCore

/// What the proxy knows about one intercepted client connection, shared by all its requests (every HTTP/2 stream).
final class InterceptedSession {
    /// The CONNECT target: every request inside must go there.
    let authority: HostPort
    /// The client's address, for records.
    let clientAddress: String
    /// The client that authenticated on the CONNECT (`nil` when no `clients:` are configured).
    let client: ClientConfiguration?
    /// Set when the client's TLS server name differed from the CONNECT host; every request is then refused.
    var serverNameMismatch: String?
    /// The address the egress policy admitted at CONNECT: every request of the session goes there.
    var upstreamAddress: SocketAddress?

    /// The CONNECT host as rules match it (``HostPattern/normalize(_:)``), computed once for every request.
    let connectHost: String
    /// `authority` as `host:port`, the Host header a client usually sends.
    let authorityText: String

    init(authority: HostPort, clientAddress: String, client: ClientConfiguration? = nil) {
        self.authority = authority
        self.connectHost = HostPattern.normalize(authority.host)
        self.authorityText = authority.description
        self.clientAddress = clientAddress
        self.client = client
    }
}

@available(*, unavailable)
extension InterceptedSession: Sendable {}

/// Sets up what runs inside an intercepted TLS connection, by the protocol the client chose in ALPN: HTTP/1.1
/// handlers and one ``ExchangeHandler``, or HTTP/2 with an ``ExchangeHandler`` per stream behind an HTTP/2 ↔ HTTP/1
/// codec (so the rules, injection and checks are the same code for both).
enum InterceptedProtocols {
    /// The ALPN identifiers offered to clients, most preferred first.
    static let offered = ["h2", "http/1.1"]

    /// The handler to put right after the TLS server handler.
    static func negotiationHandler(session: InterceptedSession, runtime: ProxyRuntime) -> ChannelHandler {
        ApplicationProtocolNegotiationHandler { result, channel in
            channel.eventLoop.makeCompletedFuture {
                switch result {
                case .negotiated("h2"):
                    try configureHTTP2(on: channel, session: session, runtime: runtime)
                default:
                    try configureHTTP1(on: channel, session: session, runtime: runtime)
                }
            }
        }
    }

    private static func configureHTTP1(on channel: Channel, session: InterceptedSession, runtime: ProxyRuntime) throws {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandlers(HTTPPipeline.serverHandlers(limits: runtime.limits))
        try pipeline.addHandler(ExchangeHandler(mode: .intercepted(session), runtime: runtime))
    }

    private static func configureHTTP2(on channel: Channel, session: InterceptedSession, runtime: ProxyRuntime) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: runtime.limits.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: runtime.limits.maxHeaderBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        connection.targetWindowSize = 1 << 20
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        let boundSession = NIOLoopBound(session, eventLoop: channel.eventLoop)
        let shutdown = NIOLoopBound(HTTP2GracefulShutdown(), eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(HTTP2FrameAligner(isServer: true))
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                shutdown.value.streamOpened()
                streamChannel.closeFuture.whenComplete { _ in shutdown.value.streamClosed() }
                let pipeline = streamChannel.pipeline.syncOperations
                try pipeline.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try pipeline.addHandler(ExchangeHandler(mode: .intercepted(boundSession.value), runtime: runtime))
            }
        }
        try channel.pipeline.syncOperations.addHandler(shutdown.value)
    }
}
