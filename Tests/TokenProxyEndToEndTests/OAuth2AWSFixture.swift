import Foundation
import Testing

/// One OAuth 2.0 or AWS end-to-end test's world: like ``ProxyFixture`` (a temp directory, a fresh test CA, a
/// running proxy, real clients), but the test first starts the service that issues or checks the credential — an
/// OAuth 2.0 token endpoint, or moto — and only then the proxy, because the proxy's configuration names that
/// service's port and key files, and the service's certificate comes from the test CA minted here.
///
/// Every value registered with ``watch(_:as:)`` (client secret, refresh and access tokens, AWS secret key) is
/// redacted from failure messages, and at teardown searched for in every file under the test directory: the
/// proxy's stdout, stderr and audit log, its CA directory, and every client's output. Values a test must write to
/// disk on purpose (key files, the bootstrap's output) belong in a directory of their own, outside this one.
final class OAuth2AWSFixture {
    /// The test's scratch directory; everything in it is scanned for watched values at teardown.
    let directory: TestDirectory
    /// The test CA (trusted by the proxy through `upstream.ca_bundle`) and its localhost identities.
    let certificates: TestCertificates

    /// A watched value: what it is (for messages) and the bytes to look for.
    private struct Watched {
        let label: String
        let value: String
    }

    private var watched: [Watched] = []
    private var tearDowns: [() async -> Void] = []
    private var proxy: ChildProcess?
    private var proxyStopped = false
    private var running: (port: Int, clients: Clients)?

    private init(directory: TestDirectory, certificates: TestCertificates) {
        self.directory = directory
        self.certificates = certificates
    }

    /// Runs `body` in a fresh fixture, then stops the proxy and everything registered with ``addTearDown(_:)``,
    /// checks that no watched value leaked into any file, and removes the directory.
    static func run(
        _ label: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (OAuth2AWSFixture) async throws -> Void
    ) async throws {
        let directory = try TestDirectory(label: label)
        let fixture: OAuth2AWSFixture
        do {
            fixture = OAuth2AWSFixture(directory: directory, certificates: try TestCertificates(in: directory))
        } catch {
            directory.remove()
            throw error
        }
        var failure: (any Error)?
        do {
            try await body(fixture)
        } catch {
            failure = error
        }
        await fixture.tearDown(sourceLocation: sourceLocation)
        if let failure {
            throw failure
        }
    }

