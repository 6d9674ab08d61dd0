import Foundation

/// Real clients, written by others, pointed at the proxy: `curl`, Python `requests` and `openssl s_client`.
///
/// They catch what the proxy and a client written in this repository could agree on wrongly. Each run gets a
/// clean environment (no `NO_PROXY`, never the credential), a bounded time, and output captured to files in the
/// test directory, where the canary check scans it.
struct Clients: Sendable {
    /// What one client run produced.
    ///
    /// Described without its output, which came from the proxy and is only ever printed redacted.
    struct Run: Sendable, CustomStringConvertible {
        /// The exit status, or `nil` if the client was killed for running over its time.
        let exitCode: Int32?
        /// Standard output.
        let stdout: String
        /// Standard error.
        let stderr: String

        /// Whether the client was killed for running over its time.
        var timedOut: Bool { exitCode == nil }

        var description: String {
            "Run(exit: \(exitCode.map(String.init) ?? "timeout"), stdout: \(stdout.utf8.count) B, "
                + "stderr: \(stderr.utf8.count) B)"
        }
    }

    /// One transfer of a curl invocation, from its `--write-out` line.
    struct CurlTransfer: Sendable {
        /// The final response's status, `0` if there was none.
        let httpCode: Int
        /// The status of the proxy's answer to CONNECT, `0` if there was none.
        let httpConnect: Int
        /// New connections this transfer made (`0` when it reused one).
        let newConnections: Int
        /// curl's exit code for this transfer.
        let exitCode: Int
    }

    /// A curl invocation: its transfers in order, and the response bodies with the write-out lines removed.
    struct CurlResult: Sendable, CustomStringConvertible {
        let run: Run
        let transfers: [CurlTransfer]
        let body: String

        /// The status of the only (or first) transfer, `0` if curl reported none.
        var httpCode: Int { transfers.first?.httpCode ?? 0 }

        var description: String { "CurlResult(\(run), transfers: \(transfers))" }
    }

    /// The port the proxy listens on, on 127.0.0.1.
    let proxyPort: Int
    /// The CA bundle clients trust by default: the proxy's CA plus the test CA, so intercepted and tunnelled
    /// hosts both verify.
    let caBundle: String
    /// Where output files go.
    let directory: TestDirectory
    /// How long any one client may run before it is killed and the test fails.
    var timeout: Duration = .seconds(30)

    private var proxyURL: String { "http://127.0.0.1:\(proxyPort)" }

    // MARK: curl

    /// Matches the `--write-out` line; computed because `Regex` is not `Sendable` and so cannot be a stored static.
    private static var writeOutPattern: Regex<(Substring, Substring, Substring, Substring, Substring)> {
        #/@@curl http_code=([0-9]+) http_connect=([0-9]+) num_connects=([0-9]+) exitcode=([0-9]+)@@\n?/#
    }

    /// Runs `curl` through the proxy for `urls` (one invocation, so one connection is reused where possible).
    ///
    /// - Parameters:
    ///   - arguments: extra arguments placed before the URLs (headers, methods, bodies).
    ///   - caBundle: the CA file to trust instead of ``caBundle``.
    func curl(_ urls: [String], arguments: [String] = [], caBundle: String? = nil) async throws -> CurlResult {
        let writeOut =
            "\\n@@curl http_code=%{http_code} http_connect=%{http_connect} num_connects=%{num_connects} "
            + "exitcode=%{exitcode}@@\\n"
        var argv = [
            "--silent", "--show-error",
            "--max-time", "20",
            "--proxy", proxyURL,
            "--cacert", caBundle ?? self.caBundle,
            "--write-out", writeOut,
        ]
        argv += arguments
        argv += urls
        let run = try await self.run("curl", argv)
        var transfers: [CurlTransfer] = []
        for match in run.stdout.matches(of: Self.writeOutPattern) {
            transfers.append(
                CurlTransfer(
                    httpCode: Int(match.1) ?? 0,
                    httpConnect: Int(match.2) ?? 0,
                    newConnections: Int(match.3) ?? 0,
                    exitCode: Int(match.4) ?? 0
                )
            )
        }
        let body = run.stdout.replacing(Self.writeOutPattern, with: "")
        return CurlResult(run: run, transfers: transfers, body: body)
    }

    /// Runs `curl` through the proxy for one URL.
    func curl(_ url: String, arguments: [String] = [], caBundle: String? = nil) async throws -> CurlResult {
        try await curl([url], arguments: arguments, caBundle: caBundle)
    }

