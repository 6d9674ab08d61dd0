import Crypto
import Foundation

/// A WebSocket origin over TLS on 127.0.0.1, run as a Python process: written by others (the `websockets`
/// library), so it catches what the proxy and a server written here could agree on wrongly.
///
/// Two modes:
/// - ``Mode/echo``: a `websockets` server that answers the handshake with `101` and echoes every message.
/// - ``Mode/reject``: a raw TLS server that answers any request with `403` and a `Content-Length` body, keeps the
///   connection open, and records every byte that arrives after its answer. A proxy that opened a tunnel anyway
///   would deliver the client's next bytes here.
///
/// What it saw goes to a JSON-lines file in the test directory, so the canary check covers it: handshake headers
/// (with `Authorization` values replaced by their SHA-256, which ``isInjected(_:fixture:)`` compares without ever
/// handling the value), echoed messages, and bytes after a refusal.
final class WebSocketTestOrigin {
    /// What the origin does with a handshake.
    enum Mode: String, Sendable {
        case echo
        case reject
    }

    /// One line of the origin's record.
    struct Record: Sendable, CustomStringConvertible {
        /// `handshake`, `message`, `responded`, `after` or `closed`.
        let event: String
        /// The request target of the connection.
        let path: String?
        /// Handshake headers in order (`Authorization` values as `sha256:<hex>`).
        let headers: [(name: String, value: String)]
        /// A received message (text, or hex for binary).
        let data: String?
        /// For `after`: how many bytes arrived after the refusal.
        let bytes: Int?

        /// All values of the header `name` (case-insensitive), in order.
        func values(of name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        var description: String {
            "\(event) \(path ?? "-") [headers: \(headers.map(\.name).joined(separator: ", "))] "
                + "data: \(data?.count ?? 0) chars, bytes: \(bytes.map(String.init) ?? "-")"
        }
    }

    /// The port the origin listens on (on 127.0.0.1).
    let port: Int
    /// How it answers.
    let mode: Mode

    private let child: ChildProcess
    private let recordPath: String

    private init(port: Int, mode: Mode, child: ChildProcess, recordPath: String) {
        self.port = port
        self.mode = mode
        self.child = child
        self.recordPath = recordPath
    }

