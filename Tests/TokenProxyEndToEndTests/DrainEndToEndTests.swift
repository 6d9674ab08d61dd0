import Foundation
import Testing

/// End-to-end tests of what clients are told when the proxy drains on SIGTERM: an HTTP/2 client gets GOAWAY while
/// its stream finishes, and an HTTP/1.1 response that starts during the drain says `Connection: close`.
@Suite("graceful shutdown end to end", .serialized, .timeLimit(.minutes(2)))
struct DrainEndToEndTests {
    @Test("on SIGTERM an HTTP/2 client gets GOAWAY (NO_ERROR) while its stream goes on to the end")
    func http2ClientGetsGoAway() async throws {
        try await ProxyFixture.run("drain-h2") { fixture in
            try await ProtocolEndToEndTests.withOrigin(.h2AndHTTP1, in: fixture) { origin in
                // An event stream of 20 events 100 ms apart. Python's h2 reports the frames curl keeps to itself;
                // the client sends SIGTERM to the proxy itself when the first event arrives, so the signal lands
                // with the stream in flight.
                let run = try await fixture.clients.run(
                    "python3",
                    [
                        "-c", Self.http2Client, String(fixture.proxy.port), String(origin.port), fixture.clients.caBundle,
                        "/events?count=20&interval_ms=100", String(fixture.proxy.pid),
                    ],
                    timeout: .seconds(40)
                )
                #expect(run.exitCode == 0, fixture.explain(run))
                let lines = run.stdout.split(separator: "\n").map(String.init)
                let goAway = lines.firstIndex { $0.hasPrefix("goaway error=0 last=2147483647") }
                let complete = lines.firstIndex { $0.hasPrefix("complete events=20") }
                #expect(goAway != nil, "no GOAWAY with NO_ERROR: \(run.stdout)")
                #expect(complete != nil, "the stream did not deliver all 20 events: \(run.stdout)")
                if let goAway, let complete {
                    #expect(goAway < complete, "the GOAWAY came only after the stream ended: \(run.stdout)")
                }
                #expect(lines.last?.hasPrefix("closed") == true, "the proxy did not close the connection: \(run.stdout)")
                let status = await fixture.proxy.waitForExit(timeout: .seconds(10))
                #expect(status == 0, "the proxy exited with \(status.map(String.init) ?? "nothing: still running")")
            }
        }
    }

    /// `python3 -c script PROXY_PORT ORIGIN_PORT CA_BUNDLE PATH PROXY_PID`: one HTTP/2 GET through the proxy, printing
    /// `goaway error=N last=N`, `complete events=N` and `closed` as each happens.
    private static let http2Client = #"""
        import os, signal, socket, ssl, sys, time
        import h2.config, h2.connection, h2.events, h2.settings
        proxy_port, origin_port, bundle, path, proxy_pid = sys.argv[1:6]
        authority = "localhost:%s" % origin_port
        raw = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=30)
        raw.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority)).encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += raw.recv(1)
        assert b" 200 " in reply.split(b"\r\n")[0], reply
        context = ssl.create_default_context(cafile=bundle)
        context.set_alpn_protocols(["h2"])
        tls = context.wrap_socket(raw, server_hostname="localhost")
        assert tls.selected_alpn_protocol() == "h2", tls.selected_alpn_protocol()
        connection = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        connection.initiate_connection()
        # Windows larger than the response, so that nothing needs acknowledging after the GOAWAY (h2 sends no
        # WINDOW_UPDATE once it has seen one).
        connection.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24})
        connection.increment_flow_control_window(1 << 24)
        connection.send_headers(1, [(":method", "GET"), (":scheme", "https"), (":authority", authority),
                                    (":path", path)], end_stream=True)
        tls.sendall(connection.data_to_send())
        received, signalled, done, goaway = b"", False, False, False
        started = time.monotonic()
        while True:  # until the proxy closes the connection (a timeout fails the test)
            data = tls.recv(65536)
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    received += event.data
                    if not signalled:
                        os.kill(int(proxy_pid), signal.SIGTERM)
                        signalled = True
                elif isinstance(event, h2.events.ConnectionTerminated):
                    print("goaway error=%d last=%d after %.1f s" % (event.error_code, event.last_stream_id,
                                                                   time.monotonic() - started), flush=True)
                    goaway = True
                    # h2 closes the whole connection on any GOAWAY, but RFC 9113 section 6.8 lets streams up to
                    # last_stream_id finish: keep reading ours.
                    connection.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
                elif isinstance(event, h2.events.StreamEnded):
                    done = True
                    print("complete events=%d after %.1f s" % (received.count(b"id: "), time.monotonic() - started),
                          flush=True)
            pending = connection.data_to_send()
            if pending:
                tls.sendall(pending)
        print("closed after %.1f s" % (time.monotonic() - started), flush=True)
        """#

    @Test("on SIGTERM an HTTP/1.1 response that starts during the drain says Connection: close")
    func http1ResponseSaysClose() async throws {
        try await ProxyFixture.run("drain-h1") { fixture in
            let origin = try await StallingOrigin.start(
                .slowHead, identity: fixture.certificates.origin(.valid), in: fixture.directory
            )
            let clients = fixture.clients
            let port = origin.port
            async let answer = clients.measuredCurl("https://localhost:\(port)/slow", protocol: .http1, maxTime: 20)
            for _ in 0..<100 where origin.requestsRead == 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            fixture.signalProxy(SIGTERM)
            let result = try await answer
            await origin.shutdown()
            let transfer = try #require(result.transfers.first, fixture.explain(result.run))
            #expect(transfer.httpCode == 200, fixture.explain(result.run))
            fixture.check(
                result.headerDump.lowercased().contains("connection: close"),
                "the response during the drain did not close the connection: \(result.headerDump)"
            )
            let status = await fixture.proxy.waitForExit(timeout: .seconds(10))
            #expect(status == 0, "the proxy exited with \(status.map(String.init) ?? "nothing: still running")")
        }
    }
}
