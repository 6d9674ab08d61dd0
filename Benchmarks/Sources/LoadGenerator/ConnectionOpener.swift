import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Opens connections ready for `GET`s: TCP to the origin or to the proxy, `CONNECT` when proxied, then TLS
/// verified against the given CA files, the HTTP/1.1 response decoder and a ``ResponseHandler``.
///
/// The TLS context and the socket address are made once, before the run: per-connection work is only what a real
/// client must do.
struct ConnectionOpener: Sendable {
    let target: LoadTarget
    let tlsContext: NIOSSLContext
    let address: SocketAddress

    /// Resolves the address and builds the TLS context (reads the CA files): call before the event loops run.
    init(target: LoadTarget, caFiles: [String]) throws {
        self.target = target
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        configuration.applicationProtocols = ["http/1.1"]
        if !caFiles.isEmpty {
            var roots: [NIOSSLCertificate] = []
            for file in caFiles {
                do {
                    roots += try NIOSSLCertificate.fromPEMFile(file)
                } catch {
                    throw LoadError("--ca-file \(file): cannot read PEM certificates (\(error))")
                }
            }
            configuration.trustRoots = .certificates(roots)
        }
        tlsContext = try NIOSSLContext(configuration: configuration)
        let dial = target.proxy ?? (target.host, target.port)
        address = try SocketAddress.makeAddressResolvingHost(dial.host, port: dial.port)
    }

    /// A channel on `eventLoop` whose responses go to `handler`; the future completes once requests may be written
    /// (TLS itself completes with the first write).
    func open(on eventLoop: EventLoop, handler: ResponseHandler) -> EventLoopFuture<Channel> {
        let target = self.target
        let tlsContext = self.tlsContext
        let serverHostname = target.hostIsIPLiteral ? nil : target.host
        let connectRequest = target.proxy == nil ? nil : target.connectBytes(allocator: ByteBufferAllocator())
        let tunnel = eventLoop.makePromise(of: Void.self)
        // The handler belongs to the slot's loop, which is the loop the channel is created on.
        let boundHandler = NIOLoopBound(handler, eventLoop: eventLoop)
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let connectRequest {
                        try channel.pipeline.syncOperations.addHandler(
                            ProxyConnectHandler(request: connectRequest, established: tunnel)
                        )
                    } else {
                        try Self.addHTTPSHandlers(
                            to: channel, context: tlsContext, serverHostname: serverHostname,
                            handler: boundHandler.value
                        )
                        tunnel.succeed()
                    }
                }
            }
            .connect(to: address)
        connected.whenFailure { tunnel.fail($0) }
        return connected.flatMap { channel in
            tunnel.futureResult.flatMapThrowing { _ -> Channel in
                if connectRequest != nil {
                    try Self.addHTTPSHandlers(
                        to: channel, context: tlsContext, serverHostname: serverHostname, handler: boundHandler.value
                    )
                }
                return channel
            }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    private static func addHTTPSHandlers(
        to channel: Channel, context: NIOSSLContext, serverHostname: String?, handler: ResponseHandler
    ) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname))
        // The response decoder tracks request methods, so requests go through the encoder (framing off: a GET
        // without a body needs no framing header).
        var encoder = HTTPRequestEncoder.Configuration()
        encoder.automaticallySetFramingHeaders = false
        try sync.addHandler(HTTPRequestEncoder(configuration: encoder))
        try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
        try sync.addHandler(handler)
    }
}
