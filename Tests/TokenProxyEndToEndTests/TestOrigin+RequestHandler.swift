import NIOCore
import NIOHTTP1

extension TestOrigin {
    /// Answers each HTTP/1.1 request with `200` and the byte count of the body it received.
    ///
    /// Runs on one connection's event loop only, so its mutable state needs no lock; what the test reads goes
    /// through the ``Recorder``.
    final class RequestHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let recorder: Recorder
        private var current: (index: Int, keepAlive: Bool, version: HTTPVersion)?
        private var bodyBytes = 0
        private var body: [UInt8] = []

        init(recorder: Recorder) {
            self.recorder = recorder
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                bodyBytes = 0
                body = []
                let index = recorder.begin(
                    method: head.method.rawValue,
                    uri: head.uri,
                    headers: head.headers.map { (name: $0.name, value: $0.value) }
                )
                current = (index, head.isKeepAlive, head.version)
                // Like real origins, invite the body: a proxy that relays `Expect: 100-continue` and waits for the
                // interim response must get one, or the test would measure curl's one-second fallback instead.
                let expectsContinue = head.headers["Expect"].contains { $0.lowercased() == "100-continue" }
                if expectsContinue, head.version != .http1_0 {
                    let interim = HTTPResponseHead(version: head.version, status: .continue)
                    context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
                }
            case .body(let buffer):
                bodyBytes += buffer.readableBytes
                let room = TestOrigin.recordedBodyLimit - body.count
                if room > 0 {
                    body += buffer.readableBytesView.prefix(room)
                }
            case .end:
                guard let current else { return }
                self.current = nil
                recorder.finish(current.index, bodyBytes: bodyBytes, body: body)
                respond(context: context, keepAlive: current.keepAlive, version: current.version)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // TLS handshakes the proxy aborts (bad certificate tests) end up here; nothing to answer.
            context.close(promise: nil)
        }

        private func respond(context: ChannelHandlerContext, keepAlive: Bool, version: HTTPVersion) {
            let body = "\(TestOrigin.greeting)\nreceived \(bodyBytes) bytes\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "X-Origin-Received-Bytes", value: String(bodyBytes))
            if !keepAlive {
                headers.add(name: "Connection", value: "close")
            }
            let head = HTTPResponseHead(version: version, status: .ok, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            let buffer = context.channel.allocator.buffer(string: body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                written.assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            }
        }
    }
}
