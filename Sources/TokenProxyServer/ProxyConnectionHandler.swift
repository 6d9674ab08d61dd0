import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import TokenProxyCore

/// The first handler of every accepted connection: reads the first request head and decides what the connection
/// becomes.
///
/// - `CONNECT` to a host some rule covers: the connection is intercepted (TLS with a minted leaf, then
///   ``ExchangeHandler`` in intercepted mode).
/// - `CONNECT` to any other host: a blind TCP tunnel, so no token can go there.
/// - An absolute-form `http://` request: ``ExchangeHandler`` in forward-proxy mode.
/// - Anything else: 400 with a hint.
///
/// Decisions are made on the parsed proxy head (NIOHTTP1), where the CONNECT authority is still intact.
final class ProxyConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case awaitingHead
        case awaitingConnectEnd(HTTPRequestHead)
        /// Working out the CONNECT (minting a leaf or dialling); reads are held.
        case switching
        case done
    }

    private let runtime: ProxyRuntime
    private var state = State.awaitingHead
    private var readPending = false
    private var clientAddress = "unknown"
    /// The authenticated client (`nil` when no `clients:` are configured).
    private var client: ClientConfiguration?

    init(runtime: ProxyRuntime) {
        self.runtime = runtime
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let address = context.channel.remoteAddress {
            clientAddress = "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A graceful shutdown closes a connection that has not asked for anything yet; one that has, goes on.
        if event is ChannelShouldQuiesceEvent, case .awaitingHead = state {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (state, unwrapInboundIn(data)) {
        case (.awaitingHead, .head(let head)) where head.method == .CONNECT:
            state = .awaitingConnectEnd(head)
        case (.awaitingHead, .head):
            becomeForwardProxy(context: context, firstPart: data)
        case (.awaitingConnectEnd(let head), .end):
            // Switch only after the CONNECT's end: the decoder may then be removed from inside its own decode loop
            // (the switch can complete synchronously when the leaf is cached), exactly as an HTTP upgrade does.
            state = .switching
            handleConnect(head, context: context)
        default:
            break  // a CONNECT body (there is none) or bytes after a refusal
        }
    }

    func read(context: ChannelHandlerContext) {
        if case .switching = state {
            readPending = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch state {
        case .awaitingHead, .awaitingConnectEnd: break
        case .switching, .done:
            context.close(promise: nil)
            return
        }
        state = .done
        LocalResponse(status: .badRequest, reason: "malformed proxy request: \(error)").send(
            on: context, wrap: wrapOutboundOut
        )
    }

    // MARK: CONNECT

    private func handleConnect(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let requested = HostPort(parsing: head.uri), requested.port > 0 else {
            refuse(context, .badRequest, "CONNECT needs host:port, got '\(head.uri.prefix(100))'", record: nil)
            return
        }
        // From here on the host has one spelling: `0177.0.0.1`, `LOCALHOST.` and `[::FFFF:7f00:1]` are matched,
        // checked, minted for and recorded as the address or name they stand for.
        let authority = HostPort(host: HostPattern.normalize(requested.host), port: requested.port)
        var record = ExchangeRecord(
            client: clientAddress, method: .CONNECT, host: HostPattern.normalize(authority.host),
            port: authority.port, path: nil
        )
        // Authentication comes first: an unauthenticated CONNECT is answered 407 and nothing is minted or dialled.
        switch ClientAdmission.authenticate(head, channel: context.channel, access: runtime.access) {
        case .failure(let refusal):
            refuse(context, refusal.status, refusal.reason, record: record, headers: refusal.headers)
            return
        case .success(let client):
            self.client = client
            clientAddress = ClientAdmission.label(client, address: clientAddress)
            record.client = clientAddress
        }
        if runtime.ownListeners.contains(host: HostPattern.normalize(authority.host), port: authority.port) {
            refuse(context, .forbidden, "refusing to proxy to tokenproxy's own listener \(authority)", record: record)
            return
        }
        if let refusal = runtime.recordingRefusal {
            refuse(context, .serviceUnavailable, refusal, record: record)
            return
        }
        runtime.egress.admit(
            host: authority.host, port: authority.port, ownListeners: runtime.ownListeners, on: context.eventLoop
        ).assumeIsolated().whenComplete { result in
            switch result {
            case .success(.connect(let address, let wouldDeny)):
                if let wouldDeny { self.runtime.recordWouldDeny(record, reason: wouldDeny) }
                self.interceptOrTunnel(authority, at: address, record: record, context: context)
            case .success(.refuse(let reason)):
                self.refuse(context, .forbidden, reason, record: record)
            case .failure(let error):
                let failure = UpstreamFailure.describe(error, destination: authority.description)
                self.refuse(context, failure.status, failure.reason, record: record)
            }
        }
    }

    /// Intercepts (a rule covers the host, or `policy.inspect: all`) or tunnels to the admitted `address`.
    private func interceptOrTunnel(
        _ authority: HostPort, at address: SocketAddress, record: ExchangeRecord, context: ChannelHandlerContext
    ) {
        guard context.channel.isActive else { return }
        if runtime.egress.policy.inspect == .all
            || runtime.credentials.snapshot.rules.covers(host: authority.host, port: authority.port)
        {
            runtime.interceptionContexts.context(for: authority.host, on: context.eventLoop)
                .assumeIsolated()
                .whenComplete { result in
                    switch result {
                    case .success(let tlsContext):
                        self.becomeInterception(
                            context: context, authority: authority, address: address, tlsContext: tlsContext
                        )
                    case .failure(let error):
                        self.refuse(
                            context, .badGateway, "could not mint a certificate for \(authority.host): \(error)",
                            record: record
                        )
                    }
                }
        } else {
            // A blind tunnel is one exchange of its client (intercepted requests are counted one by one instead).
            if let refusal = ClientAdmission.refusal(runtime.access.admit(client: client, rule: nil)) {
                refuse(context, refusal.status, refusal.reason, record: record, headers: refusal.headers)
                return
            }
            ClientBootstrap(group: context.eventLoop)
                .connectTimeout(runtime.limits.connectTimeout)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(to: address)
                .assumeIsolated()
                .whenComplete { result in
                    switch result {
                    case .success(let peer):
                        self.becomeTunnel(context: context, peer: peer, record: record)
                    case .failure(let error):
                        let failure = UpstreamFailure.describe(error, destination: authority.description)
                        self.refuse(context, failure.status, failure.reason, record: record)
                    }
                }
        }
    }

    /// Replaces the HTTP handlers with a TLS server for `authority`, and HTTP handlers inside it.
    private func becomeInterception(
        context: ChannelHandlerContext, authority: HostPort, address: SocketAddress, tlsContext: NIOSSLContext
    ) {
        guard context.channel.isActive else { return }
        let pipeline = context.pipeline.syncOperations
        let session = InterceptedSession(authority: authority, clientAddress: clientAddress, client: client)
        session.upstreamAddress = address
        let runtime = self.runtime
        let isIPLiteral = LeafAddress.isIPLiteral(authority.host)
        do {
            try sendConnectEstablished(context: context)
            // The SNI check runs on the ClientHello before TLS starts, then the TLS handler takes its place.
            let channel = context.channel
            let sniReference = Box<ByteToMessageHandler<SNIHandler>?>(nil)
            let sniHandler = ByteToMessageHandler(SNIHandler { result in
                if case .hostname(let name) = result,
                    HostPattern.normalize(name) != session.connectHost || isIPLiteral
                {
                    session.serverNameMismatch = name
                }
                defer { sniReference.value = nil }  // breaks the handler → closure → box → handler cycle
                return channel.eventLoop.makeCompletedFuture {
                    guard let sniHandler = sniReference.value else { throw ChannelError.ioOnClosedChannel }
                    let tls = NIOSSLServerHandler(context: tlsContext)
                    let deadline = HandshakeDeadline(timeout: runtime.limits.handshakeTimeout)
                    try channel.pipeline.syncOperations.addHandler(tls, position: .after(sniHandler))
                    try channel.pipeline.syncOperations.addHandler(deadline, position: .after(tls))
                    try channel.pipeline.syncOperations.addHandler(
                        InterceptedProtocols.negotiationHandler(session: session, runtime: runtime),
                        position: .after(deadline)
                    )
                }
            })
            sniReference.value = sniHandler
            try pipeline.addHandler(sniHandler, position: .after(self))
            try finishSwitch(context: context)
        } catch {
            runtime.logger.error("could not set up interception for \(authority): \(error)")
            context.close(promise: nil)
        }
    }

    /// Glues the client to `peer` byte for byte.
    private func becomeTunnel(context: ChannelHandlerContext, peer: Channel, record: ExchangeRecord) {
        guard context.channel.isActive else {
            peer.close(promise: nil)
            return
        }
        var record = record
        record.status = 200
        record.decision = .tunnel
        let accounting = TunnelAccounting(record: record, runtime: runtime)
        let (clientGlue, serverGlue) = TunnelGlueHandler.matchedPair(accounting: accounting)
        do {
            try context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try TunnelGlueHandler.tuneForBulkTransfer(context.channel)
            try TunnelGlueHandler.tuneForBulkTransfer(peer)
            try sendConnectEstablished(context: context)
            try peer.pipeline.syncOperations.addHandler(serverGlue)
            try context.pipeline.syncOperations.addHandler(clientGlue, position: .after(self))
            try finishSwitch(context: context)
        } catch {
            runtime.logger.error("could not set up a tunnel to \(record.host):\(record.port): \(error)")
            peer.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// Removes the HTTP encoder and writes the 200 to CONNECT as raw bytes (the encoder would frame it as a body).
    private func sendConnectEstablished(context: ChannelHandlerContext) throws {
        let pipeline = context.pipeline.syncOperations
        _ = try pipeline.removeHandler(pipeline.handler(type: HTTPResponseEncoder.self))
        let response = context.channel.allocator.buffer(string: "HTTP/1.1 200 Connection established\r\n\r\n")
        context.writeAndFlush(NIOAny(response), promise: nil)
    }

    /// Removes this handler and the request decoder; bytes the decoder already read after the CONNECT head go on to
    /// the new handlers, and held reads resume.
    private func finishSwitch(context: ChannelHandlerContext) throws {
        state = .done
        let pipeline = context.pipeline.syncOperations
        let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        let channel = context.channel
        let resumeReads = readPending
        pipeline.removeHandler(context: context, promise: nil)
        _ = pipeline.removeHandler(decoder)
        if resumeReads { channel.read() }
    }

    // MARK: Plain HTTP

    private func becomeForwardProxy(context: ChannelHandlerContext, firstPart: NIOAny) {
        state = .done
        let exchange = ExchangeHandler(mode: .forwardProxy(clientAddress: clientAddress), runtime: runtime)
        do {
            let pipeline = context.pipeline.syncOperations
            try pipeline.addHandler(HTTPServerPipelineHandler(), position: .after(self))
            try pipeline.addHandler(exchange, position: .last)
            context.fireChannelRead(firstPart)
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    private func refuse(
        _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ reason: String, record: ExchangeRecord?,
        headers: [(String, String)] = []
    ) {
        state = .done
        if var record {
            record.status = Int(status.code)
            let deniedStatuses: [HTTPResponseStatus] = [
                .badRequest, .forbidden, .proxyAuthenticationRequired, .tooManyRequests,
            ]
            record.decision = deniedStatuses.contains(status) ? .denied : .error
            record.reason = reason
            runtime.record(record.event())
        }
        guard context.channel.isActive else { return }
        LocalResponse(status: status, reason: reason, headers: headers).send(on: context, wrap: wrapOutboundOut)
    }
}

/// A mutable reference, so a closure can reach a handler created after it.
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

@available(*, unavailable)
extension ProxyConnectionHandler: Sendable {}