    // MARK: Python requests

    /// The status and body a `requests.get` through the proxy returned.
    struct PythonResult: Sendable, CustomStringConvertible {
        let run: Run
        /// The response status, `nil` if the script printed none (it raised).
        let status: Int?
        /// The response body.
        let body: String

        var description: String { "PythonResult(\(run), status: \(status.map(String.init) ?? "none"))" }
    }

    private static let pythonScript = """
        import sys
        import requests

        headers = dict(h.split(": ", 1) for h in sys.argv[2:])
        response = requests.get(sys.argv[1], headers=headers, timeout=20)
        sys.stdout.write("@@status=%d@@\\n" % response.status_code)
        sys.stdout.write(response.text)
        """

    /// Runs Python `requests.get(url)` with `HTTPS_PROXY`/`HTTP_PROXY` pointing at the proxy and
    /// `REQUESTS_CA_BUNDLE` set to ``caBundle``.
    ///
    /// - Parameter headers: request headers as `Name: value` strings.
    func pythonRequests(_ url: String, headers: [String] = []) async throws -> PythonResult {
        let run = try await self.run(
            "python3",
            ["-c", Self.pythonScript, url] + headers,
            environment: [
                "HTTPS_PROXY": proxyURL,
                "HTTP_PROXY": proxyURL,
                "REQUESTS_CA_BUNDLE": caBundle,
            ]
        )
        let match = run.stdout.firstMatch(of: #/@@status=([0-9]+)@@\n/#)
        return PythonResult(
            run: run,
            status: match.flatMap { Int($0.1) },
            body: match.map { String(run.stdout[$0.range.upperBound...]) } ?? run.stdout
        )
    }

    // MARK: openssl s_client

    /// Opens a CONNECT tunnel to `host:port` through the proxy with `openssl s_client`, handshakes with SNI
    /// `serverName`, verifies the leaf against ``caBundle`` for `verifyHostname`, and sends `request` verbatim.
    ///
    /// `-quiet` makes s_client print only the server's bytes and keep reading after its input ends, until the
    /// server closes; `-verify_return_error` turns a bad certificate into a failed handshake.
    func opensslClient(
        connect host: String,
        port: Int,
        serverName: String,
        verifyHostname: String,
        request: String,
        timeout: Duration = .seconds(10)
    ) async throws -> Run {
        let requestPath = try directory.write(request, to: "clients/s_client-\(Self.uniqueSuffix()).request")
        return try await run(
            "openssl",
            [
                "s_client", "-quiet",
                "-proxy", "127.0.0.1:\(proxyPort)",
                "-connect", "\(host):\(port)",
                "-servername", serverName,
                "-CAfile", caBundle,
                "-verify_return_error",
                "-verify_hostname", verifyHostname,
            ],
            stdinPath: requestPath,
            timeout: timeout
        )
    }

    // MARK: Running

    /// Runs the tool `name` (looked up on `PATH`) with a clean environment plus `environment`.
    func run(
        _ name: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        stdinPath: String? = nil,
        timeout: Duration? = nil
    ) async throws -> Run {
        guard let executable = ChildProcess.which(name) else { throw ClientError.notInstalled(name) }
        let stem = "clients/\(name)-\(Self.uniqueSuffix())"
        _ = try directory.subdirectory("clients")
        let child = try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: ChildProcess.cleanEnvironment(environment),
            stdinPath: stdinPath,
            stdoutPath: directory.file("\(stem).stdout"),
            stderrPath: directory.file("\(stem).stderr")
        )
        let exitCode = await child.waitForExit(timeout: timeout ?? self.timeout)
        if exitCode == nil {
            // A hung client fails its test (exitCode stays nil) instead of hanging the suite.
            await child.stop(grace: .seconds(2))
        }
        return Run(
            exitCode: exitCode,
            stdout: (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        )
    }

    private static func uniqueSuffix() -> String {
        String(UUID().uuidString.prefix(8)).lowercased()
    }

    /// Why a client could not be run at all.
    enum ClientError: Error, CustomStringConvertible {
        case notInstalled(String)

        var description: String {
            "\(self.tool) is not installed (not found on PATH); the end-to-end tests need curl, python3 with "
                + "requests, and openssl"
        }

        private var tool: String {
            switch self {
            case .notInstalled(let name): name
            }
        }
    }
}
