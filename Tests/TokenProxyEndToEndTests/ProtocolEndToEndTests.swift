import Foundation
import Testing

/// End-to-end tests of the protocols on both sides of the proxy: HTTP/2 or HTTP/1.1 towards the client (chosen by
/// the client in ALPN) and, independently, towards the origin (chosen by the origin), with the credential injected
/// in every combination, trailers carried through, hop-by-hop headers stopped, informational responses forwarded
/// and upstream connections reused.
///
/// The origin is ``H2TestOrigin``: it records the protocol each request arrived in, so "the proxy spoke HTTP/2 to
/// an origin that offers it" is checked where it happens, not inferred from the client side.
@Suite("protocols end to end", .serialized, .timeLimit(.minutes(1)))
struct ProtocolEndToEndTests {
    /// A client-sent credential the proxy must replace.
    static let clientAuthorization = "Authorization: Bearer client-value"

    /// Headers that must never reach an origin, in any protocol: hop-by-hop ones (RFC 9110 §7.6.1), the one the
    /// client's `Connection` nominated, and what HTTP/2 forbids outright (RFC 9113 §8.2.2).
    static let forbiddenUpstream = [
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "X-E2E-Hop", "Upgrade",
        "HTTP2-Settings",
    ]

    /// Starts an ``H2TestOrigin`` with the valid certificate, runs `body`, and shuts the origin down either way.
    static func withOrigin(
        _ protocols: H2TestOrigin.Protocols,
        in fixture: ProxyFixture,
        _ body: (H2TestOrigin) async throws -> Void
    ) async throws {
        let origin = try await H2TestOrigin.start(identity: fixture.certificates.origin(.valid), protocols: protocols)
        let outcome = await Result.catching { try await body(origin) }
        await origin.shutdown()
        try outcome.get()
    }

    /// Every combination of client protocol and origin protocol.
    static let matrix: [(ClientProtocol, H2TestOrigin.Protocols)] = ClientProtocol.allCases.flatMap { client in
        H2TestOrigin.Protocols.allCases.map { (client, $0) }
    }

    // MARK: Protocol combinations

    @Test(
        "an upload is injected, framed for the origin's protocol, and its trailers and headers cross correctly",
        arguments: matrix
    )
    func protocolCombination(client: ClientProtocol, origin protocols: H2TestOrigin.Protocols) async throws {
        try await ProxyFixture.run("matrix-\(client)-\(protocols)") { fixture in
            try await Self.withOrigin(protocols, in: fixture) { origin in
                // An odd size, so that a framing error cannot hide behind a round number.
                let size = 200_003
                var generator = SystemRandomNumberGenerator()
                let payload = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
                let payloadPath = try fixture.directory.write(payload, to: "upload.bin")
                let url = "https://localhost:\(origin.port)/matrix/items?trailers=1&x=1"

                var arguments = [
                    "--header", Self.clientAuthorization,
                    "--header", "Content-Type: application/octet-stream",
                    "--header", "X-E2E-End-To-End: kept",
                    "--data-binary", "@\(payloadPath)",
                ]
                if client == .http1 {
                    // Connection-specific headers exist only in HTTP/1.1 (over HTTP/2 curl drops them itself, and
                    // `X-E2E-Hop` would be an ordinary header there). The body goes chunked, which must not arrive
                    // as `Transfer-Encoding` at an HTTP/2 origin.
                    arguments += [
                        "--header", "Connection: keep-alive, X-E2E-Hop",
                        "--header", "X-E2E-Hop: listed-in-connection",
                        "--header", "Keep-Alive: timeout=5",
                        "--header", "Proxy-Connection: keep-alive",
                        "--header", "Transfer-Encoding: chunked",
                    ]
                }
                let result = try await fixture.clients.measuredCurl(url, protocol: client, arguments: arguments)

                #expect(result.run.exitCode == 0, fixture.explain(result.run))
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(transfer.httpConnect == 200)
                #expect(transfer.httpCode == 200, fixture.explain(result.run))
                fixture.checkEqual(transfer.httpVersion, client.curlVersion, "HTTP version between curl and the proxy")
                fixture.check(
                    result.body.contains("received \(size) bytes"),
                    "origin answered: \(result.body.prefix(300))"
                )
                for (name, value) in H2TestOrigin.trailers {
                    fixture.check(
                        result.dumped(name, value),
                        "the client did not get the origin's trailer '\(name): \(value)'; headers seen:\n"
                            + result.headerDump.suffix(1500)
                    )
                }
                for (name, _) in H2TestOrigin.hopByHopResponseHeaders where name != "Connection" {
                    fixture.check(
                        !result.dumped(name),
                        "the origin's hop-by-hop response header '\(name)' reached the client"
                    )
                }

                let requests = origin.requests
                try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1: \(requests)")
                let request = requests[0]
                fixture.checkEqual(
                    request.protocolName, protocols.expectedProtocol,
                    "protocol between the proxy and an origin offering \(protocols.alpn)"
                )
                fixture.checkEqual(request.recorded.method, "POST", "method")
                fixture.checkEqual(request.recorded.uri, "/matrix/items?trailers=1&x=1", "request target")
                fixture.checkEqual(request.authority, "localhost:\(origin.port)", "authority at the origin")
                fixture.expectInjected(request.recorded)
                fixture.checkEqual(request.recorded.values(of: "X-E2E-End-To-End"), ["kept"], "an end-to-end header")
                for name in Self.forbiddenUpstream {
                    fixture.expectAbsent(name, in: request.recorded)
                }
                if request.protocolName == H2TestOrigin.Protocols.h2 {
                    fixture.expectAbsent("Transfer-Encoding", in: request.recorded)
                    let te = request.recorded.values(of: "te")
                    fixture.check(
                        te.allSatisfy { $0 == "trailers" }, "HTTP/2 request with TE other than trailers: \(te)"
                    )
                    fixture.checkEqual(request.recorded.values(of: ":scheme"), ["https"], ":scheme")
                }
                let (isComplete, bodyBytes) = (request.recorded.isComplete, request.recorded.bodyBytes)
                #expect(isComplete, "the origin never saw the end of the upload")
                #expect(bodyBytes == size)

                let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
                fixture.checkEqual(record.method, "POST", "audit method")
                fixture.checkEqual(record.path, "/matrix/items", "audit path")
                #expect(record.status == 200)
            }
        }
    }

