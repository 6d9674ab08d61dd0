import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One end-to-end test's world: a temp directory, freshly minted certificates, a canary credential, a running
/// proxy, the origins the test starts and the clients it runs.
///
/// ``run(_:configuration:sourceLocation:_:)`` sets it up, runs the test body, and always tears it down, checking
/// on the way out that the canary appears in no file the test produced: proxy stdout and stderr, the audit log,
/// the CA directory, and every client's output.
///
/// The canary itself is private: tests ask yes/no questions about it (``isInjected(_:)``) so that no expectation
/// or failure message can ever print it.
final class ProxyFixture {
    /// The test's scratch directory.
    let directory: TestDirectory
    /// The test CA and origin identities.
    let certificates: TestCertificates
    /// The running proxy.
    let proxy: ProxyProcess
    /// Clients pointed at the proxy, trusting the proxy CA and the test CA.
    let clients: Clients

    private let canary: String
    /// Every canary of the test by label, the main one (``ProxyConfiguration/credentialName``) included.
    private var canaries: [String: String]
    /// The files written to hold a canary on purpose (absolute paths), exempt from the leak check.
    private var secretFilePaths: Set<String>
    /// The proxy's environment beyond the clean set, for other `tokenproxy` commands run on its behalf.
    let proxyEnvironment: [String: String]
    private var origins: [TestOrigin] = []

    private init(
        directory: TestDirectory,
        certificates: TestCertificates,
        proxy: ProxyProcess,
        clients: Clients,
        canaries: [String: String],
        secretFilePaths: Set<String>,
        proxyEnvironment: [String: String]
    ) {
        self.directory = directory
        self.certificates = certificates
        self.proxy = proxy
        self.clients = clients
        self.canary = canaries[ProxyConfiguration.credentialName] ?? ""
        self.canaries = canaries
        self.secretFilePaths = secretFilePaths
        self.proxyEnvironment = proxyEnvironment
    }

