import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TokenProxyCore

@testable import TokenProxyServer

@Suite("Leak checks and response scrubbing on HTTP messages")
struct LeakAndScrubbingTests {
    private let value = "tok_0123456789abcdef"

    private func rule(scrub: Bool) throws -> Rule {
        var rule = Rule(
            index: 0, host: try HostPattern("api.example.com"), credential: "api", injection: .placeholder,
            location: TokenProxyCore.SourceLocation(file: "test.yaml")
        )
        rule.scrubResponses = scrub
        return rule
    }

    private func head(uri: String = "/", headers: [(String, String)] = []) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .POST, uri: uri, headers: HTTPHeaders(headers))
    }

    @Test("a value in a header, the URL or the body is found and named by place; a clean request passes")
    func leaks() {
        let detector = LeakDetector(values: [("api", Secret(value))])
        let inHeader = detector.leak(in: head(headers: [("X-Key", "k=\(value)")]))
        #expect(inHeader?.credential == "api")
        #expect(inHeader?.place == "the X-Key header")
        #expect(detector.leak(in: head(uri: "/x?key=\(value)"))?.place == "the request URL")
        #expect(detector.leak(in: ByteBuffer(string: "{\"k\":\"\(value)\"}"))?.place == "the request body")
        #expect(detector.leak(in: head(uri: "/x?key=tok_0123", headers: [("X-Key", "{{tokenproxy:api}}")])) == nil)
        let reason = inHeader?.reason(destination: "api.example.com:443") ?? ""
        #expect(reason.contains("credential 'api'") && reason.contains("api.example.com:443"))
        #expect(!reason.contains(value))
    }

    @Test("scrubbing replaces the value in headers and a split body, drops Content-Length, refuses encoded bodies")
    func scrubbing() throws {
        var scrubbing = try #require(
            ResponseScrubbing(rule: try rule(scrub: true), material: .secret(Secret(value)), attached: true)
        )
        var headers = HTTPHeaders([("Content-Length", "40"), ("X-Echo", "Bearer \(value)")])
        #expect(scrubbing.scrub(&headers, isFinal: true) == nil)
        #expect(headers["content-length"].isEmpty)
        #expect(headers["x-echo"] == ["Bearer {{tokenproxy:api}}"])
        let allocator = ByteBufferAllocator()
        var out = scrubbing.scrub(ByteBuffer(string: "a" + value.prefix(7)), allocator: allocator)
        var rest = scrubbing.scrub(ByteBuffer(string: String(value.dropFirst(7)) + "b"), allocator: allocator)
        out.writeBuffer(&rest)
        var (tail, trailers) = scrubbing.finish(trailers: HTTPHeaders([("X-T", value)]), allocator: allocator)
        out.writeBuffer(&tail)
        #expect(String(buffer: out) == "a{{tokenproxy:api}}b")
        #expect(trailers?["x-t"] == ["{{tokenproxy:api}}"])

        var encoded = HTTPHeaders([("Content-Encoding", "gzip")])
        #expect(scrubbing.scrub(&encoded, isFinal: true)?.contains("gzip") == true)
        var informational = HTTPHeaders([("Content-Encoding", "gzip")])
        #expect(scrubbing.scrub(&informational, isFinal: false) == nil)
    }

    @Test("no scrubbing unless the rule asks for it and a single value was attached")
    func scrubbingOnlyWhenAsked() throws {
        let material = InjectableMaterial.secret(Secret(value))
        #expect(ResponseScrubbing(rule: try rule(scrub: false), material: material, attached: true) == nil)
        #expect(ResponseScrubbing(rule: try rule(scrub: true), material: material, attached: false) == nil)
        #expect(ResponseScrubbing(rule: nil, material: .secret(Secret(value)), attached: true) == nil)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Accept-Encoding": "gzip, br"])
        ResponseScrubbing.requestIdentityEncoding(&head)
        #expect(head.headers["accept-encoding"] == ["identity"])
    }
}
