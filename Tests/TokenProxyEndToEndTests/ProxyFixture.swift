import Foundation
import Testing

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
    private var origins: [TestOrigin] = []

    private init(
        directory: TestDirectory,
        certificates: TestCertificates,
        proxy: ProxyProcess,
        clients: Clients,
        canary: String
    ) {
        self.directory = directory
        self.certificates = certificates
        self.proxy = proxy
        self.clients = clients
        self.canary = canary
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
        let canary = makeCanary()
        let fixture: ProxyFixture
        do {
            fixture = try await start(in: directory, configuration: configuration, canary: canary)
        } catch {
            // The proxy may have run (and written files) before failing; a leak there counts too.
            checkNoLeak(of: canary, in: directory, sourceLocation: sourceLocation)
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

    private static func start(
        in directory: TestDirectory,
        configuration: ProxyConfiguration,
        canary: String
    ) async throws -> ProxyFixture {
        let certificates = try TestCertificates(in: directory)
        let proxy = try await ProxyProcess.start(
            in: directory,
            configuration: configuration,
            upstreamBundle: certificates.authorityPath,
            secret: canary,
            redact: { redact($0, canary: canary) }
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
            canary: canary
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
        Self.checkNoLeak(of: canary, in: directory, sourceLocation: sourceLocation)
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

    /// `text` with the canary replaced, safe to put in a failure message.
    func redacted(_ text: String) -> String {
        Self.redact(text, canary: canary)
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

    /// Records an issue for every file under `directory` that contains the canary (or its random part).
    private static func checkNoLeak(of canary: String, in directory: TestDirectory, sourceLocation: SourceLocation) {
        let needles = [Data(canary.utf8), Data(canary.dropFirst(canaryPrefix.count).utf8)]
        for path in directory.allFiles() {
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

        var description: String {
            switch self {
            case .noProxyCA(let path): "tokenproxy is listening but did not create its CA certificate at \(path)"
            case .noAuditRecord(let what): "no \(what) audit record"
            }
        }
    }
}