    /// Runs `body` against a freshly started proxy, then tears everything down and checks for canary leaks.
    ///
    /// - Parameters:
    ///   - label: a short name for the temp directory.
    ///   - configuration: the proxy's rules; by default one injecting rule for `localhost`.
    ///   - sourceLocation: where teardown issues (leaks, an unclean stop) are reported: the calling test.
    static func run(
        _ label: String,
        configuration: ProxyConfiguration = ProxyConfiguration(),
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (ProxyFixture) async throws -> Void
    ) async throws {
        let directory = try TestDirectory(label: label)
        var canaries: [String: String] = [:]
        for canaryLabel in configuration.canaryLabels.union([ProxyConfiguration.credentialName]) {
            canaries[canaryLabel] = makeCanary()
        }
        let fixture: ProxyFixture
        do {
            fixture = try await start(in: directory, configuration: configuration, canaries: canaries)
        } catch {
            // The proxy may have run (and written files) before failing; a leak there counts too.
            let secretFiles = Set(configuration.secretFiles.map { directory.file($0.path) })
            checkNoLeak(of: Array(canaries.values), in: directory, except: secretFiles, sourceLocation: sourceLocation)
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

    /// What a `tokenproxy serve` that refused to start left behind.
    struct StartupFailure: Sendable {
        /// Its exit status.
        let status: Int32
        /// The end of its stdout and stderr, redacted.
        let output: String
    }

    /// Starts the proxy with a configuration it must refuse, and returns how it failed.
    ///
    /// Records an issue (and throws) if the proxy starts anyway; the canary check runs either way.
    static func startupFailure(
        _ label: String,
        configuration: ProxyConfiguration,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> StartupFailure {
        do {
            try await run(label, configuration: configuration, sourceLocation: sourceLocation) { _ in
                Issue.record(
                    "tokenproxy serve started although its configuration must be refused",
                    sourceLocation: sourceLocation
                )
            }
        } catch ProxyProcess.ProxyError.exited(let status, let output) {
            return StartupFailure(status: status, output: output)
        }
        throw FixtureError.startedUnexpectedly
    }

    private static func start(
        in directory: TestDirectory,
        configuration: ProxyConfiguration,
        canaries: [String: String]
    ) async throws -> ProxyFixture {
        let certificates = try TestCertificates(in: directory)
        let allCanaries = Array(canaries.values)
        var secretFilePaths: Set<String> = []
        for file in configuration.secretFiles {
            let path = try writeSecretFile(canaries[file.canary] ?? "", to: file.path, mode: file.mode, in: directory)
            secretFilePaths.insert(path)
        }
        var sealed: [String: String] = [:]
        for (name, canaryLabel) in configuration.sealedCredentials.sorted(by: { $0.key < $1.key }) {
            sealed[name] = try await seal(canaries[canaryLabel] ?? "", name: name, in: directory, canaries: allCanaries)
        }
        var environment = configuration.environment
        for (variable, canaryLabel) in configuration.secretVariables {
            environment[variable] = canaries[canaryLabel]
        }
        let proxy = try await ProxyProcess.start(
            in: directory,
            configuration: configuration,
            upstreamBundle: certificates.authorityPath,
            secret: canaries[ProxyConfiguration.credentialName] ?? "",
            environment: environment,
            sealed: sealed,
            redact: { redact($0, canaries: allCanaries) }
        )
        let proxyCA: String
        do {
            proxyCA = try String(contentsOfFile: proxy.caCertificatePath, encoding: .utf8)
        } catch {
            await proxy.stop()
            throw FixtureError.noProxyCA(proxy.caCertificatePath)
        }
        // Proxy CA for intercepted hosts, test CA for tunnelled ones: clients verify both kinds of connection.
        let bundle = try directory.write(
            proxyCA + "\n" + certificates.authority.certificatePEM + "\n",
            to: "client-ca-bundle.pem"
        )
        let clients = Clients(proxyPort: proxy.port, caBundle: bundle, directory: directory)
        return ProxyFixture(
            directory: directory,
            certificates: certificates,
            proxy: proxy,
            clients: clients,
            canaries: canaries,
            secretFilePaths: secretFilePaths,
            proxyEnvironment: environment
        )
    }

    /// Runs `tokenproxy seal NAME --dir <ca dir>` with `secret` piped to its stdin, and returns the `sealed:…` line.
    ///
    /// The value reaches the pipe through the shell's environment, never through a file or an argument.
    private static func seal(
        _ secret: String, name: String, in directory: TestDirectory, canaries: [String]
    ) async throws -> String {
        let run = try await runTokenproxy(
            in: directory,
            viaShell: #"printf '%s' "$TP_SEAL_INPUT" | "$0" "$@""#,
            arguments: ["seal", name, "--dir", ProxyConfiguration.caDirectory(in: directory)],
            environment: ["TP_SEAL_INPUT": secret]
        )
        let line = run.stdout.split(separator: "\n").first { $0.hasPrefix("sealed:") }
        guard run.exitCode == 0, let line else {
            throw FixtureError.sealFailed(
                redact(
                    "exit \(run.exitCode.map(String.init) ?? "timeout"): \(run.stderr.suffix(1500))",
                    canaries: canaries
                )
            )
        }
        return String(line)
    }

    /// Writes `secret` and a newline (which the proxy strips) to `relativePath` with `mode`, and returns the
    /// absolute path.
    ///
    /// Written beside the target, given its mode, then renamed over it: a proxy re-reading the file meanwhile sees
    /// the old contents or the new ones, never an empty or wrongly-permitted file.
    private static func writeSecretFile(
        _ secret: String, to relativePath: String, mode: Int, in directory: TestDirectory
    ) throws -> String {
        let path = directory.file(relativePath)
        let temporary = try directory.write(secret + "\n", to: relativePath + ".new")
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: temporary)
        guard rename(temporary, path) == 0 else {
            throw FixtureError.cannotWrite(path, String(cString: strerror(errno)))
        }
        return path
    }

    /// Runs the `tokenproxy` binary with `arguments`, output captured under `clients/`.
    ///
    /// - Parameters:
    ///   - viaShell: a `/bin/sh -c` script that runs the binary as `"$0" "$@"` (to pipe something into it).
    ///   - environment: variables beyond the clean set.
    private static func runTokenproxy(
        in directory: TestDirectory,
        viaShell script: String? = nil,
        arguments: [String],
        environment: [String: String],
        timeout: Duration = .seconds(30)
    ) async throws -> Clients.Run {
        let binary = try ProxyProcess.binaryPath()
        let stem = "clients/tokenproxy-\(arguments.first ?? "")-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try directory.subdirectory("clients")
        let child = try ChildProcess(
            executable: script == nil ? binary : "/bin/sh",
            arguments: script.map { ["-c", $0, binary] + arguments } ?? arguments,
            environment: ChildProcess.cleanEnvironment(environment),
            stdoutPath: directory.file("\(stem).stdout"),
            stderrPath: directory.file("\(stem).stderr")
        )
        let exitCode = await child.waitForExit(timeout: timeout)
        if exitCode == nil {
            await child.stop(grace: .seconds(2))
        }
        return Clients.Run(
            exitCode: exitCode,
            stdout: (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        )
    }

    /// Runs another `tokenproxy` command (`check`, `seal`, …) with the proxy's own environment, so it sees the
    /// same sources; output is captured under `clients/` and scanned for canaries like everything else.
    func runTokenproxy(_ arguments: [String]) async throws -> Clients.Run {
        try await Self.runTokenproxy(in: directory, arguments: arguments, environment: proxyEnvironment)
    }

    /// Writes the canary `label` (made now if the test has none by that name yet) to `relativePath` with `mode`:
    /// a secret file for a `file:` source, rewritten while the proxy runs. Exempt from the leak check.
    @discardableResult
    func writeSecretFile(canary label: String, to relativePath: String, mode: Int = 0o600) throws -> String {
        if canaries[label] == nil {
            canaries[label] = Self.makeCanary()
        }
        let path = try Self.writeSecretFile(canaries[label] ?? "", to: relativePath, mode: mode, in: directory)
        secretFilePaths.insert(path)
        return path
    }

    /// Starts another `tokenproxy serve` on this test's config file, CA and audit log, with the proxy's environment:
    /// for restart tests, once ``proxy`` (or the previous restart) has been stopped or killed. The caller stops it;
    /// its output (`<label>.stdout`/`.stderr`) is scanned for leaks like everything else.
    func restartProxy(label: String) async throws -> ProxyProcess {
        try await ProxyProcess.restart(
            in: directory, configPath: proxy.configPath, environment: proxyEnvironment, outputStem: label,
            redact: { [self] in redacted($0) }
        )
    }

    private func tearDown(sourceLocation: SourceLocation) async {
        let graceful = await proxy.stop()
        #expect(
            graceful != false,
            "tokenproxy did not exit within 5 s of SIGTERM and was killed",
            sourceLocation: sourceLocation
        )
        for origin in origins {
            await origin.shutdown()
        }
        Self.checkNoLeak(
            of: Array(canaries.values), in: directory, except: secretFilePaths, sourceLocation: sourceLocation
        )
        directory.remove()
    }

    // MARK: Origins

    /// Starts an HTTPS origin presenting the certificate of `kind`; it is shut down with the fixture.
    func startOrigin(_ kind: TestCertificates.Kind) async throws -> TestOrigin {
        let origin = try await TestOrigin.start(identity: certificates.origin(kind))
        origins.append(origin)
        return origin
    }

    /// Starts a plain-HTTP origin; it is shut down with the fixture.
    func startPlainOrigin() async throws -> TestOrigin {
        let origin = try await TestOrigin.start(identity: nil)
        origins.append(origin)
        return origin
    }

    // MARK: Questions about the canary

    /// Whether `request` carries exactly one `Authorization` header and it is `Bearer <canary>`: the credential
    /// was injected, and the client's own value was replaced rather than kept beside it.
    func isInjected(_ request: TestOrigin.RecordedRequest) -> Bool {
        request.values(of: ProxyConfiguration.injectedHeader) == ["Bearer \(canary)"]
    }

    /// `text` with `{{canary}}` replaced by the real canary: for a test that plays a client which got hold of the
    /// token (leak detection). Pass the result only to a client's arguments, never to a message or a file.
    func withCanary(_ text: String) -> String {
        text.replacingOccurrences(of: "{{canary}}", with: canary)
    }

    /// Whether any header of `request` contains the canary.
    func carriesCanary(_ request: TestOrigin.RecordedRequest) -> Bool {
        request.headers.contains { $0.value.contains(canary) || $0.value.contains(canaryRandomPart) }
    }

    /// Expects `request` to carry the injected credential, explaining a failure without printing any value.
    func expectInjected(_ request: TestOrigin.RecordedRequest, sourceLocation: SourceLocation = #_sourceLocation) {
        let values = request.values(of: ProxyConfiguration.injectedHeader)
        let injected = isInjected(request)
        check(
            injected,
            """
            origin did not receive exactly one 'Authorization: Bearer <credential>' for \(request.method) \
            \(request.uri): \(values.count) Authorization value(s), client's own value present: \
            \(values.contains("Bearer client-value")), credential present: \(values.contains { $0.contains(canary) })
            """,
            sourceLocation: sourceLocation
        )
    }

    /// Expects no header of `request` to contain the credential (it was not injected).
    func expectNotInjected(_ request: TestOrigin.RecordedRequest, sourceLocation: SourceLocation = #_sourceLocation) {
        let carries = carriesCanary(request)
        check(
            !carries,
            "the credential reached the origin in \(request.method) \(request.uri) although it must not have",
            sourceLocation: sourceLocation
        )
    }

    /// Whether `text` contains the canary `label` (or its random part).
    func contains(_ text: String, canary label: String = ProxyConfiguration.credentialName) -> Bool {
        guard let value = canaries[label] else { return false }
        return text.contains(value) || text.contains(String(value.dropFirst(Self.canaryPrefix.count)))
    }

    /// Whether `text` is exactly `expected(canary)`: for values derived from a canary (a Basic header, a swapped
    /// body), compared without the test ever holding, or printing, the value itself.
    func isDerived(
        _ text: String?,
        canary label: String = ProxyConfiguration.credentialName,
        _ expected: (String) -> String = { $0 }
    ) -> Bool {
        guard let text, let value = canaries[label] else { return false }
        return text == expected(value)
    }

    /// The SHA-256 (hex) of `expected(canary)`: lets a test origin recognise a value derived from a canary (a
    /// `Bearer` header) without the test holding or printing it.
    func sha256Hex(ofDerived label: String, _ expected: (String) -> String = { $0 }) -> String {
        let value = canaries[label].map(expected) ?? ""
        return TestOrigin.sha256Hex(value)
    }

    /// Whether any canary of the test is in a header (also inside a `Basic` value's base64), the target or the
    /// body of `request`.
    func carriesAnyCanary(_ request: TestOrigin.RecordedRequest) -> Bool {
        let headerTexts = request.headers.flatMap { header -> [String] in
            var texts = [header.value]
            let encoded = String(header.value.dropFirst(6)).trimmingCharacters(in: .whitespaces)
            if header.value.lowercased().hasPrefix("basic "), let decoded = Data(base64Encoded: encoded) {
                texts.append(String(decoding: decoded, as: UTF8.self))
            }
            return texts
        }
        return canaries.keys.contains { label in
            contains(request.uri, canary: label) || contains(request.bodyText, canary: label)
                || headerTexts.contains { contains($0, canary: label) }
        }
    }

    /// Expects `condition`, with a message that is redacted before it is recorded.
    ///
    /// Use this rather than `#expect` whenever the expression involves text the proxy or the origin produced
    /// (headers, bodies, audit fields): on failure `#expect` prints its subexpressions' values verbatim, and a
    /// proxy bug that put the credential there would print the credential.
    func check(
        _ condition: Bool,
        _ message: @autoclosure () -> String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(condition, Comment(rawValue: redacted(message())), sourceLocation: sourceLocation)
    }

    /// Expects `actual == expected`, printing both only after redaction (see ``check(_:_:sourceLocation:)``).
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

    /// Expects `request` to carry no `header` (a hop-by-hop or proxy-only header the proxy must drop).
    func expectAbsent(
        _ header: String,
        in request: TestOrigin.RecordedRequest,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let count = request.values(of: header).count
        #expect(
            count == 0,
            "origin received \(count) '\(header)' header(s) in \(request.method) \(request.uri)",
            sourceLocation: sourceLocation
        )
    }

    /// `text` with every canary replaced, safe to put in a failure message.
    func redacted(_ text: String) -> String {
        Self.redact(text, canaries: Array(canaries.values))
    }

    /// A short, redacted account of a client run, for failure messages.
    func explain(_ run: Clients.Run) -> Comment {
        let exit = run.exitCode.map { String($0) } ?? "killed after timeout"
        return "exit \(exit); stderr: \(redacted(String(run.stderr.suffix(1500))))"
    }

    // MARK: Audit log

    /// Polls the audit log (up to 5 s) until `isSatisfied` holds, returning the records as last read.
    func auditRecords(until isSatisfied: ([AuditRecord]) -> Bool) async -> [AuditRecord] {
        await AuditRecord.wait(for: proxy.auditLogPath, until: isSatisfied)
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

    // MARK: Canary

    /// The random part of the canary; searched for on its own too, in case something prints a mangled prefix.
    private var canaryRandomPart: String {
        String(canary.dropFirst(Self.canaryPrefix.count))
    }

    private static let canaryPrefix = "tpcanary-"

    /// `tpcanary-` and 32 random hex digits: unique per test, and unmistakable when found.
    private static func makeCanary() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
        return canaryPrefix + hex.joined()
    }

    private static func redact(_ text: String, canary: String) -> String {
        let randomPart = String(canary.dropFirst(canaryPrefix.count))
        return text.replacingOccurrences(of: canary, with: "<redacted>")
            .replacingOccurrences(of: randomPart, with: "<redacted>")
    }

    private static func redact(_ text: String, canaries: [String]) -> String {
        canaries.reduce(text) { redact($0, canary: $1) }
    }

    /// Records an issue for every file under `directory`, other than the secret files `exempt`, that contains one
    /// of `canaries` (or its random part).
    private static func checkNoLeak(
        of canaries: [String],
        in directory: TestDirectory,
        except exempt: Set<String>,
        sourceLocation: SourceLocation
    ) {
        let needles = canaries.flatMap { [Data($0.utf8), Data($0.dropFirst(canaryPrefix.count).utf8)] }
        for path in directory.allFiles() where !exempt.contains(path) {
            guard let contents = FileManager.default.contents(atPath: path) else { continue }
            let leaked = needles.contains { contents.range(of: $0) != nil }
            let relative = path.hasPrefix(directory.path) ? String(path.dropFirst(directory.path.count + 1)) : path
            #expect(!leaked, "the credential value leaked into \(relative)", sourceLocation: sourceLocation)
        }
    }

    /// Why the fixture could not be set up.
    enum FixtureError: Error, CustomStringConvertible {
        case noProxyCA(String)
        case noAuditRecord(String)
        case sealFailed(String)
        case startedUnexpectedly
        case cannotWrite(String, String)

        var description: String {
            switch self {
            case .noProxyCA(let path): "tokenproxy is listening but did not create its CA certificate at \(path)"
            case .noAuditRecord(let what): "no \(what) audit record"
            case .sealFailed(let output): "tokenproxy seal failed: \(output)"
            case .startedUnexpectedly: "tokenproxy serve started although its configuration must be refused"
            case .cannotWrite(let path, let error): "cannot write \(path): \(error)"
            }
        }
    }
}