    private func tearDown(sourceLocation: SourceLocation) async {
        let graceful = await stopProxy()
        #expect(
            graceful != false,
            "tokenproxy did not exit within 5 s of SIGTERM and was killed",
            sourceLocation: sourceLocation
        )
        for action in tearDowns.reversed() {
            await action()
        }
        for path in directory.allFiles() {
            let relative = path.hasPrefix(directory.path) ? String(path.dropFirst(directory.path.count + 1)) : path
            for label in leakedSecrets(in: path) {
                Issue.record("\(label) leaked into \(relative)", sourceLocation: sourceLocation)
            }
        }
        directory.remove()
    }

    // MARK: Secrets

    /// Registers `value` as secret: it is redacted from messages and must appear in no file of the test.
    ///
    /// - Parameter label: what it is, for the leak message (the value itself is never printed).
    func watch(_ value: String, as label: String) {
        precondition(value.count >= 8, "a watched value that short would match by accident")
        watched.append(Watched(label: label, value: value))
    }

    /// The labels of the watched values found in the file at `path`.
    func leakedSecrets(in path: String) -> [String] {
        guard let contents = FileManager.default.contents(atPath: path) else { return [] }
        var labels: [String] = []
        for secret in watched where contents.range(of: Data(secret.value.utf8)) != nil {
            if !labels.contains(secret.label) {
                labels.append(secret.label)
            }
        }
        return labels
    }

    /// `text` with every watched value replaced, safe to put in a failure message.
    func redacted(_ text: String) -> String {
        // Longest first, so that a value containing another is replaced whole.
        watched.map(\.value).sorted { $0.count > $1.count }.reduce(text) {
            $0.replacingOccurrences(of: $1, with: "<redacted>")
        }
    }

    // MARK: Services

    /// Runs `action` at teardown, after the proxy has stopped (in reverse order of registration).
    func addTearDown(_ action: @escaping () async -> Void) {
        tearDowns.append(action)
    }

    /// Starts an HTTPS origin with the valid localhost certificate; it is shut down with the fixture.
    func startOrigin() async throws -> TestOrigin {
        let origin = try await TestOrigin.start(identity: certificates.origin(.valid))
        addTearDown { await origin.shutdown() }
        return origin
    }

    // MARK: The proxy

    /// Where the proxy's audit log goes.
    var auditLogPath: String { directory.file("audit.jsonl") }
    /// Where the proxy's usage store goes.
    var usageStorePath: String { directory.file("usage.db") }
    /// The proxy's captured standard output.
    var proxyStdoutPath: String { directory.file("proxy.stdout") }
    /// The proxy's captured standard error.
    var proxyStderrPath: String { directory.file("proxy.stderr") }
    /// The proxy's CA certificate, created by the proxy on its first run.
    var proxyCAPath: String { directory.file("certs/ca.pem") }

    /// The port the proxy listens on; only after ``startProxy(credentialsAndRules:environment:logLevel:)``.
    var proxyPort: Int {
        guard let running else { preconditionFailure("startProxy was not called") }
        return running.port
    }

    /// Clients pointed at the proxy and trusting its CA plus the test CA; only after
    /// ``startProxy(credentialsAndRules:environment:logLevel:)``.
    var clients: Clients {
        guard let running else { preconditionFailure("startProxy was not called") }
        return running.clients
    }

    /// The CA bundle clients of the proxy trust: the proxy's CA and the test CA.
    var clientBundlePath: String { directory.file("client-ca-bundle.pem") }

    /// Writes the configuration and starts `tokenproxy serve`, returning once it has printed its listen address.
    ///
    /// - Parameters:
    ///   - credentialsAndRules: the `credentials:` and `rules:` sections, as YAML; the rest (listen, CA, upstream
    ///     bundle = the test CA, audit log) is filled in here.
    ///   - environment: added to the proxy's otherwise clean environment (where `env:` sources are read).
    ///   - logLevel: passed as `--log-level` when set.
    @discardableResult
    func startProxy(
        credentialsAndRules: String,
        environment: [String: String] = [:],
        logLevel: String? = nil
    ) async throws -> Clients {
        precondition(proxy == nil, "startProxy called twice")
        let yaml = [
            "listen: 127.0.0.1:0",
            "ca: { dir: \(Self.quoted(directory.file("certs"))) }",
            "upstream: { ca_bundle: \(Self.quoted(certificates.authorityPath)) }",
            // The usage store too, or every proxy of these tests would share the default state/usage.db in the
            // working directory (the repository), concurrently.
            "audit: { log: \(Self.quoted(auditLogPath)), store: \(Self.quoted("sqlite:" + usageStorePath)) }",
            // The token endpoint, moto and the origins are loopback destinations on ephemeral ports.
            "policy:",
            ProxyConfiguration.loopbackOriginsPolicy,
        ].joined(separator: "\n") + "\n" + credentialsAndRules
        let configPath = try directory.write(yaml, to: "tokenproxy.yaml")
        var arguments = ["serve", "--config", configPath, "--listen", "127.0.0.1:0"]
        if let logLevel {
            arguments += ["--log-level", logLevel]
        }
        let child = try ChildProcess(
            executable: try ProxyProcess.binaryPath(),
            arguments: arguments,
            environment: ChildProcess.cleanEnvironment(environment),
            stdoutPath: proxyStdoutPath,
            stderrPath: proxyStderrPath
        )
        proxy = child

        let deadline = ContinuousClock.now + .seconds(30)
        var port: Int?
        while port == nil {
            let output = (try? String(contentsOfFile: proxyStdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/listening on ([0-9.]+):([0-9]+)/#) {
                port = Int(match.2)
            } else if !child.isRunning {
                throw FixtureError.proxyExited(redacted(describeProxyOutput()))
            } else if ContinuousClock.now >= deadline {
                throw FixtureError.proxyNotListening(redacted(describeProxyOutput()))
            } else {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        guard let port, let proxyCA = try? String(contentsOfFile: proxyCAPath, encoding: .utf8) else {
            throw FixtureError.noProxyCA(proxyCAPath)
        }
        try directory.write(proxyCA + "\n" + certificates.authority.certificatePEM + "\n", to: "client-ca-bundle.pem")
        let clients = Clients(proxyPort: port, caBundle: clientBundlePath, directory: directory)
        running = (port, clients)
        return clients
    }

    /// Stops the proxy with SIGTERM (SIGKILL after 5 s); afterwards its output and audit log are complete.
    ///
    /// - Returns: whether it exited on SIGTERM alone, or `nil` if it was not running.
    @discardableResult
    func stopProxy() async -> Bool? {
        guard let proxy, !proxyStopped else { return nil }
        proxyStopped = true
        let result = await proxy.stop(grace: .seconds(5))
        return !result.killed
    }

    private func describeProxyOutput() -> String {
        let stdout = (try? String(contentsOfFile: proxyStdoutPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: proxyStderrPath, encoding: .utf8)) ?? ""
        return "stdout:\n\(stdout.suffix(2000))\nstderr:\n\(stderr.suffix(4000))"
    }

    // MARK: Expectations with redacted messages

    /// Expects `condition`, with a message that is redacted before it is recorded (see ``ProxyFixture``'s
    /// `check`: `#expect` would print the values of its subexpressions verbatim).
    func check(
        _ condition: Bool,
        _ message: @autoclosure () -> String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(condition, Comment(rawValue: redacted(message())), sourceLocation: sourceLocation)
    }

    /// Expects `actual == expected`, printing both only after redaction.
    func checkEqual<Value: Equatable>(
        _ actual: Value,
        _ expected: Value,
        _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let equal = actual == expected
        #expect(
            equal,
            Comment(rawValue: redacted("\(what): got \(String(describing: actual)), expected \(expected)")),
            sourceLocation: sourceLocation
        )
    }

    /// A short, redacted account of a client run, for failure messages.
    func explain(_ run: Clients.Run) -> Comment {
        let exit = run.exitCode.map { String($0) } ?? "killed after timeout"
        return Comment(
            rawValue: redacted("exit \(exit); stdout: \(run.stdout.suffix(800)); stderr: \(run.stderr.suffix(1500))")
        )
    }

    // MARK: Audit log

    /// Polls the audit log (up to 5 s) until `isSatisfied` holds, returning the records as last read.
    func auditRecords(until isSatisfied: ([AuditRecord]) -> Bool) async -> [AuditRecord] {
        await AuditRecord.wait(for: auditLogPath, until: isSatisfied)
    }

    /// Waits (up to 5 s) for an audit record matching `predicate` and returns it; records an issue listing the
    /// records found (redacted) and throws if there is none.
    func auditRecord(
        _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        where predicate: (AuditRecord) -> Bool
    ) async throws -> AuditRecord {
        let records = await auditRecords { $0.contains(where: predicate) }
        guard let record = records.first(where: predicate) else {
            Issue.record(
                Comment(rawValue: "no \(what) audit record; the log has: \(describe(records))"),
                sourceLocation: sourceLocation
            )
            throw FixtureError.noAuditRecord(what)
        }
        return record
    }

    /// The records, one per line, with reasons, redacted: for failure messages.
    func describe(_ records: [AuditRecord]) -> String {
        records.isEmpty ? "(no records)" : redacted(records.map(\.detailedDescription).joined(separator: "\n"))
    }

    // MARK: Helpers

    /// A value that is unmistakable when found: `prefix-` and 32 random hex digits.
    static func randomSecret(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
        return prefix + "-" + hex.joined()
    }

    /// `value` as a double-quoted YAML scalar.
    static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Why the fixture could not be set up.
    enum FixtureError: Error, CustomStringConvertible {
        case proxyExited(String)
        case proxyNotListening(String)
        case noProxyCA(String)
        case noAuditRecord(String)

        var description: String {
            switch self {
            case .proxyExited(let output):
                "tokenproxy serve exited before printing 'listening on HOST:PORT'\n\(output)"
            case .proxyNotListening(let output):
                "tokenproxy serve printed no 'listening on HOST:PORT' line within 30 s\n\(output)"
            case .noProxyCA(let path):
                "tokenproxy is listening but did not create its CA certificate at \(path)"
            case .noAuditRecord(let what):
                "no \(what) audit record"
            }
        }
    }
}
