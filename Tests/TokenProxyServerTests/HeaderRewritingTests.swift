import NIOHTTP1
import Testing

@testable import TokenProxyServer

@Suite("Header rewriting")
struct HeaderRewritingTests {
    @Test("hop-by-hop headers, Proxy-Authorization and Connection-nominated headers are removed")
    func removesHopByHop() {
        var headers = HTTPHeaders([
            ("Host", "api.example.com"),
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("X-Secret-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Accept", "application/json"),
        ])
        headers.removeHopByHopHeaders()
        #expect(headers.map(\.name) == ["Host", "Accept"])
    }

    @Test("replaceAll removes every client value in any capitalisation before adding ours")
    func replaceAllReplaces() {
        var headers = HTTPHeaders([
            ("authorization", "Bearer client-one"),
            ("AUTHORIZATION", "Bearer client-two"),
            ("Accept", "*/*"),
        ])
        headers.replaceAll(name: "Authorization", with: "Bearer injected")
        #expect(headers["authorization"] == ["Bearer injected"])
        #expect(headers["accept"] == ["*/*"])
    }

    @Test("chunked is recognised only as the last transfer coding", arguments: [
        ("chunked", true), ("gzip, chunked", true), ("Chunked", true), ("gzip", false),
    ])
    func chunkedDetection(value: String, expected: Bool) {
        let headers = HTTPHeaders([("Transfer-Encoding", value)])
        #expect(headers.isChunkedTransferEncoding == expected)
    }
}

@Suite("Message framing")
struct MessageFramingTests {
    @Test("a chunked request stays chunked and loses any Content-Length")
    func chunkedRequest() {
        var headers = HTTPHeaders([("Content-Length", "5")])
        MessageFraming.frameRequest(&headers, wasChunked: true)
        #expect(headers["transfer-encoding"] == ["chunked"])
        #expect(headers["content-length"].isEmpty)
    }

    @Test("a response without length is chunked for HTTP/1.1 clients and close-delimited for HTTP/1.0")
    func responseWithoutLength() {
        var modern = HTTPHeaders()
        MessageFraming.frameResponse(&modern, status: .ok, requestMethod: .GET, clientSupportsChunked: true)
        #expect(modern["transfer-encoding"] == ["chunked"])
        var legacy = HTTPHeaders()
        MessageFraming.frameResponse(&legacy, status: .ok, requestMethod: .GET, clientSupportsChunked: false)
        #expect(legacy["transfer-encoding"].isEmpty)
    }

    @Test("responses that cannot have a body get no framing added", arguments: [
        (HTTPResponseStatus.ok, HTTPMethod.HEAD), (.notModified, .GET), (.noContent, .GET), (.continue, .POST),
    ])
    func bodylessResponses(status: HTTPResponseStatus, method: HTTPMethod) {
        var headers = HTTPHeaders()
        MessageFraming.frameResponse(&headers, status: status, requestMethod: method, clientSupportsChunked: true)
        #expect(headers["transfer-encoding"].isEmpty)
    }

    @Test("Content-Length is kept, and removed from 204")
    func contentLength() {
        var ok = HTTPHeaders([("Content-Length", "12")])
        MessageFraming.frameResponse(&ok, status: .ok, requestMethod: .GET, clientSupportsChunked: true)
        #expect(ok["content-length"] == ["12"])
        #expect(ok["transfer-encoding"].isEmpty)
        var noContent = HTTPHeaders([("Content-Length", "0")])
        MessageFraming.frameResponse(&noContent, status: .noContent, requestMethod: .GET, clientSupportsChunked: true)
        #expect(noContent["content-length"].isEmpty)
    }

    @Test("conflicting lengths are detected", arguments: [
        ([("Content-Length", "3"), ("Transfer-Encoding", "chunked")], true),
        ([("Content-Length", "3"), ("Content-Length", "4")], true),
        ([("Content-Length", "3"), ("Content-Length", "3")], false),
        ([("Content-Length", "3")], false),
    ])
    func conflictingLengths(pairs: [(String, String)], expected: Bool) {
        #expect(MessageFraming.hasConflictingLength(HTTPHeaders(pairs)) == expected)
    }
}
