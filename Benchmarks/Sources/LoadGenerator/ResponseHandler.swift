import NIOCore
import NIOHTTP1

/// Receives the responses on one connection and reports each one's end (or the connection's failure) to its slot.
///
/// Everything runs on the connection's event loop; the slot is detached before it closes the channel on purpose,
/// so only unexpected closures are reported.
final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// The slot told about responses; `nil` once detached.
    var slot: ClientSlot?
    private var status: UInt = 0
    private var bodyBytes = 0
    private var keepAlive = true

    init(slot: ClientSlot) {
        self.slot = slot
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            keepAlive = head.isKeepAlive
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes &+= buffer.readableBytes
        case .end:
            slot?.responseEnded(status: status, bodyBytes: bodyBytes, keepAlive: keepAlive)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        slot?.connectionFailed(LoadError("the connection closed"))
        slot = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        slot?.connectionFailed(error)
        slot = nil
        context.close(promise: nil)
    }
}
