import NIOCore

/// Hands `NIOHTTP2Handler` its bytes in whole frames, so that its decoder's buffer cannot grow with the traffic.
///
/// Why: swift-nio-http2's frame decoder keeps one accumulation buffer and only resets its indices when a read ends
/// exactly at a frame boundary. A peer whose TLS records put each 9-byte frame header in a record of its own (as a
/// SwiftNIO server does) makes most reads end just after a header, so the buffer is appended to, never reset, and
/// reallocated ever larger: 1 GiB of DATA frames took the proxy to 270 MiB of heap. Passing on only complete frames
/// makes every read end on a boundary; what this handler holds back is at most one frame, which it copies into a
/// buffer of its own (at most `maxFrameLength` + 9 bytes) rather than appending to a long-lived one.
///
/// A frame header announcing more than `maxFrameLength` is passed straight on (with everything after it), so the
/// HTTP/2 handler rejects it with FRAME_SIZE_ERROR as it would without this handler; nothing is buffered for it.
final class HTTP2FrameAligner: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The size of an HTTP/2 frame header.
    static let frameHeaderLength = 9
    /// The length of the client connection preface (`PRI * HTTP/2.0…`), which precedes the first frame on a server.
    static let clientPrefaceLength = 24

    private let maxFrameLength: Int
    /// Preface bytes still to pass through unframed (a server's first 24 bytes).
    private var prefaceRemaining: Int
    /// The start of a frame that has not fully arrived.
    private var partial: ByteBuffer?
    /// Set once a peer announced an oversized frame: from then on bytes pass through untouched.
    private var passingThrough = false

    /// - Parameters:
    ///   - isServer: whether the connection starts with the client preface (the proxy's client-facing side).
    ///   - maxFrameLength: the largest frame payload the HTTP/2 handler accepts (SETTINGS_MAX_FRAME_SIZE we sent).
    init(isServer: Bool, maxFrameLength: Int = 1 << 14) {
        self.prefaceRemaining = isServer ? Self.clientPrefaceLength : 0
        self.maxFrameLength = maxFrameLength
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if passingThrough {
            context.fireChannelRead(data)
            return
        }
        if prefaceRemaining > 0, let preface = input.readSlice(length: min(prefaceRemaining, input.readableBytes)) {
            prefaceRemaining -= preface.readableBytes
            context.fireChannelRead(wrapInboundOut(preface))
        }
        completePartialFrame(from: &input, context: context)
        guard partial == nil, !passingThrough else { return }

        let wholeFrames = lengthOfWholeFrames(in: input)
        if wholeFrames > 0, let frames = input.readSlice(length: wholeFrames) {
            context.fireChannelRead(wrapInboundOut(frames))
        }
        if passingThrough {
            if input.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(input)) }
        } else if input.readableBytes > 0 {
            var start = context.channel.allocator.buffer(capacity: Self.frameHeaderLength + maxFrameLength)
            start.writeImmutableBuffer(input)
            partial = start
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partial = nil
        context.fireChannelInactive()
    }

    /// Moves bytes from `input` into the held frame until it is whole, then passes it on.
    private func completePartialFrame(from input: inout ByteBuffer, context: ChannelHandlerContext) {
        while var frame = partial, input.readableBytes > 0 {
            let wanted = bytesStillNeeded(by: frame)
            guard let wanted else {
                // An oversized header: stop framing and let the HTTP/2 handler refuse it.
                partial = nil
                passingThrough = true
                frame.writeImmutableBuffer(input)
                input.moveReaderIndex(forwardBy: input.readableBytes)
                context.fireChannelRead(wrapInboundOut(frame))
                return
            }
            guard let piece = input.readSlice(length: min(wanted, input.readableBytes)) else { return }
            frame.writeImmutableBuffer(piece)
            if bytesStillNeeded(by: frame) == 0 {
                partial = nil
                context.fireChannelRead(wrapInboundOut(frame))
            } else {
                partial = frame
            }
        }
    }

    /// How many more bytes the frame starting `frame` needs: up to its header first, then up to its end; `nil` when
    /// the header announces an oversized payload.
    private func bytesStillNeeded(by frame: ByteBuffer) -> Int? {
        guard frame.readableBytes >= Self.frameHeaderLength else {
            return Self.frameHeaderLength - frame.readableBytes
        }
        guard let length = payloadLength(in: frame, at: frame.readerIndex) else { return nil }
        return Self.frameHeaderLength + length - frame.readableBytes
    }

    /// The number of leading bytes of `buffer` that form complete frames. Marks the handler as passing through when a
    /// header announces an oversized frame (the bytes before it still count as whole frames).
    private func lengthOfWholeFrames(in buffer: ByteBuffer) -> Int {
        var offset = 0
        while buffer.readableBytes - offset >= Self.frameHeaderLength {
            guard let length = payloadLength(in: buffer, at: buffer.readerIndex + offset) else {
                passingThrough = true
                return offset
            }
            let frameLength = Self.frameHeaderLength + length
            guard buffer.readableBytes - offset >= frameLength else { break }
            offset += frameLength
        }
        return offset
    }

    /// The 24-bit payload length of the frame header at `index`, or `nil` when it exceeds `maxFrameLength`.
    private func payloadLength(in buffer: ByteBuffer, at index: Int) -> Int? {
        guard let high = buffer.getInteger(at: index, as: UInt8.self),
            let low = buffer.getInteger(at: index + 1, as: UInt16.self)
        else { return nil }
        let length = Int(high) << 16 | Int(low)
        return length <= maxFrameLength ? length : nil
    }
}

@available(*, unavailable)
extension HTTP2FrameAligner: Sendable {}
