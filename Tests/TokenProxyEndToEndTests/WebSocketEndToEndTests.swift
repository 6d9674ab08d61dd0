import Foundation
import Testing

/// End-to-end tests of WebSocket over HTTP/1.1 through the proxy, with Python's `websockets` on both ends.
///
/// The handshake is an ordinary request for the rules: the credential is injected into it. Once the origin
/// answers `101 Switching Protocols`, the connection is a byte tunnel both ways; if it answers anything else, the
/// client gets that answer and no tunnel is opened.
@Suite("WebSocket end to end", .serialized, .timeLimit(.minutes(1)))
struct WebSocketEndToEndTests {
    /// Messages the client sends and expects back: short, with non-ASCII text, and one large enough to span many
    /// TLS records and socket reads.
    static let messages = ["hello", "second message", "ünïcødé ✓", String(repeating: "0123456789", count: 30_000)]
    /// ``messages`` as the client script takes them: `@big:N` stands for `0123456789` N times, which would be too
    /// long for one command-line argument.
    static let messageArguments = ["hello", "second message", "ünïcødé ✓", "@big:30000"]

    /// The `websockets` sync client through the proxy: `python3 -c … URI PROXY CAFILE MESSAGE…` (`PROXY` `-`:
    /// none, straight to the origin).
    ///
    /// Prints one JSON object: the handshake's status and, per message, the reply; or how it failed (the status
    /// and body of a refused handshake, or an exception).
    static let client = #"""
        import json, ssl, sys
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect

        uri, proxy, cafile = sys.argv[1:4]
        proxy = None if proxy == "-" else proxy
        messages = [("0123456789" * int(m[5:])) if m.startswith("@big:") else m for m in sys.argv[4:]]
        context = ssl.create_default_context(cafile=cafile)
        out = {}
        try:
            with connect(uri, proxy=proxy, ssl=context, open_timeout=20, close_timeout=5, compression=None,
                         additional_headers={"Authorization": "Bearer client-value"}) as websocket:
                out["status"] = websocket.response.status_code
                replies = []
                for message in messages:
                    websocket.send(message)
                    replies.append(websocket.recv(timeout=10))
                websocket.send(b"\x00\x01\xfe\xff")
                out["binary"] = websocket.recv(timeout=10).hex()
                out["replies"] = replies
        except InvalidStatus as error:
            out["status"] = error.response.status_code
            out["body"] = (error.response.body or b"").decode("utf-8", "replace")
        except Exception as error:
            out["error"] = "%s: %s" % (type(error).__name__, error)
        print(json.dumps(out))
        """#

    /// A raw client: CONNECT through the proxy, TLS, a WebSocket handshake, the response read by its
    /// `Content-Length`, then one masked text frame as a client inside a tunnel would send, and whatever comes back
    /// within 3 s. `python3 -c … PROXY_PORT HOST PORT CAFILE PATH`.
    static let rawClient = #"""
        import base64, json, os, socket, ssl, sys

