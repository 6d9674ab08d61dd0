import NIOCore
import NIOHTTP2

extension H2TestOrigin {
    /// Handles one HTTP/2 stream: records the request from its frames, answers once the client ends the stream.
    ///
    /// Runs on the stream channel's event loop only, so its mutable state needs no lock.
    final class StreamHandler: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload

        private let recorder: Recorder
        private let connection: Int
        private var index: Int?
        private var uri = ""
        private var bodyBytes = 0
        private var trailers: [(name: String, value: String)] = []
        private var answered = false
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
            case .headers(let frame):
                let fields = frame.headers.map { (name: $0.name, value: $0.value) }
                if index == nil {
                    uri = fields.first { $0.name == ":path" }?.value ?? ""
                    index = recorder.begin(
                        protocolName: Protocols.h2,
                        connection: connection,
                        method: fields.first { $0.name == ":method" }?.value ?? "",
                        uri: uri,
                        headers: fields
                    )
                    if H2TestOrigin.expectsContinue(fields) && !frame.endStream {
                        let interim = HTTP2Frame.FramePayload.Headers(headers: .init([(":status", "100")]))
                        context.writeAndFlush(wrapOutboundOut(.headers(interim)), promise: nil)
                    }
                } else {
                    trailers = fields
                }
                if frame.endStream { finish(context: context) }
            case .data(let frame):
                if case .byteBuffer(let buffer) = frame.data {
                    bodyBytes += buffer.readableBytes
                }
                if frame.endStream { finish(context: context) }
            default:
                break
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

        private func finish(context: ChannelHandlerContext) {
            guard let index, !answered else { return }
            answered = true
            recorder.finish(index, bodyBytes: bodyBytes, trailers: trailers)
            switch Route(uri: uri, bodyBytes: bodyBytes, protocolName: Protocols.h2) {
            case .reply(let reply):
                writeHead(reply.headers, context: context)
                let body = context.channel.allocator.buffer(string: reply.body)
                context.write(
                    wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: reply.trailers == nil))),
                    promise: nil
                )
                recorder.responseWritten(index)
                if let trailers = reply.trailers {
                    let block = HTTP2Frame.FramePayload.Headers(
                        headers: .init(trailers.map { ($0.name, $0.value) }), endStream: true
                    )
                    context.write(wrapOutboundOut(.headers(block)), promise: nil)
                }
                context.flush()
            case .download(let bytes):
                writeHead(
                    [("content-type", "application/octet-stream"), ("content-length", String(bytes))],
                    context: context
                )
                var slice = context.channel.allocator.buffer(capacity: H2TestOrigin.sliceSize)
                slice.writeRepeatingByte(0, count: H2TestOrigin.sliceSize)
                zeros = slice
                downloadRemaining = bytes
                if bytes == 0 {
                    recorder.responseWritten(index)
                    let end = HTTP2Frame.FramePayload.Data(data: .byteBuffer(ByteBuffer()), endStream: true)
                    context.writeAndFlush(wrapOutboundOut(.data(end)), promise: nil)
                }
                pump(context: context)
            case .events(let count, let interval):
                writeHead([("content-type", "text/event-stream"), ("cache-control", "no-cache")], context: context)
                context.flush()
                sendEvent(0, of: count, interval: interval, context: context)
            }
        }

        private func writeHead(_ headers: [(name: String, value: String)], context: ChannelHandlerContext) {
            let head = HTTP2Frame.FramePayload.Headers(
                headers: .init([(":status", "200")] + headers.map { ($0.name, $0.value) })
            )
            context.write(wrapOutboundOut(.headers(head)), promise: nil)
        }

        /// Writes slices while the stream takes them; resumes from ``channelWritabilityChanged(context:)``.
        ///
        /// A flush can change writability and so call back into this method: the count is kept in the handler, never
        /// in a local, and a nested call does nothing.
        private func pump(context: ChannelHandlerContext) {
            guard !isPumping, let zeros else { return }
            isPumping = true
            defer { isPumping = false }
            while let remaining = downloadRemaining, remaining > 0, context.channel.isWritable {
                let length = min(remaining, H2TestOrigin.sliceSize)
                let isLast = remaining == length
                downloadRemaining = isLast ? nil : remaining - length
                if isLast {
                    self.zeros = nil
                    if let index { recorder.responseWritten(index) }
                }
                let data = HTTP2Frame.FramePayload.Data(
                    data: .byteBuffer(zeros.getSlice(at: 0, length: length) ?? ByteBuffer()), endStream: isLast
                )
                // Flushed one by one, so that writability reflects the connection and the window, not a local queue.
                context.writeAndFlush(wrapOutboundOut(.data(data)), promise: nil)
            }
        }

        private func sendEvent(_ sequence: Int, of count: Int, interval: TimeAmount, context: ChannelHandlerContext) {
            guard isActive else { return }
            guard sequence < count else {
                if let index { recorder.responseWritten(index) }
                let end = HTTP2Frame.FramePayload.Data(data: .byteBuffer(ByteBuffer()), endStream: true)
                context.writeAndFlush(wrapOutboundOut(.data(end)), promise: nil)
                return
            }
            let event = context.channel.allocator.buffer(string: H2TestOrigin.event(sequence))
            context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(event)))), promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
                self.sendEvent(sequence + 1, of: count, interval: interval, context: context)
            }
        }
    }
}
