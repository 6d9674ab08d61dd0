import Crypto
import Foundation
import NIOCore
import NIOHTTP1

extension TestOrigin {
    /// The SHA-256 of `text` in lowercase hex, as `?accept_sha256=` takes it.
    static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Answers each HTTP/1.1 request with `200` and the byte count of the body it received; with
    /// `?accept_sha256=HEX` in the target, with `401` unless the SHA-256 of its `Authorization` value is HEX (an
    /// origin that accepts one token only, known to the test by hash).
    ///
    /// Runs on one connection's event loop only, so its mutable state needs no lock; what the test reads goes
    /// through the ``Recorder``.
    final class RequestHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let recorder: Recorder
        private var current: (index: Int, keepAlive: Bool, version: HTTPVersion)?
        /// Whether the current request is refused with 401 (see ``TestOrigin/RequestHandler``).
        private var unauthorized = false
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
                unauthorized = Self.isUnauthorized(head)
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

        private static func isUnauthorized(_ head: HTTPRequestHead) -> Bool {
            guard let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first,
                let accepted = query.split(separator: "&").first(where: { $0.hasPrefix("accept_sha256=") })
            else { return false }
            let value = head.headers["Authorization"].first ?? ""
            return accepted.dropFirst("accept_sha256=".count) != TestOrigin.sha256Hex(value)
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
            let head = HTTPResponseHead(version: version, status: unauthorized ? .unauthorized : .ok, headers: headers)
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
