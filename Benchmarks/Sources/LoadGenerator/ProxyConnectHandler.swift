import NIOCore

/// Sends `CONNECT` to a proxy and waits for its `200`, then removes itself so TLS can start on the tunnel.
///
/// The response head is bounded (8 KiB): a proxy that sends more, or anything but 200, fails the promise.
final class ProxyConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private static let headLimit = 8 * 1024
    private static let terminator: [UInt8] = Array("\r\n\r\n".utf8)

    private let request: ByteBuffer
    private let established: EventLoopPromise<Void>
    private var received: ByteBuffer?
    private var done = false

    init(request: ByteBuffer, established: EventLoopPromise<Void>) {
        self.request = request
        self.established = established
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if received == nil {
            received = chunk
        } else {
            received!.writeBuffer(&chunk)
        }
        guard let head = received else { return }
        let view = head.readableBytesView
        guard let end = view.firstRange(of: Self.terminator) else {
            if head.readableBytes > Self.headLimit { fail(context, "the proxy's CONNECT response head is too long") }
            return
        }
        let statusLine = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            .split(separator: "\r\n", maxSplits: 1).first ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1] == "200" else {
            fail(context, "the proxy refused CONNECT: \(statusLine.prefix(200))")
            return
        }
        guard end.upperBound == view.endIndex else {
            fail(context, "the proxy sent bytes after its CONNECT response before the TLS handshake")
            return
        }
        done = true
        received = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        established.succeed()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done { fail(context, "the proxy closed the connection during CONNECT") }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !done {
            done = true
            established.fail(error)
            context.close(promise: nil)
        } else {
            context.fireErrorCaught(error)
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        guard !done else { return }
        done = true
        established.fail(LoadError(reason))
        context.close(promise: nil)
    }
}
