import NIOCore
import NIOHTTP1

/// A response the proxy makes itself (an error or a refusal): short plain text that says what happened.
///
/// It always closes the connection afterwards, because the proxy does not know how much of the request is still
/// on the wire.
struct LocalResponse {
    var status: HTTPResponseStatus
    var reason: String
    /// Extra headers (`Proxy-Authenticate`, `Retry-After`).
    var headers: [(String, String)] = []

    /// The text body: one line starting with `tokenproxy:`.
    var body: String { "tokenproxy: \(reason)\n" }

    /// The response head, with framing and `Connection: close`.
    func head(version: HTTPVersion) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        if version.major < 2 {
            headers.add(name: "connection", value: "close")  // HTTP/2 has no such header: the stream just ends
        }
        headers.add(name: "cache-control", value: "no-store")
        headers.add(contentsOf: self.headers)
        return HTTPResponseHead(version: version, status: status, headers: headers)
    }

    /// Writes the whole response through `context` (which must sit behind an `HTTPResponseEncoder`) and closes.
    func send(on context: ChannelHandlerContext, version: HTTPVersion = .http1_1, wrap: (HTTPServerResponsePart) -> NIOAny) {
        context.write(wrap(.head(head(version: version))), promise: nil)
        context.write(wrap(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrap(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
