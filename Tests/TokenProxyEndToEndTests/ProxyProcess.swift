import Foundation

/// A running `tokenproxy serve` process, started on an ephemeral loopback port.
///
/// The proxy is the real binary built by this package, run as a separate process: the tests see it exactly as a
/// user's tools do, through its port, its files and its output.
final class ProxyProcess {
    /// The config file the proxy was started with.
    let configPath: String
    /// The proxy's CA certificate (`ca.dir/ca.pem`), created by the proxy on first run.
    let caCertificatePath: String
    /// The audit log (the config's `audit.log`).
    let auditLogPath: String
    /// Where the proxy's standard output is captured.
    var stdoutPath: String { child.stdoutPath }
    /// Where the proxy's standard error is captured.
    var stderrPath: String { child.stderrPath }

    /// Its stderr once it contains `needle` (see ``ChildProcess/stderr(containing:timeout:)``).
    func stderr(containing needle: String, timeout: Duration = .seconds(5)) async -> String {
        await child.stderr(containing: needle, timeout: timeout)
    }
    /// The port the proxy listens on, parsed from its `listening on 127.0.0.1:PORT` line.
    let port: Int
    /// The proxy's process id, for looking at it in `/proc`.
    var pid: pid_t { child.pid }
    /// Whether the proxy is still running.
    var isRunning: Bool { child.isRunning }

    private let child: ChildProcess
    private var stopped = false

    private init(configPath: String, caCertificatePath: String, auditLogPath: String, port: Int, child: ChildProcess) {
        self.configPath = configPath
        self.caCertificatePath = caCertificatePath
        self.auditLogPath = auditLogPath
        self.port = port
        self.child = child
    }