        proxy_port, host, port, cafile, path = sys.argv[1:6]
        out = {}
        sock = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=10)
        sock.sendall(("CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n" % (host, port, host, port)).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        out["connect"] = data.split(b"\r\n", 1)[0].decode("latin-1")
        context = ssl.create_default_context(cafile=cafile)
        context.set_alpn_protocols(["http/1.1"])
        tls = context.wrap_socket(sock, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode()
        tls.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Bearer client-value\r\n\r\n" % (path, host, port, key)).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        out["status_line"] = lines[0]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = tls.recv(65536)
            if not chunk:
                break
            rest += chunk
        out["body"] = rest[:length].decode("utf-8", "replace")
        after = rest[length:]
        payload = b"tunnelled?"
        mask = os.urandom(4)
        frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            tls.sendall(frame)
            tls.settimeout(3)
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    out["after_end"] = "eof"
                    break
                after += chunk
        except socket.timeout:
            out["after_end"] = "timeout"
        except (OSError, ssl.SSLError) as error:
            out["after_end"] = "error: %s" % type(error).__name__
        out["after"] = after[:300].decode("latin-1")
        print(json.dumps(out))
        """#

    /// Starts a ``WebSocketTestOrigin``, runs `body`, and stops the origin either way.
    static func withOrigin(
        _ mode: WebSocketTestOrigin.Mode,
        in fixture: ProxyFixture,
        _ body: (WebSocketTestOrigin) async throws -> Void
    ) async throws {
        let origin = try await WebSocketTestOrigin.start(
            mode, identity: fixture.certificates.origin(.valid), in: fixture.directory
        )
        let outcome = await Result.catching { try await body(origin) }
        await origin.stop()
        try outcome.get()
    }

    /// Parses the JSON object a client script printed last.
    static func output(of run: Clients.Run) -> [String: Any] {
        guard let line = run.stdout.split(separator: "\n").last,
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { return [:] }
        return object
    }

    @Test("messages echo through a WebSocket opened by a handshake that got the credential")
    func webSocketEchoesThroughTunnel() async throws {
        try await ProxyFixture.run("websocket-echo") { fixture in
            try await Self.withOrigin(.echo, in: fixture) { origin in
                let run = try await fixture.clients.run(
                    "python3",
                    ["-c", Self.client, "wss://localhost:\(origin.port)/echo?room=1", fixture.clients.proxyAddress,
                        fixture.clients.caBundle] + Self.messageArguments
                )
                let output = Self.output(of: run)
                #expect(run.exitCode == 0, fixture.explain(run))
                fixture.check(
                    output["error"] == nil,
                    "the WebSocket client failed: \(output["error"] ?? ""); status \(output["status"] ?? "-"), "
                        + "body: \(output["body"] ?? "-")"
                )
                #expect((output["status"] as? Int) == 101, "handshake status: \(output["status"] ?? "none")")
                let replies = output["replies"] as? [String] ?? []
                fixture.check(
                    replies == Self.messages,
                    "replies (\(replies.map(\.count)) chars) differ from the messages (\(Self.messages.map(\.count)))"
                )
                fixture.checkEqual(output["binary"] as? String, "0001feff", "the binary message's echo")

                let records = await origin.records { records in
                    records.filter { $0.event == "message" }.count >= Self.messages.count + 1
                }
                let handshakes = records.filter { $0.event == "handshake" }
                try #require(handshakes.count == 1, "the origin saw \(handshakes.count) handshakes: \(records)")
                let handshake = handshakes[0]
                fixture.checkEqual(handshake.path, "/echo?room=1", "handshake target")
                fixture.check(
                    WebSocketTestOrigin.isInjected(handshake, fixture: fixture),
                    "the handshake did not carry exactly one 'Authorization: Bearer <credential>' "
                        + "(\(handshake.values(of: "Authorization").count) value(s))"
                )
                fixture.checkEqual(handshake.values(of: "Upgrade").map { $0.lowercased() }, ["websocket"], "Upgrade")
                let connection = handshake.values(of: "Connection").joined(separator: ",").lowercased()
                fixture.check(connection.contains("upgrade"), "Connection at the origin: '\(connection)'")
                #expect(handshake.values(of: "Sec-WebSocket-Key").count == 1)
                #expect(handshake.values(of: "Proxy-Authorization").isEmpty)

                // The frames were tunnelled untouched: what the origin received is what the client sent.
                let received = records.filter { $0.event == "message" }.compactMap(\.data)
                fixture.check(
                    received == Self.messages + ["hex:0001feff"],
                    "the origin received other messages: \(received.map(\.count)) chars"
                )

                let record = try await fixture.auditRecord("'injected'") { $0.decision == "injected" }
                fixture.checkEqual(record.method, "GET", "audit method")
                fixture.checkEqual(record.path, "/echo", "audit path")
                fixture.checkEqual(record.status, 101, "audit status")
            }
        }
    }

    @Test("a handshake the origin refuses gets the origin's answer, and no tunnel is opened")
    func refusedHandshakeOpensNoTunnel() async throws {
        try await ProxyFixture.run("websocket-refused") { fixture in
            try await Self.withOrigin(.reject, in: fixture) { origin in
                let library = try await fixture.clients.run(
                    "python3",
                    ["-c", Self.client, "wss://localhost:\(origin.port)/refused", fixture.clients.proxyAddress,
                        fixture.clients.caBundle, "hello"]
                )
                let libraryOutput = Self.output(of: library)
                #expect(library.exitCode == 0, fixture.explain(library))
                #expect((libraryOutput["status"] as? Int) == 403, "status: \(libraryOutput["status"] ?? "none")")
                fixture.checkEqual(libraryOutput["body"] as? String, "refused by origin\n", "body of the refusal")
                #expect(libraryOutput["replies"] == nil, "the client exchanged messages over a refused handshake")

                let raw = try await fixture.clients.run(
                    "python3",
                    ["-c", Self.rawClient, String(fixture.clients.proxyPort), "localhost", String(origin.port),
                        fixture.clients.caBundle, "/raw-refused"]
                )
                let rawOutput = Self.output(of: raw)
                #expect(raw.exitCode == 0, fixture.explain(raw))
                let statusLine = rawOutput["status_line"] as? String ?? ""
                fixture.check(statusLine.hasPrefix("HTTP/1.1 403"), "status line: '\(statusLine)'")
                fixture.checkEqual(rawOutput["body"] as? String, "refused by origin\n", "body of the refusal")
                // After a refusal the proxy may answer the frame as a (malformed) request or close; it must not
                // carry it to the origin, and no frame may come back.
                let after = rawOutput["after"] as? String ?? ""
                let afterIsFrame = after.unicodeScalars.first.map { $0.value & 0x80 != 0 } ?? false
                fixture.check(
                    !afterIsFrame,
                    "the client got WebSocket frame bytes after a refused handshake "
                        + "(end: \(rawOutput["after_end"] ?? "-"))"
                )

                // The raw client waited 3 s after its frame, so bytes a tunnel carried would be recorded by now.
                let records = await origin.records { records in
                    records.filter { $0.event == "responded" }.count >= 2
                }
                let handshakes = records.filter { $0.event == "handshake" }
                #expect(handshakes.count == 2, "the origin saw \(handshakes.count) handshakes: \(records)")
                for handshake in handshakes {
                    fixture.check(
                        WebSocketTestOrigin.isInjected(handshake, fixture: fixture),
                        "handshake for \(handshake.path ?? "-") without exactly one injected Authorization"
                    )
                }
                let tunnelled = records.filter { $0.event == "after" }.compactMap(\.bytes).reduce(0, +)
                #expect(tunnelled == 0, "\(tunnelled) bytes reached the origin after its 403: a tunnel was opened")
                let statuses = await fixture.auditRecords { records in records.filter { $0.status == 403 }.count >= 2 }
                    .compactMap(\.status)
                #expect(statuses.filter { $0 == 403 }.count == 2, "audit statuses: \(statuses)")
            }
        }
    }
}