    /// Starts the origin with the valid origin certificate of the test, returning once it listens.
    static func start(
        _ mode: Mode,
        identity: TestCertificates.Identity,
        in directory: TestDirectory,
        timeout: Duration = .seconds(15)
    ) async throws -> WebSocketTestOrigin {
        guard let python = ChildProcess.which("python3") else { throw Clients.ClientError.notInstalled("python3") }
        let stem = "websocket-origin-\(mode.rawValue)-\(UUID().uuidString.prefix(8).lowercased())"
        let recordPath = directory.file("\(stem).jsonl")
        let child = try ChildProcess(
            executable: python,
            arguments: [
                "-u", "-c", script, mode.rawValue, identity.certificatePath, identity.privateKeyPath, recordPath,
            ],
            environment: ChildProcess.cleanEnvironment(),
            stdoutPath: directory.file("\(stem).stdout"),
            stderrPath: directory.file("\(stem).stderr")
        )
        guard let port = await child.awaitListeningPort(timeout: timeout) else {
            await child.stop(grace: .seconds(1))
            let stderr = (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
            throw OriginError.didNotStart(mode: mode, stderr: String(stderr.suffix(2000)))
        }
        return WebSocketTestOrigin(port: port, mode: mode, child: child, recordPath: recordPath)
    }

    /// Everything recorded so far.
    var records: [Record] {
        guard let text = try? String(contentsOfFile: recordPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let event = object["event"] as? String
            else { return nil }
            let headers = (object["headers"] as? [[String]] ?? []).compactMap { pair in
                pair.count == 2 ? (name: pair[0], value: pair[1]) : nil
            }
            return Record(
                event: event,
                path: object["path"] as? String,
                headers: headers,
                data: object["data"] as? String,
                bytes: (object["bytes"] as? NSNumber)?.intValue
            )
        }
    }

    /// Polls the record (up to `timeout`) until `isSatisfied` holds, and returns it as last read.
    func records(
        timeout: Duration = .seconds(5),
        until isSatisfied: ([Record]) -> Bool
    ) async -> [Record] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let current = records
            if isSatisfied(current) || ContinuousClock.now >= deadline { return current }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Whether `record` (a handshake) carries exactly one `Authorization` value and it is `Bearer <canary>`.
    static func isInjected(_ record: Record, fixture: ProxyFixture) -> Bool {
        let values = record.values(of: "Authorization")
        guard values.count == 1 else { return false }
        return fixture.isDerived(values[0]) { canary in
            "sha256:" + SHA256.hash(data: Data("Bearer \(canary)".utf8)).map { String(format: "%02x", $0) }.joined()
        }
    }

    /// Stops the Python process.
    func stop() async {
        await child.stop(grace: .seconds(2))
    }

    /// Why the origin could not be started.
    enum OriginError: Error, CustomStringConvertible {
        case didNotStart(mode: Mode, stderr: String)

        var description: String {
            switch self {
            case .didNotStart(let mode, let stderr):
                "the Python WebSocket origin (\(mode.rawValue)) did not start (is `websockets` installed?): \(stderr)"
            }
        }
    }

    /// The origin: `python3 -c script MODE CERT KEY RECORD_FILE`.
    static let script = #"""
        import hashlib, json, socket, ssl, sys, threading

        mode, cert, key, record_path = sys.argv[1:5]
        lock = threading.Lock()
        record_file = open(record_path, "a", buffering=1)


        def record(entry):
            with lock:
                record_file.write(json.dumps(entry) + "\n")
                record_file.flush()


        def recordable(items):
            # A credential value is recorded as its digest: the test compares digests, and no file holds a token.
            out = []
            for name, value in items:
                if name.lower() in ("authorization", "proxy-authorization"):
                    value = "sha256:" + hashlib.sha256(value.encode("latin-1")).hexdigest()
                out.append([name, value])
            return out


        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        if mode == "echo":
            from websockets.sync.server import serve

            def process_request(connection, request):
                record({"event": "handshake", "path": request.path,
                        "headers": recordable(request.headers.raw_items())})
                return None

            def handler(websocket):
                path = websocket.request.path
                for message in websocket:
                    data = message if isinstance(message, str) else "hex:" + message.hex()
                    record({"event": "message", "path": path, "data": data})
                    websocket.send(message)

            server = serve(handler, "127.0.0.1", 0, ssl=context, process_request=process_request, compression=None)
            print("listening on %d" % server.socket.getsockname()[1], flush=True)
            server.serve_forever()
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)

            def serve_connection(raw):
                try:
                    connection = context.wrap_socket(raw, server_side=True)
                    connection.settimeout(10)
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = connection.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    head, _, rest = data.partition(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
                    items = [line.split(":", 1) for line in lines[1:] if ":" in line]
                    record({"event": "handshake", "path": path,
                            "headers": recordable([(n.strip(), v.strip()) for n, v in items])})
                    body = b"refused by origin\n"
                    connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                                       + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                    record({"event": "responded", "path": path})
                    if rest:
                        record({"event": "after", "path": path, "bytes": len(rest)})
                    connection.settimeout(5)
                    while True:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        record({"event": "after", "path": path, "bytes": len(chunk)})
                except (OSError, ssl.SSLError):
                    pass
                finally:
                    record({"event": "closed"})
                    raw.close()

            print("listening on %d" % listener.getsockname()[1], flush=True)
            while True:
                raw, _ = listener.accept()
                threading.Thread(target=serve_connection, args=(raw,), daemon=True).start()
        """#
}
