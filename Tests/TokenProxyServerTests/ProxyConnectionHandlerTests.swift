import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import TokenProxyServer

@Suite("Proxy-facing connection")
struct ProxyConnectionHandlerTests {
    /// Sends `request` into a fresh proxy-facing pipeline and returns everything written back.
    private func exchange(_ request: String) throws -> String {
        let channel = EmbeddedChannel()
        let runtime = try TestRuntime.make()
        try channel.pipeline.syncOperations.addHandlers(HTTPPipeline.proxyFacingHandlers(limits: runtime.limits))
        try channel.pipeline.syncOperations.addHandler(ProxyConnectionHandler(runtime: runtime))
        // An active channel, as an accepted connection is: refusals are only written to live connections.
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try channel.writeInbound(channel.allocator.buffer(string: request))
        var response = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            response += String(buffer: buffer)
        }
        _ = try? channel.finish()
        return response
    }

    @Test("an origin-form request to the proxy itself gets 400 with a hint")
    func originFormRequest() throws {
        let response = try exchange("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(response.contains("send CONNECT host:port"))
        #expect(response.lowercased().contains("connection: close"))
    }

    @Test("a CONNECT without a port gets 400 naming the problem")
    func connectWithoutPort() throws {
        let response = try exchange("CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(response.contains("CONNECT needs host:port"))
    }

    @Test("a malformed request line gets 400")
    func malformed() throws {
        let response = try exchange("NOT HTTP AT ALL\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    @Test("an https URL in absolute form must use CONNECT")
    func absoluteHTTPS() throws {
        let response = try exchange("GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(response.contains("tunnelled with CONNECT"))
    }
}
