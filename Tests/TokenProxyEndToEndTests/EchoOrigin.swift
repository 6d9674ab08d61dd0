import Foundation

/// An HTTPS origin (Python's `http.server` and `ssl`) that echoes the request's `Authorization` header back, in a
/// response header and several times in a chunked body cut at awkward places: the kind of API that hands a
/// credential back to whoever called it. Only a proxy that scrubs responses keeps the token from the client.
///
/// Python's HTTP and TLS stacks are independent of the proxy's, so they cannot share its framing mistakes.
final class EchoOrigin {
    /// The port it listens on (127.0.0.1).
    let port: Int
    private let child: ChildProcess

    private static let script = #"""
        import http.server, socketserver, ssl, sys

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                value = (self.headers.get("Authorization") or "").encode()
                body = b'{"you_sent":"' + value + b'","again":"' + value + b'"}\n'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Echo-Authorization", value.decode())
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                # Chunks of 7 bytes: every occurrence of the value is cut across chunk boundaries.
                for start in range(0, len(body), 7):
                    piece = body[start:start + 7]
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        server = Server(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        server.socket = context.wrap_socket(server.socket, server_side=True)
        print("listening on %d" % server.server_address[1], flush=True)
        server.serve_forever()
        """#

    private init(port: Int, child: ChildProcess) {
        self.port = port
        self.child = child
    }

    /// Starts the origin with `identity` (certificate and key files), in `directory`.
    static func start(identity: TestCertificates.Identity, in directory: TestDirectory) async throws -> EchoOrigin {
        guard let python = ChildProcess.which("python3") else { throw Clients.ClientError.notInstalled("python3") }
        let child = try ChildProcess(
            executable: python,
            arguments: ["-c", script, identity.certificatePath, identity.privateKeyPath],
            environment: ChildProcess.cleanEnvironment(),
            stdoutPath: directory.file("echo-origin.stdout"),
            stderrPath: directory.file("echo-origin.stderr")
        )
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let output = (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/listening on ([0-9]+)/#), let port = Int(match.1) {
                return EchoOrigin(port: port, child: child)
            }
            if !child.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        await child.stop(grace: .seconds(1))
        throw EchoOriginError.didNotStart
    }

    /// Stops the origin.
    func stop() async {
        await child.stop(grace: .seconds(2))
    }

    enum EchoOriginError: Error {
        case didNotStart
    }
}
