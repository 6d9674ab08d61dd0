import NIOCore
import NIOHTTP1

/// Receives an upstream connection's events on behalf of the exchange that is using it.
///
/// All calls happen on the event loop shared by the client and upstream channels.
protocol UpstreamHandlerDelegate: AnyObject {
    func upstreamDidReceive(_ part: HTTPClientResponsePart)
    func upstreamDidReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    func upstreamDidFail(_ error: Error)
    func upstreamDidClose()
}

/// The last handler of an upstream HTTP/1.1 connection or HTTP/2 stream: passes response parts to the exchange
/// using it, and holds reads while that exchange's client cannot take more.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var readsPaused = false
    private var readPending = false
    private var context: ChannelHandlerContext?

    /// The exchange currently using this connection. Strong: the exchange clears it when it is done. While it is
    /// `nil` the connection is between exchanges (idle in the pool, or kept by a client connection).
    var delegate: UpstreamHandlerDelegate?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let delegate else {
            // A response nobody asked for: what the connection sends next could be taken for the next request's
            // answer, so it is not used again.
            context.close(promise: nil)
            return
        }
        delegate.upstreamDidReceive(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamDidReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A connection that saw an error is never reused: closing it takes it out of the pool.
        delegate?.upstreamDidFail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        delegate?.upstreamDidClose()
        delegate = nil
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Stops reading from the upstream (the client is not keeping up).
    func pauseReads() {
        readsPaused = true
    }

    /// Resumes reading from the upstream.
    func resumeReads() {
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}