    /// Writes the config and starts the proxy, returning once it has printed its listen address.
    ///
    /// - Parameters:
    ///   - secret: the credential's value, placed in the proxy's environment and nowhere else.
    ///   - environment: the proxy's variables beyond the clean set, replacing `TP_E2E_TOKEN=secret` when given
    ///     (for configurations with other sources or several credentials).
    ///   - sealed: blobs for the configuration's `{{sealed:NAME}}` markers.
    ///   - redact: applied to any proxy output quoted in an error, so a failure can never print the secret.
    static func start(
        in directory: TestDirectory,
        configuration: ProxyConfiguration,
        upstreamBundle: String,
        secret: String,
        environment: [String: String]? = nil,
        sealed: [String: String] = [:],
        redact: (String) -> String,
        startupTimeout: Duration = .seconds(30)
    ) async throws -> ProxyProcess {
        let binary = try binaryPath()
        let configPath = try directory.write(
            configuration.yaml(in: directory, upstreamBundle: upstreamBundle, sealed: sealed),
            to: "tokenproxy.yaml"
        )
        let child = try ChildProcess(
            executable: binary,
            arguments: ["serve", "--config", configPath, "--listen", "127.0.0.1:0"] + configuration.serveArguments,
            environment: ChildProcess.cleanEnvironment(
                environment ?? [ProxyConfiguration.credentialVariable: secret]
            ),
            stdoutPath: directory.file("proxy.stdout"),
            stderrPath: directory.file("proxy.stderr")
        )

        let deadline = ContinuousClock.now + startupTimeout
        while true {
            let output = (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/listening on ([0-9.]+):([0-9]+)/#), let port = Int(match.2) {
                return ProxyProcess(
                    configPath: configPath,
                    caCertificatePath: directory.file("certs/ca.pem"),
                    auditLogPath: directory.file("audit.jsonl"),
                    port: port,
                    child: child
                )
            }
            if !child.isRunning {
                let status = await child.stop(grace: .seconds(1)).status
                throw ProxyError.exited(status: status, output: redact(Self.describeOutput(of: child)))
            }
            if ContinuousClock.now >= deadline {
                await child.stop(grace: .seconds(5))
                throw ProxyError.noListenLine(timeout: startupTimeout, output: redact(Self.describeOutput(of: child)))
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Starts `tokenproxy serve` again on the config file of an earlier start, in the same directory (same CA, same
    /// audit log): a restart after that proxy was stopped or killed. Output goes to `<outputStem>.stdout`/`.stderr`.
    static func restart(
        in directory: TestDirectory,
        configPath: String,
        environment: [String: String],
        outputStem: String,
        redact: (String) -> String,
        startupTimeout: Duration = .seconds(30)
    ) async throws -> ProxyProcess {
        let child = try ChildProcess(
            executable: try binaryPath(),
            arguments: ["serve", "--config", configPath, "--listen", "127.0.0.1:0"],
            environment: ChildProcess.cleanEnvironment(environment),
            stdoutPath: directory.file("\(outputStem).stdout"),
            stderrPath: directory.file("\(outputStem).stderr")
        )
        let deadline = ContinuousClock.now + startupTimeout
        while true {
            let output = (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/listening on ([0-9.]+):([0-9]+)/#), let port = Int(match.2) {
                return ProxyProcess(
                    configPath: configPath, caCertificatePath: directory.file("certs/ca.pem"),
                    auditLogPath: directory.file("audit.jsonl"), port: port, child: child
                )
            }
            if !child.isRunning {
                let status = await child.stop(grace: .seconds(1)).status
                throw ProxyError.exited(status: status, output: redact(Self.describeOutput(of: child)))
            }
            if ContinuousClock.now >= deadline {
                await child.stop(grace: .seconds(5))
                throw ProxyError.noListenLine(timeout: startupTimeout, output: redact(Self.describeOutput(of: child)))
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops the proxy with SIGTERM, escalating to SIGKILL after 5 s.
    ///
    /// After this returns the audit log is complete: the proxy flushes it on a graceful shutdown.
    ///
    /// - Returns: whether the proxy exited on SIGTERM alone, or `nil` if it was already stopped.
    @discardableResult
    func stop() async -> Bool? {
        guard !stopped else { return nil }
        stopped = true
        let result = await child.stop(grace: .seconds(5))
        return !result.killed
    }

    /// Waits for the proxy to exit by itself (after a signal the test sent); its exit status, or `nil` if it is
    /// still running after `timeout`. Afterwards ``stop()`` has nothing left to do.
    func waitForExit(timeout: Duration) async -> Int32? {
        await child.waitForExit(timeout: timeout)
    }

    /// Locates the `tokenproxy` executable this package built.
    ///
    /// Looked for beside the test bundle first (`swift test` builds both into the same directory), then in the
    /// package's `.build/debug`; `TOKENPROXY_BINARY` overrides both.
    static func binaryPath() throws -> String {
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["TOKENPROXY_BINARY"], !override.isEmpty {
            candidates.append(override)
        }
        if let argument0 = CommandLine.arguments.first {
            let url = URL(fileURLWithPath: argument0).standardizedFileURL.resolvingSymlinksInPath()
            candidates.append(url.deletingLastPathComponent().appendingPathComponent("tokenproxy").path)
        }
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("tokenproxy").path)
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("tokenproxy").path)
        candidates.append(
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tokenproxy").path
        )
        // Tests/TokenProxyEndToEndTests/ProxyProcess.swift → the package root is three levels up.
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/tokenproxy").path)

        var seen = Set<String>()
        for candidate in candidates where seen.insert(candidate).inserted {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate)
            {
                return candidate
            }
        }
        throw ProxyError.binaryNotFound(searched: Array(seen).sorted())
    }

    private static func describeOutput(of child: ChildProcess) -> String {
        let stdout = (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        return "stdout:\n\(stdout.suffix(2000))\nstderr:\n\(stderr.suffix(4000))"
    }

    /// Why the proxy could not be started.
    enum ProxyError: Error, CustomStringConvertible {
        case binaryNotFound(searched: [String])
        case exited(status: Int32, output: String)
        case noListenLine(timeout: Duration, output: String)

        var description: String {
            switch self {
            case .binaryNotFound(let searched):
                "tokenproxy executable not found (build it with `swift build`); searched: "
                    + searched.joined(separator: ", ")
            case .exited(let status, let output):
                "tokenproxy serve exited with status \(status) before printing 'listening on HOST:PORT'\n\(output)"
            case .noListenLine(let timeout, let output):
                "tokenproxy serve printed no 'listening on HOST:PORT' line within \(timeout) (is stdout flushed?)\n"
                    + output
            }
        }
    }
}
