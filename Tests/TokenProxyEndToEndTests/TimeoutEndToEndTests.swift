import Foundation
import Testing

/// End-to-end tests of the proxy's timers against origins that stall: each stall ends with the proxy's answer, well
/// before the client's own limit, and a slow but working upload is not mistaken for a stall.
@Suite("timeouts end to end", .serialized, .timeLimit(.minutes(2)))
struct TimeoutEndToEndTests {
    /// Short timers, so that each test waits seconds rather than the defaults' minutes.
    static let configuration = ProxyConfiguration(topLevelYAML: "timeouts: { tls_handshake: 2s, first_byte: 2s, idle: 3s }")

    /// Runs `body` with a stalling origin of `mode` behind a proxy using the short timers.
    private func withStallingOrigin(
        _ mode: StallingOrigin.Mode,
        _ body: (ProxyFixture, StallingOrigin) async throws -> Void
    ) async throws {
        try await ProxyFixture.run("timeout-\(mode.rawValue)", configuration: Self.configuration) { fixture in
            let origin = try await StallingOrigin.start(
                mode, identity: fixture.certificates.origin(.valid), in: fixture.directory
            )
            let outcome = await Result.catching { try await body(fixture, origin) }
            await origin.shutdown()
            try outcome.get()
        }
    }

    @Test("an origin that never completes the TLS handshake gets 504 after tls_handshake")
    func handshakeTimeout() async throws {
        try await withStallingOrigin(.silentTCP) { fixture, origin in
            let started = ContinuousClock.now
            let result = try await fixture.clients.measuredCurl(
                "https://localhost:\(origin.port)/", protocol: .http1, maxTime: 20
            )
            let elapsed = ContinuousClock.now - started
            let transfer = try #require(result.transfers.first, fixture.explain(result.run))
            #expect(transfer.httpCode == 504, fixture.explain(result.run))
            fixture.check(result.body.contains("TLS handshake"), "the 504 says what timed out: \(result.body)")
            #expect(elapsed < .seconds(15), "the proxy answered after \(elapsed), not within its 2 s handshake timer")
            let records = await fixture.auditRecords { $0.contains { $0.status == 504 } }
            #expect(records.contains { $0.status == 504 }, "no audit record of the 504")
        }
    }

    @Test("an origin that never answers gets 504 after first_byte", arguments: ClientProtocol.allCases)
    func firstByteTimeout(client: ClientProtocol) async throws {
        try await withStallingOrigin(.neverAnswers) { fixture, origin in
            let started = ContinuousClock.now
            let result = try await fixture.clients.measuredCurl(
                "https://localhost:\(origin.port)/slow", protocol: client, maxTime: 20
            )
            let elapsed = ContinuousClock.now - started
            let transfer = try #require(result.transfers.first, fixture.explain(result.run))
            #expect(transfer.httpCode == 504, fixture.explain(result.run))
            fixture.check(
                result.body.contains("sent no response within 2 s"), "the 504 names the timer: \(result.body)"
            )
            #expect(origin.requestsRead == 1, "the origin read \(origin.requestsRead) requests, expected 1")
            #expect(elapsed < .seconds(15), "the proxy answered after \(elapsed), not after its 2 s first-byte timer")
        }
    }

    @Test(
        "an upload slower than first_byte still succeeds: the timer runs from the last byte sent",
        arguments: ClientProtocol.allCases
    )
    func slowUploadIsNotATimeout(client: ClientProtocol) async throws {
        // curl's rate limit sends in bursts with pauses of seconds, so the idle timer must be longer than those.
        let configuration = ProxyConfiguration(topLevelYAML: "timeouts: { first_byte: 2s, idle: 30s }")
        try await ProxyFixture.run("timeout-slow-upload-\(client)", configuration: configuration) { fixture in
            try await ProtocolEndToEndTests.withOrigin(.h2AndHTTP1, in: fixture) { origin in
                // 96 KiB at 16 KiB/s: about six seconds of sending, three times the first-byte timer.
                let bytes = 96 * 1024
                let result = try await fixture.clients.measuredCurl(
                    "https://localhost:\(origin.port)/upload",
                    protocol: client,
                    arguments: ["--upload-file", "-", "--limit-rate", "16k", "--header", "Expect:"],
                    maxTime: 40,
                    feed: "head -c \(bytes) /dev/zero"
                )
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(transfer.httpCode == 200, fixture.explain(result.run))
                #expect(transfer.timeTotal > 4, "the upload took \(transfer.timeTotal) s, too fast to test the timer")
                fixture.check(result.body.contains("received \(bytes) bytes"), "origin answered: \(result.body)")
            }
        }
    }

    @Test("a silent blind tunnel is closed after idle")
    func idleTunnelIsClosed() async throws {
        try await withStallingOrigin(.silentTCP) { fixture, origin in
            // 127.0.0.1 has no rule (the rule is for localhost), so this CONNECT is a blind tunnel.
            let script = """
                import socket, sys, time
                proxy = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
                proxy.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.1\\r\\nHost: 127.0.0.1:%s\\r\\n\\r\\n" % (sys.argv[2].encode(), sys.argv[2].encode()))
                reply = b""
                while b"\\r\\n\\r\\n" not in reply:
                    reply += proxy.recv(4096)
                print("connect", reply.split(b"\\r\\n", 1)[0].decode())
                started = time.monotonic()
                try:
                    rest = proxy.recv(4096)
                    print("closed" if rest == b"" else "data", "after %.1f" % (time.monotonic() - started))
                except socket.timeout:
                    print("still open after 20 s")
                """
            let run = try await fixture.clients.run(
                "python3", ["-c", script, String(fixture.proxy.port), String(origin.port)], timeout: .seconds(30)
            )
            #expect(run.stdout.contains("connect HTTP/1.1 200"), fixture.explain(run))
            let match = run.stdout.firstMatch(of: #/closed after ([0-9.]+)/#)
            let seconds = match.flatMap { Double($0.1) }
            #expect(seconds != nil, "the tunnel was not closed by the proxy: \(run.stdout)")
            if let seconds {
                #expect(seconds >= 2.5 && seconds < 15, "closed after \(seconds) s; idle is 3 s")
            }
        }
    }
}
