import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

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

/// The last handler of an upstream connection's pipeline: reports readiness (TCP up and, for TLS, the handshake
/// verified), passes response parts to its delegate, and holds reads while the delegate's client cannot take more.
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// Succeeds once requests may be written: after a verified TLS handshake, or on connect for plain HTTP.
    let ready: EventLoopPromise<Void>
    private let waitsForHandshake: Bool
    private var isReady = false
    private var readsPaused = false
    private var readPending = false
    private var context: ChannelHandlerContext?

    /// The exchange currently using this connection. Strong: the client side clears it when it is done.
    var delegate: UpstreamHandlerDelegate?

    init(ready: EventLoopPromise<Void>, waitsForHandshake: Bool) {
        self.ready = ready
        self.waitsForHandshake = waitsForHandshake
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { channelActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if !waitsForHandshake { markReady() }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            markReady()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        delegate?.upstreamDidReceive(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamDidReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if isReady {
            delegate?.upstreamDidFail(error)
        } else {
            isReady = true
            ready.fail(error)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !isReady {
            isReady = true
            ready.fail(ChannelError.ioOnClosedChannel)
        } else {
            delegate?.upstreamDidClose()
        }
        delegate = nil
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

    private func markReady() {
        guard !isReady else { return }
        isReady = true
        ready.succeed(())
    }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}
