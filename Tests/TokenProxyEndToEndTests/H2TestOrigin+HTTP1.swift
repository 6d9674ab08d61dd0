import NIOCore
import NIOHTTP1

extension H2TestOrigin {
    /// Handles one HTTP/1.1 connection, request after request.
    ///
    /// Runs on the connection's event loop only, so its mutable state needs no lock.
    final class HTTP1Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let recorder: Recorder
        private let connection: Int
        private var current: (index: Int, head: HTTPRequestHead)?
        /// The index of the request being answered.
        private var answering: Int?
        private var bodyBytes = 0
        /// The request being answered by a download or an event stream.
        private var streaming: HTTPRequestHead?
        /// Bytes of a download still to write, while one is in progress.
        private var downloadRemaining: Int?
        private var zeros: ByteBuffer?
        private var isActive = true
        private var isPumping = false

        init(recorder: Recorder, connection: Int) {
            self.recorder = recorder
            self.connection = connection
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                bodyBytes = 0
                let fields = head.headers.map { (name: $0.name, value: $0.value) }
                let index = recorder.begin(
                    protocolName: Protocols.http1, connection: connection, method: head.method.rawValue,
                    uri: head.uri, headers: fields
                )
                current = (index, head)
                if H2TestOrigin.expectsContinue(fields) {
                    let interim = HTTPResponseHead(version: head.version, status: .continue)
                    context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
                }
            case .body(let buffer):
                bodyBytes += buffer.readableBytes
            case .end(let trailers):
                guard let current else { return }
                self.current = nil
                recorder.finish(
                    current.index, bodyBytes: bodyBytes,
                    trailers: trailers.map { $0.map { (name: $0.name, value: $0.value) } } ?? []
                )
                answering = current.index
                respond(to: current.head, context: context)
            }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable, downloadRemaining != nil {
                pump(context: context)
            }
            context.fireChannelWritabilityChanged()
        }

        func channelInactive(context: ChannelHandlerContext) {
            isActive = false
            downloadRemaining = nil
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
            switch Route(uri: request.uri, bodyBytes: bodyBytes, protocolName: Protocols.http1) {
            case .reply(let reply):
                // Without a Content-Length the encoder frames the body as chunked, which is what carries trailers.
                writeHead(reply.headers, for: request, context: context)
                let body = context.channel.allocator.buffer(string: reply.body)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                let trailers = reply.trailers.map { fields in HTTPHeaders(fields.map { ($0.name, $0.value) }) }
                end(request, trailers: trailers, context: context)
            case .download(let bytes):
                writeHead(
                    [("content-type", "application/octet-stream"), ("content-length", String(bytes))],
                    for: request, context: context
                )
                var slice = context.channel.allocator.buffer(capacity: H2TestOrigin.sliceSize)
                slice.writeRepeatingByte(0, count: H2TestOrigin.sliceSize)
                zeros = slice
                streaming = request
                downloadRemaining = bytes
                pump(context: context)
            case .events(let count, let interval):
                writeHead([("content-type", "text/event-stream"), ("cache-control", "no-cache")], for: request,
                    context: context)
                context.flush()
                streaming = request
                sendEvent(0, of: count, interval: interval, context: context)
            }
        }

        /// Writes a `200` head with `headers` plus the hop-by-hop ones every HTTP/1.1 answer carries.
        private func writeHead(
            _ headers: [(name: String, value: String)], for request: HTTPRequestHead, context: ChannelHandlerContext
        ) {
            var fields = HTTPHeaders((headers + H2TestOrigin.hopByHopResponseHeaders).map { ($0.name, $0.value) })
            if !request.isKeepAlive {
                fields.replaceOrAdd(name: "Connection", value: "close, X-Origin-Hop")
            }
            let head = HTTPResponseHead(version: request.version, status: .ok, headers: fields)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        }

        private func end(_ request: HTTPRequestHead, trailers: HTTPHeaders?, context: ChannelHandlerContext) {
            streaming = nil
            if let answering { recorder.responseWritten(answering) }
            answering = nil
            let written = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
            if !request.isKeepAlive {
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        }

        /// Writes slices while the connection takes them; resumes from ``channelWritabilityChanged(context:)``.
        ///
        /// A flush can change writability and so call back into this method: the count is kept in the handler, never
        /// in a local, and a nested call does nothing.
        private func pump(context: ChannelHandlerContext) {
            guard !isPumping, let zeros, let request = streaming else { return }
            isPumping = true
            defer { isPumping = false }
            while let remaining = downloadRemaining, remaining > 0, context.channel.isWritable {
                let length = min(remaining, H2TestOrigin.sliceSize)
                downloadRemaining = remaining - length
                let slice = zeros.getSlice(at: 0, length: length) ?? ByteBuffer()
                // Flushed one by one: TLS holds unflushed writes where the channel's writability does not see them.
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(slice))), promise: nil)
            }
            if downloadRemaining == 0 {
                downloadRemaining = nil
                self.zeros = nil
                end(request, trailers: nil, context: context)
            }
        }

        private func sendEvent(_ sequence: Int, of count: Int, interval: TimeAmount, context: ChannelHandlerContext) {
            guard isActive, let request = streaming else { return }
            guard sequence < count else {
                end(request, trailers: nil, context: context)
                return
            }
            let event = context.channel.allocator.buffer(string: H2TestOrigin.event(sequence))
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(event))), promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
                self.sendEvent(sequence + 1, of: count, interval: interval, context: context)
            }
        }
    }
}
