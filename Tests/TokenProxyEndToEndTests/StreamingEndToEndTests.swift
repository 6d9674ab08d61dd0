import Foundation
import Testing

/// End-to-end tests of bodies that must stream through the proxy: a gibibyte each way with the proxy's memory
/// watched, and Server-Sent Events that must arrive as they are sent, not when a buffer fills.
///
/// The big transfers are generated and discarded on the fly (`head -c … /dev/zero` into curl, the origin counting
/// and dropping, curl writing to `/dev/null`), so no test process holds the body either: what the sampler sees is
/// the proxy's own footprint. Every test runs for each HTTP version on each side of the proxy (``H2TestOrigin``).
@Suite("streaming end to end", .serialized, .timeLimit(.minutes(2)))
struct StreamingEndToEndTests {
    /// One gibibyte.
    static let gibibyte = 1 << 30
    /// The most resident memory the proxy may use while a gibibyte passes through it.
    static let memoryLimit = 100 * 1_048_576

    // MARK: Gibibyte transfers

    @Test(
        "a 1 GiB upload streams through with the proxy's memory under 100 MiB",
        arguments: ProtocolEndToEndTests.matrix
    )
    func gibibyteUploadStreams(client: ClientProtocol, origin protocols: H2TestOrigin.Protocols) async throws {
        try await ProxyFixture.run("upload-\(client)-\(protocols)") { fixture in
            try await ProtocolEndToEndTests.withOrigin(protocols, in: fixture) { origin in
                let clients = fixture.clients
                let sampler = StreamingMemorySampler(pid: fixture.proxy.pid)
                let bodyPath = fixture.directory.file("clients/upload-response.txt")
                let started = ContinuousClock.now
                let (result, memory) = try await sampler.measure {
                    try await clients.measuredCurl(
                        "https://localhost:\(origin.port)/upload",
                        protocol: client,
                        // `-T -` reads the body from stdin as it comes and sends it without a length (chunked over
                        // HTTP/1.1, DATA frames over HTTP/2).
                        arguments: [
                            "--upload-file", "-",
                            "--header", "Content-Type: application/octet-stream",
                            "--output", bodyPath,
                        ],
                        maxTime: 110,
                        timeout: .seconds(115),
                        feed: "head -c \(Self.gibibyte) /dev/zero"
                    )
                }
                let elapsed = ContinuousClock.now - started
                let response = (try? String(contentsOfFile: bodyPath, encoding: .utf8)) ?? ""

                #expect(result.run.exitCode == 0, fixture.explain(result.run))
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(transfer.httpCode == 200, fixture.explain(result.run))
                fixture.checkEqual(transfer.httpVersion, client.curlVersion, "HTTP version between curl and the proxy")
                // Over HTTP/1.1 curl counts the chunk framing too.
                #expect(transfer.sizeUpload >= Self.gibibyte, "curl sent \(transfer.sizeUpload) bytes")
                fixture.check(
                    response.contains("received \(Self.gibibyte) bytes"),
                    "origin answered: \(response.prefix(300))"
                )
                let requests = origin.requests
                try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
                fixture.checkEqual(requests[0].protocolName, protocols.expectedProtocol, "upstream protocol")
                let (isComplete, bodyBytes) = (requests[0].recorded.isComplete, requests[0].recorded.bodyBytes)
                #expect(isComplete, "the origin never saw the end of the upload")
                #expect(bodyBytes == Self.gibibyte)
                fixture.expectInjected(requests[0].recorded)
                Self.expectBounded(
                    memory, transfer: "1 GiB upload, \(client) to \(protocols)", elapsed: elapsed,
                    timing: "the origin had the whole body after "
                        + Self.seconds(requests[0].requestEnded, since: started)
                )
            }
        }
    }

    @Test(
        "a 1 GiB download streams through with the proxy's memory under 100 MiB",
        arguments: ProtocolEndToEndTests.matrix
    )
    func gibibyteDownloadStreams(client: ClientProtocol, origin protocols: H2TestOrigin.Protocols) async throws {
        try await ProxyFixture.run("download-\(client)-\(protocols)") { fixture in
            try await ProtocolEndToEndTests.withOrigin(protocols, in: fixture) { origin in
                let clients = fixture.clients
                let sampler = StreamingMemorySampler(pid: fixture.proxy.pid)
                let started = ContinuousClock.now
                let (result, memory) = try await sampler.measure {
                    try await clients.measuredCurl(
                        "https://localhost:\(origin.port)/download?bytes=\(Self.gibibyte)",
                        protocol: client,
                        arguments: ["--output", "/dev/null"],
                        maxTime: 110,
                        timeout: .seconds(115)
                    )
                }
                let elapsed = ContinuousClock.now - started

                #expect(result.run.exitCode == 0, fixture.explain(result.run))
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(transfer.httpCode == 200, fixture.explain(result.run))
                fixture.checkEqual(transfer.httpVersion, client.curlVersion, "HTTP version between curl and the proxy")
                #expect(transfer.sizeDownload == Self.gibibyte, "curl received \(transfer.sizeDownload) bytes")
                let requests = origin.requests
                try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
                fixture.checkEqual(requests[0].protocolName, protocols.expectedProtocol, "upstream protocol")
                fixture.expectInjected(requests[0].recorded)
                // An origin that finished writing long before curl finished reading was let through by flow
                // control while the client lagged: the difference sat in the proxy. (HTTP/2 from a SwiftNIO origin
                // is the case that once reached 270 MiB: see HTTP2FrameAligner.)
                Self.expectBounded(
                    memory, transfer: "1 GiB download, \(protocols) to \(client)", elapsed: elapsed,
                    timing: "the origin wrote its last byte after "
                        + Self.seconds(requests[0].responseWritten, since: started)
                )
            }
        }
    }

