import Foundation
import NIOCore
import NIOHTTP1
import TokenProxyCore

/// Forwards HTTP/1.1 requests from one client connection to their upstreams, one exchange at a time, attaching
/// credentials by rule and streaming bodies both ways with backpressure.
///
/// It sits behind `HTTPServerPipelineHandler`, so pipelined requests wait until the previous response is written.
/// The upstream channel runs on the same event loop, so the two sides talk without locks or hops. A request head is
/// written upstream only after the upstream connection is ready, which for TLS means its certificate chain and host
/// name were verified: a credential never leaves the proxy towards an unverified server.
final class ExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamHandlerDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// How request targets are resolved.
    enum Mode {
        /// Requests inside an intercepted CONNECT tunnel; everything goes to the session's authority over TLS.
        case intercepted(InterceptedSession)
        /// Absolute-form `http://` requests sent to the proxy itself.
        case forwardProxy(clientAddress: String)
    }

    private enum State {
        case idle
        /// Waiting for the upstream to be verified and the credential to be at hand (see ``preparation``).
        case preparing
        case streaming(requestDone: Bool, responseDone: Bool)
        /// The proxy answered itself and closes the connection; anything else the client sends is ignored.
        case refusing
    }

    private let mode: Mode
    private let runtime: ProxyRuntime
    private let clientAddress: String
    /// The authenticated client: the CONNECT's in intercepted mode, each request's own in forward-proxy mode.
    private var client: ClientConfiguration?

    private var context: ChannelHandlerContext?
    private var state = State.idle
    /// The exchange in progress; while set, it counts as in flight for a graceful shutdown's drain.
    private var record: ExchangeRecord? {
        didSet {
            if oldValue == nil && record != nil { runtime.inFlight.add(1, ordering: .relaxed) }
            if oldValue != nil && record == nil { runtime.inFlight.subtract(1, ordering: .relaxed) }
        }
    }
    private var upstream: UpstreamLease?
    /// The HTTP/1.1 upstream connection of the last exchange, kept for the next one while the client connection
    /// stays open: the next request of a keep-alive client nearly always goes to the same place (inside a CONNECT
    /// tunnel, always), and going through the pool costs lookups, a future and a pipeline search per request.
    private var pinned: UpstreamLease?
    private var upstreamKeepAlive = true
    private var responseHeadSent = false
    private var clientWantsClose = false
    private var clientVersion = HTTPVersion.http1_1
    private var readPending = false
    /// Whether parts were written to the upstream or the client since that side's last flush: a flush with nothing
    /// to send still walks the whole pipeline (TLS included), and the read-complete events would ask for one each.
    private var upstreamUnflushed = false
    private var clientUnflushed = false
    /// The request being prepared while the state is `.preparing`.
    private var preparation: Preparation?
    /// Whether the current request asks to switch to WebSocket (HTTP/1.1 `Upgrade`).
    private var isUpgradeRequest = false
    /// When the current request's head went upstream, for the upstream latency metric.
    private var requestSentAt: NIODeadline?
    /// Completes when the current response's end has been written to the client.
    private var responseEndWritten: EventLoopFuture<Void>?
    /// Fires when the upstream has not started its response in time.
    private var firstByteTimer: Scheduled<Void>?
    /// The 101 to send once the origin's 101 has ended and both connections switch to a tunnel.
    private var acceptedUpgrade: HTTPResponseHead?
    /// Whether the current request's head (and so its credential) was written to an upstream.
    private var requestHeadWritten = false
    /// The current response's scrubbing, when its rule has `scrub_responses: true`.
    private var scrubbing: ResponseScrubbing?
    /// The current request, kept to send again with the credential's previous value after a 401 (`previous:`).
    private var replay: ReplayableRequest?
    /// Whether the upstream's response is being read and dropped, before the request is sent again.
    private var discardingResponse = false
    /// The last value attached on this connection and its fingerprint: a keep-alive connection sends the same value
    /// again and again, and an HMAC per request is a cost worth skipping.
    private var lastFingerprint: (material: Secret, fingerprint: String?)?

    init(mode: Mode, runtime: ProxyRuntime) {
        self.mode = mode
        self.runtime = runtime
        switch mode {
        case .intercepted(let session):
            clientAddress = session.clientAddress
            client = session.client
        case .forwardProxy(let address): clientAddress = address
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releasePinned(context: context)
        self.context = nil
        record = nil
    }

    // MARK: Client → proxy

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else {
                // HTTPServerPipelineHandler serialises requests, so this is a protocol violation.
                context.close(promise: nil)
                return
            }
            startExchange(head, context: context)
        case .body(let buffer):
            record?.bytesIn += buffer.readableBytes
            forward(.body(.byteBuffer(buffer)))
        case .end(let trailers):
            forward(.end(trailers))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .streaming = state, upstreamUnflushed {
            upstreamUnflushed = false
            upstream?.channel.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if shouldHoldClientReads {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.handler.resumeReads() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        firstByteTimer?.cancel()
        firstByteTimer = nil
        switch state {
        case .preparing, .streaming(_, false):
            finishRecord(decision: .error, reason: "the client closed the connection before the response ended")
        default:
            break
        }
        state = .refusing
        closeUpstream()
        releasePinned()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError, case .idle = state, !responseHeadSent {
            record = ExchangeRecord(client: clientAddress, method: .GET, host: "", port: 0, path: nil)
            refuse(.badRequest, "malformed HTTP request: \(error)", decision: .denied)
            return
        }
        runtime.logger.debug("client connection error: \(error)")
        context.close(promise: nil)
    }

    // MARK: Exchanges

    private var shouldHoldClientReads: Bool {
        switch state {
        case .preparing:
            // Read on only to collect a body the rule must see whole (bounded by its limit).
            guard let preparation else { return true }
            if preparation.awaitingFraming || preparation.awaitingLeakScan { return false }
            guard preparation.bodyLimit != nil else { return true }
            return preparation.requestEnded
        case .streaming(let requestDone, _): return !requestDone && !(upstream?.channel.isWritable ?? true)
        case .idle, .refusing: return false
        }
    }

    /// HTTP/1.1 clients can read chunked bodies and keep connections alive by default.
    private var clientSupportsChunked: Bool {
        clientVersion.major == 1 && clientVersion.minor >= 1
    }

    /// An HTTP/2 stream (behind the HTTP/2 ↔ HTTP/1 codec): no connection-level headers, one request per stream.
    private var clientIsHTTP2: Bool {
        clientVersion.major == 2
    }

    private func resumeClientReads() {
        guard readPending, !shouldHoldClientReads, let context else { return }
        readPending = false
        context.read()
    }

    private func startExchange(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        responseHeadSent = false
        requestHeadWritten = false
        responseEndWritten = nil
        scrubbing = nil
        clientVersion = head.version
        // An HTTP/2 stream ends by itself; closing it early would reset it (CANCEL) under data still queued.
        clientWantsClose = clientIsHTTP2 ? false : !head.isKeepAlive

        var target: RequestTarget
        do {
            switch mode {
            case .intercepted(let session):
                target = try .intercepted(
                    head, authority: session.authority, serverNameMismatch: session.serverNameMismatch,
                    connectHost: session.connectHost, authorityText: session.authorityText
                )
                target.endpoint.address = session.upstreamAddress
            case .forwardProxy:
                target = try .forwardProxy(head)
            }
        } catch {
            let (host, port) = destinationForRecord(head)
            record = ExchangeRecord(
                client: clientAddress, method: head.method, host: host, port: port,
                path: UsageEvent.pathWithoutQuery(head.uri.hasPrefix("/") ? head.uri : "")
            )
            refuse(error.status, error.reason, decision: .denied)
            return
        }
        record = ExchangeRecord(
            client: clientAddress, method: head.method, host: target.host, port: target.port, path: target.path
        )
        if case .forwardProxy = mode {
            // Each absolute-form request carries its own Proxy-Authorization; nothing is dialled without it.
            switch ClientAdmission.authenticate(head, channel: context.channel, access: runtime.access) {
            case .failure(let refusal):
                refuse(refusal.status, refusal.reason, decision: .denied, headers: refusal.headers)
                return
            case .success(let authenticated):
                client = authenticated
                record?.client = ClientAdmission.label(authenticated, address: clientAddress)
            }
        }
        if case .forwardProxy = mode, runtime.ownListeners.contains(host: target.host, port: target.port) {
            refuse(.forbidden, "refusing to proxy to tokenproxy's own listener \(target.endpoint)", decision: .denied)
            return
        }
        if let refusal = runtime.recordingRefusal {
            refuse(.serviceUnavailable, refusal, decision: .error)
            return
        }
        // One snapshot for the whole exchange: the rules, values and detectors of one configuration.
        let store = runtime.credentials.snapshot
        if let leak = store.leakDetector.leak(in: head) {
            refuseLeak(leak, destination: target.endpoint.description)
            return
        }
        if head.method == .CONNECT {
            refuse(.methodNotAllowed, "CONNECT must be the first request on a new proxy connection", decision: .denied)
            return
        }
        if MessageFraming.hasConflictingLength(head.headers) {
            refuse(.badRequest, "request has conflicting Content-Length / Transfer-Encoding headers", decision: .denied)
            return
        }

        var headers = head.headers
        let wasChunked = headers.isChunkedTransferEncoding
        let upgrade = WebSocketUpgrade.requested(by: head)
        let wantsTrailers = headers[canonicalForm: "te"].contains { $0.lowercased() == "trailers" }
        headers.removeHopByHopHeaders()
        if wantsTrailers {
            // `TE: trailers` is the one TE value that crosses hops (HTTP/2 allows only it; gRPC servers require it).
            headers.add(name: "te", value: "trailers")
        }
        MessageFraming.frameRequest(&headers, wasChunked: wasChunked)
        if let upgrade {
            // The one hop-by-hop exchange that must reach the origin: it decides whether the connection upgrades.
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgrade)
        }
        isUpgradeRequest = upgrade != nil
        if let hostHeader = target.hostHeader { headers.replaceAll(name: "host", with: hostHeader) }
        let draft = HTTPRequestHead(version: .http1_1, method: head.method, uri: target.originForm, headers: headers)

        let plan: ExchangePlan
        switch ExchangePlan.make(for: draft, target: target, store: store, limits: runtime.limits) {
        case .refuse(let status, let reason):
            refuse(status, reason, decision: .denied)
            return
        case .proceed(let made):
            plan = made
        }
        record?.rule = plan.rule?.index
        record?.credential = plan.rule?.credential
        record?.decision = .forward
        // The client's allow-list, its environment and the rate limits, once the rule (and so the credential) is known.
        if let refusal = ClientAdmission.refusal(runtime.access.admit(client: client, rule: plan.rule)) {
            refuse(refusal.status, refusal.reason, decision: .denied, headers: refusal.headers)
            return
        }
        preparation = Preparation(head: draft, plan: plan, target: target, store: store)
        if !store.leakDetector.isEmpty && Preparation.mayHoldBody(head) {
            preparation?.leakScanLimit = runtime.egress.policy.leakScanBytes
        }
        if clientIsHTTP2 && !draft.headers.contains(name: "content-length") {
            // An HTTP/2 request says whether a body follows only by what comes next: DATA, or the end of the stream.
            preparation?.awaitingFraming = true
        }
        state = .preparing

        if let rule = plan.rule {
            runtime.credentials.material(for: rule.credential, in: store, on: context.eventLoop)
                .assumeIsolated()
                .whenComplete { result in
                    self.materialArrived(result, credential: rule.credential)
                }
        } else {
            preparation?.materialReady = true
        }

        closeUpstream()
        leaseUpstream(target.endpoint, context: context)
        launchIfReady()
    }

    /// Connects to the request's destination: straight to the address the CONNECT's policy check admitted, or, for a
    /// forward-proxy request, through the egress policy first.
    private func leaseUpstream(_ endpoint: UpstreamEndpoint, context: ChannelHandlerContext) {
        if endpoint.address != nil {
            lease(endpoint, context: context)
        } else {
            admitThenLease(endpoint, context: context)
        }
    }

    private func lease(_ endpoint: UpstreamEndpoint, context: ChannelHandlerContext) {
        if let kept = pinned {
            pinned = nil
            if kept.endpoint == endpoint, kept.channel.isActive, !isUpgradeRequest {
                adopt(kept)
                return
            }
            pool(context).release(kept, reusable: true)
        }
        pool(context)
            .lease(endpoint, exclusiveHTTP1: isUpgradeRequest)
            .assumeIsolated()
            .whenComplete { result in
                self.upstreamConnected(result, endpoint: endpoint)
            }
    }

    /// A forward-proxy request: the egress policy decides on the destination (one lookup), then the connection goes
    /// to the address it admitted.
    private func admitThenLease(_ endpoint: UpstreamEndpoint, context: ChannelHandlerContext) {
        runtime.egress.admit(
            host: endpoint.host, port: endpoint.port, ownListeners: runtime.ownListeners, on: context.eventLoop
        ).assumeIsolated().whenComplete { result in
            guard case .preparing = self.state, let context = self.context else { return }
            switch result {
            case .success(.connect(let address, let wouldDeny)):
                if let wouldDeny, let record = self.record { self.runtime.recordWouldDeny(record, reason: wouldDeny) }
                var admitted = endpoint
                admitted.address = address
                self.lease(admitted, context: context)
            case .success(.refuse(let reason)):
                self.refuse(.forbidden, reason, decision: .denied)
            case .failure(let error):
                let failure = UpstreamFailure.describe(error, destination: endpoint.description)
                self.refuse(failure.status, failure.reason, decision: .error)
            }
        }
    }

    /// Refuses a request that carries a credential's real value, and counts it.
    private func refuseLeak(_ leak: LeakDetector.Leak, destination: String) {
        ProxyMetrics.leak(credential: leak.credential, host: record?.host ?? "")
        refuse(.forbidden, leak.reason(destination: destination), decision: .leak)
    }

    private func materialArrived(_ result: Result<InjectableMaterial, Error>, credential: String) {
        guard case .preparing = state else { return }
        switch result {
        case .success(let material):
            preparation?.material = material
            preparation?.materialReady = true
            launchIfReady()
        case .failure(let error):
            refuse(.badGateway, "credential '\(credential)' is unavailable: \(error)", decision: .error)
        }
    }

    private func upstreamConnected(_ result: Result<Channel, Error>, endpoint: UpstreamEndpoint) {
        guard case .preparing = state else {
            // The client went away or the request was refused meanwhile.
            if case .success(let channel) = result { channel.close(promise: nil) }
            return
        }
        switch result {
        case .failure(let error):
            let failure = UpstreamFailure.describe(error, destination: endpoint.description)
            refuse(failure.status, failure.reason, decision: .error)
        case .success(let channel):
            guard let lease = try? UpstreamLease(channel: channel, endpoint: endpoint) else {
                channel.close(promise: nil)
                refuse(.badGateway, "upstream connection to \(endpoint) was not set up", decision: .error)
                return
            }
            adopt(lease)
        }
    }

    /// Makes `lease` the current exchange's upstream and sends the request if everything else is ready.
    private func adopt(_ lease: UpstreamLease) {
        lease.handler.delegate = self
        upstream = lease
        upstreamKeepAlive = true
        preparation?.upstreamReady = true
        launchIfReady()
    }

    /// Sends the request once the upstream is verified, the credential is at hand and, when the rule needs the
    /// whole body, the body has arrived.
    private func launchIfReady() {
        guard case .preparing = state, var ready = preparation, ready.isReady, let upstream else { return }
        preparation = nil
        if let leak = ready.store.leakDetector.leak(in: ready.scanned) {
            refuseLeak(leak, destination: upstream.endpoint.description)
            return
        }
        replay = ReplayableRequest.make(ready, isUpgrade: isUpgradeRequest)
        var head = ready.head
        var body = ready.body
        if body != nil {
            // The body is complete in memory: send it with a length (also what AWS signing expects).
            head.headers.remove(name: "transfer-encoding")
            head.headers.replaceAll(name: "content-length", with: String(body?.readableBytes ?? 0))
        }
        if let buffered = body, !ready.store.placeholders.isEmpty {
            let text = String(decoding: buffered.readableBytesView, as: UTF8.self)
            let allowed: Set<String> = ready.rule.map { [$0.credential] } ?? []
            if let foreign = ready.store.placeholders.credentialsMentioned(in: text).subtracting(allowed).sorted().first {
                refuse(.forbidden, ExchangePlan.leakRefusal(foreign, target: ready.target), decision: .denied)
                return
            }
        }
        var attached = false
        if let rule = ready.rule, let material = ready.material {
            attached = RequestRewriter.apply(
                rule, material: material, placeholders: ready.store.placeholders, head: &head, body: &body
            ).attached
            record?.decision = attached ? .injected : .forward
            if attached {
                record?.fingerprint = fingerprint(of: material)
            } else {
                record?.credential = nil
            }
        }
        if let requiring = ready.plan.requiringRule, !attached {
            refuse(.forbidden, ExchangePlan.requireRefusal(requiring, host: ready.target.host), decision: .denied)
            return
        }
        scrubbing = ResponseScrubbing(rule: ready.rule, material: ready.material, attached: attached)
        if scrubbing != nil { ResponseScrubbing.requestIdentityEncoding(&head) }
        if upstream.isStream {
            // HTTP/2 frames the body itself and forbids these; the stream's end marks the end of the body.
            head.headers.remove(name: "transfer-encoding")
        }
        let channel = upstream.channel
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        requestHeadWritten = true
        requestSentAt = .now()
        if let body {
            if body.readableBytes > 0 { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
            channel.write(HTTPClientRequestPart.end(nil), promise: nil)
            armFirstByteTimer()
        } else {
            for part in ready.parts { channel.write(part, promise: nil) }
            ready.parts.removeAll()
            if ready.requestEnded { armFirstByteTimer() }
        }
        state = .streaming(requestDone: ready.requestEnded, responseDone: false)
        upstreamUnflushed = false
        channel.flush()
        resumeClientReads()
    }

    /// Fails the exchange with 504 when the upstream has not begun its response `firstByteTimeout` after the whole
    /// request was sent. Armed at the request's end, as Envoy's route timeout is: an upload that takes longer than
    /// the timer is not a stall of the origin's (a stalled client is the idle timer's business).
    private func armFirstByteTimer() {
        guard responseHeadSent == false, firstByteTimer == nil, let endpoint = upstream?.endpoint.description else {
            return
        }
        let limit = runtime.limits.firstByteTimeout
        firstByteTimer = context?.eventLoop.assumeIsolated().scheduleTask(in: limit) {
            self.firstByteTimer = nil
            self.upstreamEnded(
                reason: (.gatewayTimeout, "\(endpoint) sent no response within \(limit.nanoseconds / 1_000_000_000) s")
            )
        }
    }

    private func forward(_ part: HTTPClientRequestPart) {
        let isEnd: Bool
        if case .end = part { isEnd = true } else { isEnd = false }
        switch state {
        case .preparing:
            guard var pending = preparation else { return }
            pending.holdForLeakScan(part)
            if pending.awaitingFraming {
                pending.awaitingFraming = false
                if case .body = part { pending.head.headers.replaceAll(name: "transfer-encoding", with: "chunked") }
            }
            if let limit = pending.bodyLimit {
                if case .body(.byteBuffer(var buffer)) = part {
                    guard (pending.body?.readableBytes ?? 0) + buffer.readableBytes <= limit else {
                        preparation = nil
                        refuse(
                            .payloadTooLarge,
                            "the request body is larger than the \(limit) bytes this rule may buffer",
                            decision: .denied
                        )
                        return
                    }
                    if pending.body == nil { pending.body = ByteBuffer() }
                    pending.body?.writeBuffer(&buffer)
                }
                if isEnd {
                    if pending.body == nil { pending.body = ByteBuffer() }
                    pending.requestEnded = true
                }
            } else {
                pending.parts.append(part)
                if isEnd { pending.requestEnded = true }
            }
            preparation = pending
            launchIfReady()
        case .streaming(false, let responseDone):
            guard let upstream else { return }
            if isEnd {
                state = .streaming(requestDone: true, responseDone: responseDone)
                upstreamUnflushed = false
                upstream.channel.writeAndFlush(part, promise: nil)
                armFirstByteTimer()
                finishIfDone()
            } else {
                upstreamUnflushed = true
                upstream.channel.write(part, promise: nil)
            }
        case .idle, .refusing, .streaming(true, _):
            break
        }
    }

    // MARK: Upstream → client

    func upstreamDidReceive(_ part: HTTPClientResponsePart) {
        guard let context, case .streaming(let requestDone, false) = state else { return }
        if let sent = requestSentAt {
            ProxyMetrics.upstreamLatency(NIODeadline.now() - sent, host: record?.host ?? "")
            requestSentAt = nil
        }
        firstByteTimer?.cancel()
        firstByteTimer = nil
        if discardingResponse || (replay != nil && ReplayableRequest.asksForReplay(part)) {
            discardForReplay(part, context: context)
            return
        }
        replay = nil
        switch part {
        case .head(let upstreamHead) where upstreamHead.status == .switchingProtocols:
            guard isUpgradeRequest, upstream != nil else {
                upstreamEnded(reason: (.badGateway, "the upstream switched protocols without being asked to"))
                return
            }
            record?.status = 101
            var headers = upstreamHead.headers
            headers.removeHopByHopHeaders()
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upstreamHead.headers["upgrade"].first ?? "websocket")
            // Held until the 101's end: the client starts sending frames as soon as it sees the 101, and by then
            // both pipelines must carry bytes, not HTTP.
            acceptedUpgrade = HTTPResponseHead(version: clientVersion, status: .switchingProtocols, headers: headers)
        case .head(let upstreamHead):
            if isUpgradeRequest { upstreamKeepAlive = false }  // an unaccepted upgrade: do not reuse that connection
            let code = upstreamHead.status.code
            let isInformational = (100..<200).contains(code) && code != 101
            var headers = upstreamHead.headers
            headers.removeHopByHopHeaders()
            if let refusal = scrubbing?.scrub(&headers, isFinal: !isInformational) {
                upstreamEnded(reason: (.badGateway, refusal))
                return
            }
            if !isInformational {
                record?.status = Int(code)
                upstreamKeepAlive = upstreamHead.isKeepAlive
                responseHeadSent = true
                if !clientSupportsChunked && !clientIsHTTP2 { clientWantsClose = true }
                if runtime.draining.load(ordering: .relaxed) && !clientIsHTTP2 { clientWantsClose = true }
                if clientWantsClose && !clientIsHTTP2 { headers.replaceAll(name: "connection", with: "close") }
            }
            MessageFraming.frameResponse(
                &headers, status: upstreamHead.status, requestMethod: record?.method ?? .GET,
                clientSupportsChunked: clientSupportsChunked, clientIsHTTP2: clientIsHTTP2
            )
            let head = HTTPResponseHead(version: clientVersion, status: upstreamHead.status, headers: headers)
            clientUnflushed = true
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .body(var buffer):
            if scrubbing != nil { buffer = scrubbing!.scrub(buffer, allocator: context.channel.allocator) }
            record?.bytesOut += buffer.readableBytes
            clientUnflushed = true
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            if !context.channel.isWritable { upstream?.handler.pauseReads() }
        case .end where acceptedUpgrade != nil:
            // Switch after the 101's end: the response decoder may then be removed from inside its decode loop.
            if let upstream, let head = acceptedUpgrade {
                becomeWebSocketTunnel(context: context, upstream: upstream, switchingHead: head)
            }
        case .end(var trailers):
            if scrubbing != nil {
                let allocator = context.channel.allocator
                let (tail, scrubbedTrailers) = scrubbing!.finish(trailers: trailers, allocator: allocator)
                trailers = scrubbedTrailers
                if tail.readableBytes > 0 {
                    record?.bytesOut += tail.readableBytes
                    context.write(wrapOutboundOut(.body(.byteBuffer(tail))), promise: nil)
                }
            }
            state = .streaming(requestDone: requestDone, responseDone: true)
            // Settle the exchange before the final write: on an HTTP/2 stream that write closes the stream channel
            // at once, and whatever is recorded must not depend on what runs after it.
            let settled = settleIfDone()
            clientUnflushed = false
            responseEndWritten = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
            settled?.apply(to: self)
        }
    }

    /// Drops the 401 to the current value, and once it has ended sends the request again with the previous one.
    private func discardForReplay(_ part: HTTPClientResponsePart, context: ChannelHandlerContext) {
        discardingResponse = true
        guard case .end = part, let again = replay?.retry, let credential = again.rule?.credential else { return }
        discardingResponse = false
        replay = nil
        releaseUpstream(reusable: false)  // its 401 may have asked to close: never reused
        record?.reason = ReplayableRequest.reason(credential: credential)
        runtime.credentials.notePreviousUse(credential)
        preparation = again
        state = .preparing
        leaseUpstream(again.target.endpoint, context: context)
    }

    func upstreamDidReadComplete() {
        guard clientUnflushed else { return }
        clientUnflushed = false
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeClientReads() }
    }

    func upstreamDidFail(_ error: Error) {
        upstreamEnded(reason: UpstreamFailure.describe(error, destination: upstream?.endpoint.description ?? "upstream"))
    }

    func upstreamDidClose() {
        upstreamEnded(reason: (.badGateway, "the upstream closed the connection before the response ended"))
    }

    private func upstreamEnded(reason: (status: HTTPResponseStatus, reason: String)) {
        firstByteTimer?.cancel()
        firstByteTimer = nil
        let channel = upstream?.channel
        upstream?.handler.delegate = nil
        upstream = nil
        channel?.close(promise: nil)
        guard case .streaming(_, false) = state else { return }
        if responseHeadSent {
            // Part of the response is already with the client; the only honest signal left is to cut it short.
            finishRecord(decision: .error, reason: reason.reason)
            state = .refusing
            context?.close(promise: nil)
        } else {
            refuse(reason.status, reason.reason, decision: .error)
        }
    }

    /// What to do with the client connection once an exchange is settled.
    private enum AfterExchange {
        case close
        case readOn

        func apply(to handler: ExchangeHandler) {
            switch self {
            case .close:
                // Close only once the response has gone out: closing earlier would drop what a slow client has
                // not read yet.
                guard let context = handler.context else { return }
                if let written = handler.responseEndWritten {
                    written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                } else {
                    context.close(promise: nil)
                }
            case .readOn:
                handler.resumeClientReads()
            }
        }
    }

    /// When both the request and the response are complete: records the exchange, returns to idle and releases
    /// or closes the upstream. Returns what to do with the client connection, or `nil` when not done yet.
    private func settleIfDone() -> AfterExchange? {
        guard case .streaming(true, true) = state else { return nil }
        finishRecord(decision: nil, reason: nil)
        state = .idle
        if upstreamKeepAlive && !clientWantsClose, let kept = upstream, !kept.isStream, kept.channel.isActive {
            upstream = nil
            kept.park()  // closed by its handler if it speaks before the next request; dropped then at reuse
            pinned = kept
        } else {
            releaseUpstream(reusable: upstreamKeepAlive)
        }
        return clientWantsClose ? .close : .readOn
    }

    private func finishIfDone() {
        settleIfDone()?.apply(to: self)
    }

    // MARK: WebSocket

    /// After a 101 from the origin: sends the 101 on, then takes both connections out of HTTP and glues them byte
    /// for byte. The credential went only into the handshake request; the tunnel is recorded when it closes.
    private func becomeWebSocketTunnel(
        context: ChannelHandlerContext, upstream: UpstreamLease, switchingHead: HTTPResponseHead
    ) {
        acceptedUpgrade = nil
        context.writeAndFlush(wrapOutboundOut(.head(switchingHead)), promise: nil)
        responseHeadSent = true
        self.upstream = nil
        upstream.handler.delegate = nil
        var tunnelRecord = record
        record = nil
        state = .refusing  // nothing more goes through this handler
        tunnelRecord?.status = 101
        guard let tunnelRecord else { return }
        let accounting = TunnelAccounting(record: tunnelRecord, runtime: runtime)
        let (clientGlue, serverGlue) = TunnelGlueHandler.matchedPair(accounting: accounting)
        do {
            let upstreamPipeline = upstream.channel.pipeline.syncOperations
            try upstreamPipeline.addHandler(serverGlue)
            _ = upstreamPipeline.removeHandler(upstream.handler)
            _ = upstreamPipeline.removeHandler(try upstreamPipeline.handler(type: HTTPRequestEncoder.self))
            _ = upstreamPipeline.removeHandler(
                try upstreamPipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
            )
            let clientPipeline = context.pipeline.syncOperations
            try clientPipeline.addHandler(clientGlue)
            _ = clientPipeline.removeHandler(try clientPipeline.handler(type: HTTPServerPipelineHandler.self))
            _ = clientPipeline.removeHandler(try clientPipeline.handler(type: HTTPResponseEncoder.self))
            clientPipeline.removeHandler(context: context, promise: nil)
            _ = clientPipeline.removeHandler(try clientPipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self))
            context.channel.read()
            upstream.channel.read()
        } catch {
            runtime.logger.error("could not switch \(upstream.endpoint) to a WebSocket tunnel: \(error)")
            upstream.channel.close(promise: nil)
            context.close(promise: nil)
        }
    }

    // MARK: Helpers

    /// The record's fingerprint of `material`, remembered for the next request that attaches the same value.
    private func fingerprint(of material: InjectableMaterial) -> String? {
        guard case .secret(let secret) = material else { return runtime.fingerprint(of: material) }
        if let last = lastFingerprint, last.material == secret { return last.fingerprint }
        let computed = runtime.fingerprint(of: material)
        lastFingerprint = (secret, computed)
        return computed
    }

    /// Answers the current request locally, records it, and closes the connection after the response.
    private func refuse(
        _ status: HTTPResponseStatus, _ reason: String, decision: UsageEvent.Decision, headers: [(String, String)] = []
    ) {
        guard let context else { return }
        record?.status = Int(status.code)
        finishRecord(decision: decision, reason: reason)
        state = .refusing
        preparation = nil
        closeUpstream()
        if responseHeadSent {
            context.close(promise: nil)
            return
        }
        responseHeadSent = true
        LocalResponse(status: status, reason: reason, headers: headers).send(
            on: context, version: clientVersion, wrap: wrapOutboundOut
        )
    }

    private func finishRecord(decision: UsageEvent.Decision?, reason: String?) {
        guard var finished = record else { return }
        record = nil
        if !requestHeadWritten {
            // The request never left the proxy, so neither did the credential: do not count it as a use.
            finished.credential = nil
        }
        if let decision { finished.decision = decision }
        if let reason { finished.reason = reason }
        runtime.record(finished.event())
    }

    private func closeUpstream() {
        releaseUpstream(reusable: false)
    }

    /// The pool of this connection's event loop.
    private func pool(_ context: ChannelHandlerContext) -> UpstreamPool {
        runtime.upstreamPools.pool(for: context.eventLoop, runtime: runtime)
    }

    /// Hands the kept connection back to the pool, for other clients (this one is going away).
    private func releasePinned(context: ChannelHandlerContext? = nil) {
        guard let kept = pinned, let context = context ?? self.context else { return }
        pinned = nil
        pool(context).release(kept, reusable: true)
    }

    /// Hands the upstream back to the pool (kept only if `reusable` and an HTTP/1.1 connection) or closes it.
    private func releaseUpstream(reusable: Bool) {
        guard let upstream, let context else { return }
        self.upstream = nil
        pool(context).release(upstream, reusable: reusable)
    }

    private func destinationForRecord(_ head: HTTPRequestHead) -> (String, Int) {
        switch mode {
        case .intercepted(let session):
            return (HostPattern.normalize(session.authority.host), session.authority.port)
        case .forwardProxy:
            if let absolute = AbsoluteTarget(head.uri) {
                return (HostPattern.normalize(absolute.authority.host), absolute.authority.port)
            }
            return ("", 0)
        }
    }
}

@available(*, unavailable)
extension ExchangeHandler: Sendable {}
