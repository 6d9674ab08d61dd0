import Foundation

/// An origin that stays silent, for the proxy's timers and its graceful shutdown: a Python process on 127.0.0.1.
///
/// Except in ``Mode/slowHead``, it holds every connection open until it is stopped and never closes one first, so
/// whatever ends an exchange is the proxy's own timer.
final class StallingOrigin {
    /// How the origin stalls.
    enum Mode: String, Sendable {
        /// Accepts TCP and never speaks: a TLS handshake with it never completes.
        case silentTCP = "silent-tcp"
        /// Completes TLS, reads a request head, and never answers.
        case neverAnswers = "never-answers"
        /// Completes TLS, reads a request head, and answers `200 ok` only two seconds later.
        case slowHead = "slow-head"
    }

    /// The port the origin listens on.
    let port: Int
    private let child: ChildProcess

    private init(port: Int, child: ChildProcess) {
        self.port = port
        self.child = child
    }

    /// Starts the origin with `identity` as its TLS certificate, returning once it listens.
    static func start(_ mode: Mode, identity: TestCertificates.Identity, in directory: TestDirectory) async throws
        -> StallingOrigin
    {
        guard let python = ChildProcess.which("python3") else { throw Clients.ClientError.notInstalled("python3") }
        let stem = "stalling-origin-\(mode.rawValue)-\(UUID().uuidString.prefix(8).lowercased())"
        let child = try ChildProcess(
            executable: python,
            arguments: ["-u", "-c", script, mode.rawValue, identity.certificatePath, identity.privateKeyPath],
            environment: ChildProcess.cleanEnvironment(),
            stdoutPath: directory.file("\(stem).stdout"),
            stderrPath: directory.file("\(stem).stderr")
        )
        guard let port = await child.awaitListeningPort() else {
            await child.stop(grace: .seconds(1))
            let stderr = (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
            throw OriginError(description: "stalling origin (\(mode.rawValue)) did not start: \(stderr.suffix(2000))")
        }
        return StallingOrigin(port: port, child: child)
    }

    /// How many requests heads the origin has read.
    var requestsRead: Int {
        let output = (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? ""
        return output.components(separatedBy: "\n").filter { $0.hasPrefix("request ") }.count
    }

    /// Stops the origin.
    func shutdown() async {
        await child.stop(grace: .seconds(1))
    }

    struct OriginError: Error, CustomStringConvertible {
        let description: String
    }

    /// `python3 -c script MODE CERT KEY`.
    private static let script = #"""
        import socket, ssl, sys, threading, time
        mode, cert, key = sys.argv[1:4]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.set_alpn_protocols(["http/1.1"])
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        held = []

        def serve(connection):
            held.append(connection)
            if mode == "silent-tcp":
                return
            try:
                tls = context.wrap_socket(connection, server_side=True)
                held.append(tls)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                print("request " + head.split(b"\r\n", 1)[0].decode("latin-1"), flush=True)
                if mode == "slow-head":
                    time.sleep(2)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except (OSError, ssl.SSLError) as error:
                print("error %s" % error, flush=True)

        print("listening on %d" % listener.getsockname()[1], flush=True)
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=serve, args=(connection,), daemon=True).start()
        """#
}
