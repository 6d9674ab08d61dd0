import Foundation
import Testing

/// Checks of the protocol tests' own origins and clients, without the proxy: each origin does what the protocol
/// tests assume, seen by clients written elsewhere (`nghttp`, `curl`, Python `websockets`).
///
/// When these fail, the protocol end-to-end failures next to them say nothing about the proxy.
///
/// `nghttp` appears only here: it has no option to go through an HTTP proxy (no CONNECT support), so it serves as
/// an independent HTTP/2 peer of ``H2TestOrigin`` while curl and Python are the clients through the proxy.
@Suite("protocol harness", .serialized, .timeLimit(.minutes(1)))
struct ProtocolHarnessTests {
    /// A directory, certificates and a runner for clients that talk to origins directly.
    struct Setup {
        let directory: TestDirectory
        let certificates: TestCertificates
        let runner: Clients

        init(_ label: String) throws {
            directory = try TestDirectory(label: label)
            certificates = try TestCertificates(in: directory)
            runner = Clients(proxyPort: 0, caBundle: certificates.authorityPath, directory: directory)
        }
    }

    @Test("nghttp, as an HTTP/2 client, gets an answer with trailers, and the origin records the pseudo-headers")
    func h2OriginAnswersNghttp() async throws {
        let setup = try Setup("harness-h2-nghttp")
        defer { setup.directory.remove() }
        let origin = try await H2TestOrigin.start(identity: setup.certificates.origin(.valid), protocols: .h2AndHTTP1)
        let run = try await setup.runner.run(
            "nghttp", ["-v", "--header", "X-Probe: 1", "https://localhost:\(origin.port)/probe?trailers=1"]
        )
        await origin.shutdown()
        #expect(run.exitCode == 0, "nghttp: \(run.stderr.suffix(1000))")
        #expect(run.stdout.contains("\(TestOrigin.greeting)\nreceived 0 bytes\nprotocol h2"))
        for (name, value) in H2TestOrigin.trailers {
            #expect(run.stdout.contains("\(name): \(value)"), "nghttp did not print the trailer \(name)")
        }
        let requests = origin.requests
        try #require(requests.count == 1)
        #expect(requests[0].protocolName == "h2")
        #expect(requests[0].authority == "localhost:\(origin.port)")
        #expect(requests[0].recorded.uri == "/probe?trailers=1")
        #expect(requests[0].recorded.values(of: ":scheme") == ["https"])
        #expect(requests[0].recorded.values(of: "x-probe") == ["1"])
    }

    @Test(
        "curl sees the origin's trailers in its header dump, over HTTP/2 and HTTP/1.1",
        arguments: [(ClientProtocol.h2, H2TestOrigin.Protocols.h2AndHTTP1), (.http1, .h2AndHTTP1), (.h2, .http1Only)]
    )
    func curlSeesTrailers(client: ClientProtocol, origin protocols: H2TestOrigin.Protocols) async throws {
        let setup = try Setup("harness-h2-curl")
        defer { setup.directory.remove() }
        let origin = try await H2TestOrigin.start(identity: setup.certificates.origin(.valid), protocols: protocols)
        let dump = setup.directory.file("headers.txt")
        let run = try await setup.runner.run(
            "curl",
            [
                "--silent", "--show-error", client.curlOption, "--cacert", setup.certificates.authorityPath,
                "--dump-header", dump, "--write-out", "##%{http_version}##",
                "https://localhost:\(origin.port)/probe?trailers=1",
            ]
        )
        await origin.shutdown()
        let headers = (try? String(contentsOfFile: dump, encoding: .utf8)) ?? ""
        #expect(run.exitCode == 0, "curl: \(run.stderr.suffix(1000))")
        let expected = client == .h2 && protocols == .h2AndHTTP1 ? "h2" : "http/1.1"
        #expect(run.stdout.contains("protocol \(expected)"))
        for (name, value) in H2TestOrigin.trailers {
            #expect(headers.contains("\(name): \(value)"), "curl's dump lacks the trailer \(name):\n\(headers)")
        }
        if expected == "http/1.1" {
            #expect(headers.lowercased().contains("x-origin-hop: nominated"), "the HTTP/1.1 hop headers are sent")
        }
    }

