import Foundation

/// A git smart-HTTP server over TLS on 127.0.0.1: `git http-backend` (CGI) behind a small Python HTTPS server that
/// requires HTTP Basic auth whose password is the value of one of its environment variables (the canary).
///
/// It serves one bare repository, `repo.git`, holding a single commit with a `README`. It counts authorized and
/// refused requests in a log file (never a header value), so a test can tell that the token opened the door.
final class GitSmartHTTPServer {
    /// The port it listens on.
    let port: Int
    private let child: ChildProcess
    private let statusLog: String

    private init(port: Int, child: ChildProcess, statusLog: String) {
        self.port = port
        self.child = child
        self.statusLog = statusLog
    }

    /// Creates the repository and starts the server with the TLS `identity`; returns once it listens.
    ///
    /// - Parameters:
    ///   - expectedPasswordVariable: the variable, in `environment`, that holds the password to require.
    ///   - environment: the server's variables beyond the clean set (it must hold `expectedPasswordVariable`).
    static func start(
        in directory: TestDirectory, identity: TestCertificates.Identity, expectedPasswordVariable: String,
        environment: [String: String]
    ) async throws -> GitSmartHTTPServer {
        let root = try directory.subdirectory("git-server")
        let script = try directory.write(Self.script, to: "git-server/server.py")
        let portFile = directory.file("git-server/port")
        let statusLog = directory.file("git-server/status.log")
        guard let python = ChildProcess.which("python3") else { throw ServerError.notInstalled("python3") }
        let child = try ChildProcess(
            executable: python,
            arguments: [
                script, root, identity.certificatePath, identity.privateKeyPath, portFile, statusLog,
                expectedPasswordVariable,
            ],
            environment: ChildProcess.cleanEnvironment(environment),
            stdoutPath: directory.file("git-server/server.stdout"),
            stderrPath: directory.file("git-server/server.stderr")
        )
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return GitSmartHTTPServer(port: port, child: child, statusLog: statusLog)
            }
            guard child.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let stderr = (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        await child.stop(grace: .seconds(2))
        throw ServerError.didNotStart(String(stderr.suffix(2000)))
    }

    /// Requests that carried the right password.
    func authorizedRequests() -> Int { count("authorized") }

    /// Requests refused for a missing or wrong password.
    func refusedRequests() -> Int { count("refused") }

    /// Stops the server (SIGKILL: it holds nothing that needs flushing).
    func stop() {
        kill(child.pid, SIGKILL)
    }

    private func count(_ word: String) -> Int {
        let text = (try? String(contentsOfFile: statusLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0 == word }.count
    }

    enum ServerError: Error, CustomStringConvertible {
        case notInstalled(String)
        case didNotStart(String)

        var description: String {
            switch self {
            case .notInstalled(let name): "\(name) is not installed (Scripts/test installs it)"
            case .didNotStart(let stderr): "the git smart-HTTP server did not start:\n\(stderr)"
            }
        }
    }

    private static let script = #"""
        import base64, hmac, os, ssl, subprocess, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        root, cert, key, port_file, status_log, password_variable = sys.argv[1:7]
        expected = os.environ[password_variable].encode()
        git_env = {k: v for k, v in os.environ.items() if k != password_variable}
        git_env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"})
        work = os.path.join(root, "work")
        subprocess.run(["git", "init", "-q", "-b", "main", work], check=True, env=git_env)
        with open(os.path.join(work, "README"), "w") as f:
            f.write("cloned through tokenproxy\n")
        subprocess.run(["git", "-C", work, "add", "README"], check=True, env=git_env)
        subprocess.run(["git", "-C", work, "commit", "-q", "-m", "first"], check=True, env=git_env)
        subprocess.run(["git", "clone", "-q", "--bare", work, os.path.join(root, "repo.git")], check=True, env=git_env)
        lock = threading.Lock()

        def note(word):
            with lock, open(status_log, "a") as f:
                f.write(word + "\n")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass  # never log request lines or headers

            def body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def authorized(self):
                value = self.headers.get("Authorization", "")
                if not value.lower().startswith("basic "):
                    return False
                try:
                    _, _, password = base64.b64decode(value[6:].strip()).partition(b":")
                except Exception:
                    return False
                return hmac.compare_digest(password, expected)

            def handle_any(self):
                data = self.body()
                if not self.authorized():
                    note("refused")
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                note("authorized")
                path, _, query = self.path.partition("?")
                env = dict(git_env, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                           QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER="x-access-token",
                           REMOTE_ADDR="127.0.0.1", CONTENT_TYPE=self.headers.get("Content-Type", ""),
                           CONTENT_LENGTH=str(len(data)))
                gzip = self.headers.get("Content-Encoding", "")
                if gzip:
                    env["HTTP_CONTENT_ENCODING"] = gzip
                out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.split(b"\r\n"):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = handle_any
            do_POST = handle_any

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(port_file + ".tmp", port_file)
        server.serve_forever()
        """#
}
