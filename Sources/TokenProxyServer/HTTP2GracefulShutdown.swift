import NIOCore
import NIOHTTP2

/// On a client-facing HTTP/2 connection, answers a graceful shutdown as RFC 9113 §6.8 asks: GOAWAY (NO_ERROR, last
/// stream 2^31-1), so the client opens no new streams; the streams in flight finish (within the drain timeout), and
/// the connection closes once none is left, rather than waiting for the client to hang up.
///
/// The stream initializer reports each stream (``streamOpened()``, ``streamClosed()``): with the inline multiplexer,
/// NIOHTTP2 keeps its stream events to itself.
final class HTTP2GracefulShutdown: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private var openStreams = 0
    private var sentGoAway = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// A stream began on this connection.
    func streamOpened() {
        openStreams += 1
    }

    /// A stream on this connection closed; after a GOAWAY, the last one closes the connection.
    func streamClosed() {
        openStreams = max(0, openStreams - 1)
        if sentGoAway && openStreams == 0 { context?.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !sentGoAway {
            sentGoAway = true
            let goAway = HTTP2Frame(
                streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil)
            )
            context.writeAndFlush(wrapOutboundOut(goAway)).assumeIsolated().whenComplete { _ in
                if self.openStreams == 0 { context.close(promise: nil) }
            }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension HTTP2GracefulShutdown: Sendable {}
