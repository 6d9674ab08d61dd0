import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import TokenProxyServer

@Suite("UpstreamHandler between exchanges")
struct UpstreamHandlerTests {
    /// Records what an exchange would be told.
    private final class RecordingDelegate: UpstreamHandlerDelegate {
        var received: [HTTPClientResponsePart] = []
        func upstreamDidReceive(_ part: HTTPClientResponsePart) { received.append(part) }
        func upstreamDidReadComplete() {}
        func upstreamWritabilityChanged(isWritable: Bool) {}
        func upstreamDidFail(_ error: Error) {}
        func upstreamDidClose() {}
    }

    private static let unsolicited = HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok))

    @Test("a response while no exchange uses the connection closes it")
    func unsolicitedResponseCloses() throws {
        let channel = EmbeddedChannel(handler: UpstreamHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        try channel.writeInbound(Self.unsolicited)
        #expect(!channel.isActive)
    }

    @Test("a response during an exchange goes to it, and the connection stays open")
    func solicitedResponseIsDelivered() throws {
        let handler = UpstreamHandler()
        let delegate = RecordingDelegate()
        handler.delegate = delegate
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        try channel.writeInbound(Self.unsolicited)
        #expect(channel.isActive)
        #expect(delegate.received.count == 1)
        _ = try channel.finish()
    }
}