    @Test(
        "a client slower than the origin gets the whole download, while the origin is held back",
        arguments: ProtocolEndToEndTests.matrix
    )
    func slowClientGetsWholeDownload(client: ClientProtocol, origin protocols: H2TestOrigin.Protocols) async throws {
        try await ProxyFixture.run("slow-client-\(client)-\(protocols)") { fixture in
            try await ProtocolEndToEndTests.withOrigin(protocols, in: fixture) { origin in
                let clients = fixture.clients
                let size = 64 * 1_048_576
                let sampler = StreamingMemorySampler(pid: fixture.proxy.pid)
                let started = ContinuousClock.now
                // 16 MiB/s: about 4 s for the body, which the origin could send in a fraction of that.
                let (result, memory) = try await sampler.measure {
                    try await clients.measuredCurl(
                        "https://localhost:\(origin.port)/download?bytes=\(size)",
                        protocol: client,
                        arguments: ["--output", "/dev/null", "--limit-rate", "16M"],
                        maxTime: 30,
                        timeout: .seconds(35)
                    )
                }

                #expect(result.run.exitCode == 0, fixture.explain(result.run))
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(transfer.httpCode == 200, fixture.explain(result.run))
                #expect(transfer.sizeDownload == size, "curl received \(transfer.sizeDownload) of \(size) bytes")
                let requests = origin.requests
                try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
                fixture.checkEqual(requests[0].protocolName, protocols.expectedProtocol, "upstream protocol")
                // Backpressure reaches the origin: it cannot finish long before the client does. Half the client's
                // time is a wide margin for socket buffers and flow-control windows (a few MiB, not 64).
                let written = requests[0].responseWritten.map { $0 - started }
                #expect(
                    written.map { $0 > .seconds(transfer.timeTotal / 2) } ?? false,
                    """
                    the origin finished writing after \(Self.seconds(requests[0].responseWritten, since: started)), \
                    the client after \(transfer.timeTotal) s: the proxy read ahead of its client; memory: \(memory)
                    """
                )
                // Memory is bounded by the gibibyte tests; here it is only reported, to compare with the pacing.
                print("tokenproxy e2e: slow client, \(protocols) to \(client): proxy memory: \(memory)")
            }
        }
    }

    /// Expects the proxy's sampled and peak resident memory under ``memoryLimit``, and records the numbers.
    static func expectBounded(
        _ memory: StreamingMemorySampler.Summary,
        transfer: String,
        elapsed: Duration,
        timing: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = String(format: "%.0f MiB/s", Double(gibibyte) / 1_048_576 / max(seconds, 0.001))
        let account = "\(transfer): curl done after \(String(format: "%.1f", seconds)) s (\(rate)), \(timing); "
            + "proxy memory: \(memory)"
        print("tokenproxy e2e: \(account)")
        #expect(memory.samples >= 1, "no memory sample was taken: \(account)", sourceLocation: sourceLocation)
        #expect(
            memory.maximumRSS < memoryLimit,
            "the proxy's RSS reached \(StreamingMemorySampler.Summary.mebibytes(memory.maximumRSS)): \(account)",
            sourceLocation: sourceLocation
        )
        #expect(
            (memory.peak ?? 0) < memoryLimit,
            "the proxy's peak RSS (VmHWM) reached \(StreamingMemorySampler.Summary.mebibytes(memory.peak)): \(account)",
            sourceLocation: sourceLocation
        )
    }

    /// `instant` as seconds after `start`, for messages.
    static func seconds(_ instant: ContinuousClock.Instant?, since start: ContinuousClock.Instant) -> String {
        guard let instant else { return "(never)" }
        let elapsed = instant - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return String(format: "%.1f s", seconds)
    }

    // MARK: Server-Sent Events

    /// The clients that read an event stream, each stamping every event's arrival by the wall clock.
    enum EventClient: String, Sendable, CaseIterable, CustomStringConvertible {
        /// `curl --no-buffer --http1.1`, its output read by a stamping reader.
        case curlHTTP1 = "curl-http1"
        /// `curl --no-buffer --http2`, likewise.
        case curlH2 = "curl-h2"
        /// Python `requests` with `stream=True`, reading lines as they come.
        case pythonRequests = "python-requests"

        var description: String { rawValue }
    }

    /// Runs the command in its arguments (curl) with its output piped to itself, and prints each `data:` line's
    /// JSON with the wall-clock arrival time in ms; exits with the command's status. Running the command from the
    /// reader means the reader is up before the first byte can arrive.
    static let stampingReader = """
        import json, subprocess, sys, time
        child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
        while True:
            line = child.stdout.readline()
            if not line:
                break
            if line.startswith(b"data:"):
                event = json.loads(line[5:])
                print(json.dumps({"arrived_ms": time.time() * 1000, "event": event}), flush=True)
        sys.exit(child.wait())
        """

    /// Python `requests` reading the event stream through the proxy, stamping lines the same way.
    static let requestsEventReader = """
        import json, sys, time
        import requests

        url, proxy, ca = sys.argv[1:4]
        response = requests.get(url, proxies={"https": proxy}, verify=ca, stream=True, timeout=20,
                                headers={"Accept": "text/event-stream"})
        print(json.dumps({"status": response.status_code}), flush=True)
        for line in response.iter_lines(chunk_size=1):
            if line.startswith(b"data:"):
                event = json.loads(line[5:])
                print(json.dumps({"arrived_ms": time.time() * 1000, "event": event}), flush=True)
        """

    /// One event as the client received it.
    struct ArrivedEvent: Sendable {
        let sequence: Int
        let sentMilliseconds: Double
        let arrivedMilliseconds: Double

        var latency: Double { arrivedMilliseconds - sentMilliseconds }
    }

    /// Every combination of event client and origin protocol.
    static let eventMatrix: [(EventClient, H2TestOrigin.Protocols)] = EventClient.allCases.flatMap { client in
        H2TestOrigin.Protocols.allCases.map { (client, $0) }
    }

    @Test("Server-Sent Events each arrive within 200 ms of being sent", arguments: eventMatrix)
    func serverSentEventsArriveAsSent(client: EventClient, origin protocols: H2TestOrigin.Protocols) async throws {
        try await ProxyFixture.run("sse-\(client)-\(protocols)") { fixture in
            try await ProtocolEndToEndTests.withOrigin(protocols, in: fixture) { origin in
                let count = 20
                let url = "https://localhost:\(origin.port)/events?count=\(count)&interval_ms=100"
                let run = try await Self.readEvents(from: url, with: client, clients: fixture.clients)

                #expect(run.exitCode == 0, fixture.explain(run))
                let events = Self.arrivedEvents(in: run.stdout)
                #expect(events.map(\.sequence) == Array(0..<count), "events received: \(events.map(\.sequence))")
                let latencies = events.map { Int($0.latency.rounded()) }
                let late = events.filter { $0.latency >= 200 }
                #expect(
                    late.isEmpty, "events arriving 200 ms or more after they were sent; latencies (ms): \(latencies)"
                )
                if let first = events.first, let last = events.last {
                    // The stream took about (count - 1) × 100 ms at the origin; arrival must be spread the same way.
                    let spread = last.arrivedMilliseconds - first.arrivedMilliseconds
                    #expect(
                        spread > 1_500, "events arrived within \(Int(spread)) ms of each other: they were held back"
                    )
                }
                print("tokenproxy e2e: SSE, \(protocols) to \(client): latencies (ms) \(latencies)")

                let requests = origin.requests
                try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
                fixture.checkEqual(requests[0].protocolName, protocols.expectedProtocol, "upstream protocol")
                fixture.expectInjected(requests[0].recorded)
            }
        }
    }

    /// Runs `client` against the event stream at `url` through the proxy.
    static func readEvents(from url: String, with client: EventClient, clients: Clients) async throws -> Clients.Run {
        switch client {
        case .curlHTTP1, .curlH2:
            return try await clients.run(
                "python3",
                [
                    "-u", "-c", Self.stampingReader,
                    "curl", "--no-buffer", "--silent", "--show-error", "--max-time", "20",
                    "--proxy", clients.proxyAddress, "--cacert", clients.caBundle,
                    client == .curlH2 ? "--http2" : "--http1.1", url,
                ]
            )
        case .pythonRequests:
            return try await clients.run(
                "python3", ["-u", "-c", Self.requestsEventReader, url, clients.proxyAddress, clients.caBundle]
            )
        }
    }

    /// Parses the stamping readers' output lines.
    static func arrivedEvents(in output: String) -> [ArrivedEvent] {
        output.split(separator: "\n").compactMap { line in
            guard
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let arrived = (object["arrived_ms"] as? NSNumber)?.doubleValue,
                let event = object["event"] as? [String: Any],
                let sequence = (event["seq"] as? NSNumber)?.intValue,
                let sent = (event["sent_ms"] as? NSNumber)?.doubleValue
            else { return nil }
            return ArrivedEvent(sequence: sequence, sentMilliseconds: sent, arrivedMilliseconds: arrived)
        }
    }
}