    @Test("the origins answer Expect: 100-continue with a 100 at once", arguments: H2TestOrigin.Protocols.allCases)
    func originsSendContinue(protocols: H2TestOrigin.Protocols) async throws {
        let setup = try Setup("harness-continue")
        defer { setup.directory.remove() }
        let origin = try await H2TestOrigin.start(identity: setup.certificates.origin(.valid), protocols: protocols)
        let payload = try setup.directory.write(Data(repeating: 0x5a, count: 100_000), to: "payload.bin")
        let run = try await setup.runner.run(
            "curl",
            [
                "--silent", "--show-error", "--cacert", setup.certificates.authorityPath,
                "--header", "Expect: 100-continue", "--expect100-timeout", "5", "--data-binary", "@\(payload)",
                "--write-out", "##%{time_total}##", "https://localhost:\(origin.port)/continue",
            ]
        )
        await origin.shutdown()
        #expect(run.exitCode == 0, "curl: \(run.stderr.suffix(1000))")
        #expect(run.stdout.contains("received 100000 bytes"))
        let time = run.stdout.firstMatch(of: #/##([0-9.]+)##/#).flatMap { Double($0.1) } ?? 99
        // Without a 100, curl waits out its 5 s expect timeout; well under that holds on a loaded machine too.
        #expect(time < 2.5, "curl took \(time) s: the origin sent no 100")
    }

    @Test("the origins write a large download and space their events", arguments: ClientProtocol.allCases)
    func originsStream(client: ClientProtocol) async throws {
        let setup = try Setup("harness-streaming")
        defer { setup.directory.remove() }
        // Offering h2: curl decides the version on its own side.
        let origin = try await H2TestOrigin.start(identity: setup.certificates.origin(.valid), protocols: .h2AndHTTP1)
        let size = 64 * 1_048_576 + 3
        let download = try await setup.runner.run(
            "curl",
            [
                "--silent", "--show-error", client.curlOption, "--cacert", setup.certificates.authorityPath,
                "--output", "/dev/null",
                "--write-out", "##%{size_download}##", "https://localhost:\(origin.port)/download?bytes=\(size)",
            ]
        )
        #expect(download.exitCode == 0, "curl: \(download.stderr.suffix(1000))")
        #expect(download.stdout.contains("##\(size)##"), "curl: \(download.stdout.suffix(200))")
        // A reader slower than the origin gets all of it too: the origin waits for writability (or the window).
        let slow = try await setup.runner.run(
            "curl",
            [
                "--silent", "--show-error", client.curlOption, "--cacert", setup.certificates.authorityPath,
                "--output", "/dev/null", "--limit-rate", "16M",
                "--write-out", "##%{size_download}##", "https://localhost:\(origin.port)/download?bytes=\(size / 4)",
            ]
        )
        #expect(slow.exitCode == 0, "curl: \(slow.stderr.suffix(1000))")
        #expect(slow.stdout.contains("##\(size / 4)##"), "curl: \(slow.stdout.suffix(200))")

        let events = try await setup.runner.run(
            "python3",
            [
                "-u", "-c", StreamingEndToEndTests.stampingReader,
                "curl", "--no-buffer", "--silent", "--show-error", client.curlOption,
                "--cacert", setup.certificates.authorityPath,
                "https://localhost:\(origin.port)/events?count=10&interval_ms=100",
            ]
        )
        await origin.shutdown()
        #expect(events.exitCode == 0, "curl: \(events.stderr.suffix(1000))")
        let arrived = StreamingEndToEndTests.arrivedEvents(in: events.stdout)
        #expect(arrived.map(\.sequence) == Array(0..<10))
        let latencies = arrived.map(\.latency)
        #expect(latencies.allSatisfy { $0 < 50 }, "direct latencies (ms): \(latencies)")
    }

    @Test("the WebSocket origins echo, and refuse with 403, for the websockets client")
    func webSocketOriginsWork() async throws {
        let setup = try Setup("harness-websocket")
        defer { setup.directory.remove() }
        let echo = try await WebSocketTestOrigin.start(
            .echo, identity: setup.certificates.origin(.valid), in: setup.directory
        )
        let echoRun = try await setup.runner.run(
            "python3",
            ["-c", WebSocketEndToEndTests.client, "wss://localhost:\(echo.port)/echo", "-",
                setup.certificates.authorityPath] + WebSocketEndToEndTests.messageArguments
        )
        let records = await echo.records { $0.filter { $0.event == "message" }.count >= 5 }
        await echo.stop()
        let echoOutput = WebSocketEndToEndTests.output(of: echoRun)
        #expect(echoRun.exitCode == 0, "\(echoRun.stderr.suffix(1000))")
        #expect((echoOutput["status"] as? Int) == 101, "\(echoOutput)")
        #expect((echoOutput["replies"] as? [String]) == WebSocketEndToEndTests.messages)
        let handshake = try #require(records.first { $0.event == "handshake" })
        #expect(handshake.values(of: "Authorization").first?.hasPrefix("sha256:") == true)

        let reject = try await WebSocketTestOrigin.start(
            .reject, identity: setup.certificates.origin(.valid), in: setup.directory
        )
        let rejectRun = try await setup.runner.run(
            "python3",
            ["-c", WebSocketEndToEndTests.client, "wss://localhost:\(reject.port)/x", "-",
                setup.certificates.authorityPath, "hello"]
        )
        await reject.stop()
        let rejectOutput = WebSocketEndToEndTests.output(of: rejectRun)
        #expect((rejectOutput["status"] as? Int) == 403, "\(rejectOutput)")
        #expect((rejectOutput["body"] as? String) == "refused by origin\n")
    }
}