    @Test("over HTTP/2, an :authority other than the CONNECT host gets 421 and nothing is forwarded")
    func http2AuthorityMismatchGets421() async throws {
        try await ProxyFixture.run("h2-authority") { fixture in
            try await Self.withOrigin(.h2AndHTTP1, in: fixture) { origin in
                // Over HTTP/2 curl sends a Host header as :authority.
                let result = try await fixture.clients.measuredCurl(
                    "https://localhost:\(origin.port)/v1/items",
                    protocol: .h2,
                    arguments: ["--header", "Host: evil.example.test:\(origin.port)"]
                )
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(transfer.httpConnect == 200)
                fixture.checkEqual(transfer.httpVersion, "2", "HTTP version between curl and the proxy")
                #expect(transfer.httpCode == 421, fixture.explain(result.run))
                #expect(origin.requests.count == 0, "a request with a mismatched :authority reached the origin")

                let record = try await fixture.auditRecord("421") { $0.status == 421 }
                fixture.checkEqual(record.decision, "denied", "decision in \(record)")
                fixture.checkEqual(record.credential, nil, "credential in \(record)")
            }
        }
    }

    // MARK: Connection reuse

    @Test(
        "100 sequential requests on one client connection travel over one upstream connection",
        arguments: matrix
    )
    func upstreamConnectionIsReused(client: ClientProtocol, origin protocols: H2TestOrigin.Protocols) async throws {
        try await ProxyFixture.run("reuse-\(client)-\(protocols)") { fixture in
            try await Self.withOrigin(protocols, in: fixture) { origin in
                let count = 100
                let urls = (0..<count).map { "https://localhost:\(origin.port)/reuse/\($0)" }
                let started = ContinuousClock.now
                let result = try await fixture.clients.measuredCurl(
                    urls, protocol: client, maxTime: 50, timeout: .seconds(55)
                )
                let elapsed = ContinuousClock.now - started

                #expect(result.run.exitCode == 0, fixture.explain(result.run))
                let codes = result.transfers.map(\.httpCode)
                #expect(codes == Array(repeating: 200, count: count), "statuses: \(codes)")
                // The client side is one connection, so what is counted at the origin is the proxy's doing.
                let clientConnections = result.transfers.map(\.newConnections).reduce(0, +)
                #expect(clientConnections == 1, "curl opened \(clientConnections) connections to the proxy")
                #expect(result.transfers.allSatisfy { $0.httpVersion == client.curlVersion })

                let requests = origin.requests
                #expect(requests.count == count, "origin saw \(requests.count) requests")
                fixture.check(
                    requests.map(\.recorded.uri) == (0..<count).map { "/reuse/\($0)" },
                    "the origin saw other targets, or another order"
                )
                let injected = requests.filter { fixture.isInjected($0.recorded) }.count
                #expect(injected == requests.count, "\(requests.count - injected) requests without the credential")
                let protocolsSeen = Set(requests.map(\.protocolName))
                fixture.checkEqual(protocolsSeen, [protocols.expectedProtocol], "upstream protocols")
                let accepted = origin.acceptedConnections
                #expect(
                    accepted == 1,
                    "the origin accepted \(accepted) connections for \(count) sequential requests (elapsed \(elapsed))"
                )
            }
        }
    }

    @Test(
        "after a large download, the next clients' requests are answered (a reused upstream connection reads on)",
        arguments: matrix
    )
    func upstreamServesAfterLargeDownload(
        client: ClientProtocol, origin protocols: H2TestOrigin.Protocols
    ) async throws {
        try await ProxyFixture.run("after-download-\(client)-\(protocols)") { fixture in
            try await Self.withOrigin(protocols, in: fixture) { origin in
                let size = 64 * 1_048_576
                // The client lags behind the origin here and there, so the proxy pauses its upstream reads.
                let download = try await fixture.clients.measuredCurl(
                    "https://localhost:\(origin.port)/download?bytes=\(size)",
                    protocol: client,
                    arguments: ["--output", "/dev/null"]
                )
                #expect(download.run.exitCode == 0, fixture.explain(download.run))
                #expect(download.transfers.first?.sizeDownload == size, "\(download.transfers)")

                // New client connections; the proxy may hand them the connection the download used.
                for attempt in 0..<3 {
                    try await Task.sleep(for: .milliseconds(200))
                    let next = try await fixture.clients.measuredCurl(
                        "https://localhost:\(origin.port)/after/\(attempt)", protocol: client, maxTime: 10
                    )
                    let transfer = next.transfers.first
                    #expect(
                        transfer?.httpCode == 200,
                        """
                        request \(attempt) after the download: status \(transfer?.httpCode ?? 0) after \
                        \(transfer?.timeTotal ?? 0) s; \(fixture.explain(next.run)); origin connections: \
                        \(origin.acceptedConnections), requests (#connection, answered = the origin wrote its \
                        response): \(origin.requests)
                        """
                    )
                }
                let requests = origin.requests
                let answered = requests.filter { $0.responseWritten != nil }.count
                #expect(answered == requests.count, "the origin finished \(answered) of \(requests.count) responses")
            }
        }
    }

    // MARK: Informational responses

    @Test(
        "Expect: 100-continue gets the origin's 100 through the proxy, without curl's one-second wait",
        arguments: matrix
    )
    func expectContinueIsForwarded(client: ClientProtocol, origin protocols: H2TestOrigin.Protocols) async throws {
        try await ProxyFixture.run("expect-\(client)-\(protocols)") { fixture in
            try await Self.withOrigin(protocols, in: fixture) { origin in
                let size = 100_000
                let payloadPath = try fixture.directory.write(Data(repeating: 0x5a, count: size), to: "upload.bin")
                let result = try await fixture.clients.measuredCurl(
                    "https://localhost:\(origin.port)/continue",
                    protocol: client,
                    arguments: [
                        "--header", "Expect: 100-continue",
                        // curl's default, stated: without a 100 within this time it sends the body anyway.
                        "--expect100-timeout", "1",
                        "--data-binary", "@\(payloadPath)",
                    ]
                )
                #expect(result.run.exitCode == 0, fixture.explain(result.run))
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(transfer.httpCode == 200, fixture.explain(result.run))
                fixture.checkEqual(transfer.httpVersion, client.curlVersion, "HTTP version between curl and the proxy")
                #expect(transfer.sizeUpload == size)
                #expect(
                    transfer.timeTotal < 1.0,
                    "the upload took \(transfer.timeTotal) s: curl waited out its expect timeout, no 100 came through"
                )
                let interim = result.headerDump.split(whereSeparator: \.isNewline).filter {
                    $0.hasPrefix("HTTP/") && $0.contains(" 100")
                }
                #expect(interim.count == 1, "curl saw \(interim.count) '100 Continue' responses")

                let requests = origin.requests
                try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
                let request = requests[0]
                fixture.checkEqual(request.recorded.values(of: "Expect"), ["100-continue"], "Expect at the origin")
                fixture.checkEqual(request.protocolName, protocols.expectedProtocol, "upstream protocol")
                fixture.expectInjected(request.recorded)
                #expect(request.recorded.bodyBytes == size)
            }
        }
    }
}
