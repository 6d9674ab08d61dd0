import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Prometheus
import ServiceLifecycle
import TokenProxyCA
import TokenProxyCore
import TokenProxyUsage

/// Builds a running proxy from a configuration: CA, credentials, TLS contexts, recorder and server.
///
/// Everything here that touches the disk or generates keys runs before any connection is accepted, never on an
/// event loop.
public struct ProxyAssembly: Sendable {
    /// The version reported by `--version` and `/status`.
    public static let version = "0.1.0"
    /// The services to run, in start order (stopped in reverse: the server first, then the recorder flushes).
    public let services: [any Service]
    /// The CA in use.
    public let authority: CertificateAuthority
    /// Whether the CA was created by this start.
    public let createdAuthority: Bool
    /// The bundle of system roots plus the CA, for clients' `SSL_CERT_FILE`.
    public let trustBundlePath: String?
    /// The credentials and active rules.
    public let credentials: CredentialStore
    /// The recorder, if recording is on.
    public let recorder: UsageRecorder?
    /// Reloads, revocations and rotation warnings of the running proxy.
    public let lifecycle: LifecycleController

    /// Assembles the proxy. `onListening` receives the bound address.
    public static func make(
        configuration: ProxyConfiguration,
        listen: HostPort,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        limits: ProxyLimits? = nil,
        logger: Logger,
        adminListen: HostPort? = nil,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        onAdminListening: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        onTLSListening: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        requestLogFormat: RequestLogFormat = .human,
        reloadsOnHangup: Bool = true,
        onListening: @escaping @Sendable (SocketAddress) -> Void
    ) throws -> ProxyAssembly {
        let limits = limits ?? ProxyLimits(timeouts: configuration.timeouts)
        let resolver = SecretResolver(environment: environment)
        let credentials = try CredentialStore(configuration: configuration, resolver: resolver)
        let access = try ClientAccess(configuration: configuration, resolver: resolver)
        let (stateStore, revocations) = try LifecycleController.openState(configuration: configuration, logger: logger)
        let (authority, created) = try CertificateAuthority.loadOrCreate(
            paths: CertificateAuthority.Paths(directory: configuration.caDirectory)
        )
        let bundle: String?
        do {
            bundle = try TrustBundle.write(for: authority)
        } catch {
            logger.warning("could not write the client trust bundle: \(error)")
            bundle = nil
        }
        let upstreamTLS: NIOSSLContext
        let upstreamTLSHTTP1Only: NIOSSLContext
        do {
            upstreamTLS = try ProxyRuntime.makeUpstreamTLS(extraRootsFile: configuration.upstreamCABundle)
            upstreamTLSHTTP1Only = try ProxyRuntime.makeUpstreamTLS(
                extraRootsFile: configuration.upstreamCABundle, protocols: ["http/1.1"]
            )
        } catch {
            throw ServerSetupError("cannot load upstream.ca_bundle \(configuration.upstreamCABundle ?? ""): \(error)")
        }
        var httpClient: HTTPClient?
        // Also without OAuth credentials now: a reload may add one.
        if configuration.file != nil
            || configuration.credentials.contains(where: { if case .oauth2 = $0.kind { true } else { false } })
        {
            let tls = try ProxyRuntime.upstreamTLSConfiguration(extraRootsFile: configuration.upstreamCABundle)
            httpClient = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
            )
        }
        var recorder: UsageRecorder?
        if let path = configuration.auditLogPath {
            let audit = try AuditLogWriter(
                path: path, maxBytes: configuration.auditMaxBytes, sync: AuditSync(configuration.auditSync)
            )
            if let notice = audit.recoveryNotice { logger.warning("\(notice)") }
            var sinks: [any UsageSink] = [audit]
            if let storePath = configuration.usageStorePath {
                sinks.append(try SQLiteUsageStore(path: storePath))
            }
            recorder = UsageRecorder(sinks: sinks, logger: logger)
        }
        let vault = CredentialVault(store: credentials.revoking(revocations), httpClient: httpClient)
        let runtime = ProxyRuntime(
            credentials: vault,
            interceptionContexts: InterceptionContextCache(
                issuer: LeafIssuer(authority: authority), threadPool: NIOThreadPool.singleton,
                capacity: limits.leafCacheCapacity
            ),
            upstreamTLS: upstreamTLS,
            upstreamTLSHTTP1Only: upstreamTLSHTTP1Only,
            limits: limits,
            recorder: recorder,
            logger: logger,
            auditOnFailure: configuration.auditOnFailure,
            fingerprinter: try CredentialFingerprinter.loadOrCreate(directory: configuration.caDirectory),
            policy: configuration.policy,
            access: access,
            requestLogFormat: requestLogFormat
        )
        let server = ProxyServer(
            configuration: .init(listen: listen), runtime: runtime, onListening: onListening
        )
        var services: [any Service] = []
        if let recorder { services.append(RecorderService(recorder: recorder)) }
        if let httpClient { services.append(HTTPClientService(client: httpClient)) }
        let refresher = CredentialRefresher(
            configuration: configuration, resolver: resolver, vault: vault, logger: logger,
            recorder: { [recorder] event in recorder?.record(event) }
        )
        if refresher.isNeeded || configuration.file != nil { services.append(refresher) }
        let lifecycle = LifecycleController(
            configuration: configuration, revocations: revocations,
            dependencies: .init(
                configurationPath: configuration.file, resolver: resolver, vault: vault, refresher: refresher,
                stateStore: stateStore, fingerprinter: runtime.fingerprinter,
                recorder: { [recorder] event in recorder?.record(event) }, logger: logger
            )
        )
        services.append(
            LifecycleService(
                controller: lifecycle, configurationPath: configuration.file, reloadsOnHangup: reloadsOnHangup,
                logger: logger
            )
        )
        if let adminAddress = adminListen ?? configuration.adminListen {
            let loadedAt = Date()
            var summary = AdminStatus.Summary(
                version: ProxyAssembly.version, listen: listen.description,
                credentials: configuration.credentials.map { ($0.name, $0.kind.typeName, $0.source.description, loadedAt) },
                notices: credentials.notices
            )
            summary.lifecycle = lifecycle.board
            services.append(
                AdminServer(
                    listen: adminAddress, runtime: runtime, registry: metricsRegistry, summary: summary,
                    lifecycle: lifecycle, onListening: onAdminListening
                )
            )
        }
        if let listenTLS = configuration.listenTLS {
            var tlsServer = ProxyServer.Configuration(listen: listenTLS.listen)
            tlsServer.tls = try ClientListenerTLS.makeContext(listenTLS)
            services.append(ProxyServer(configuration: tlsServer, runtime: runtime, onListening: onTLSListening))
        }
        services.append(server)
        return ProxyAssembly(
            services: services, authority: authority, createdAuthority: created, trustBundlePath: bundle,
            credentials: credentials, recorder: recorder, lifecycle: lifecycle
        )
    }
}

/// Runs until graceful shutdown, then flushes the recorder (after the server, which stops first, is done).
struct RecorderService: Service {
    let recorder: UsageRecorder

    func run() async throws {
        try? await gracefulShutdown()
        // `shutdown` blocks until the writer thread has flushed; keep that off the cooperative pool.
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                recorder.shutdown()
                continuation.resume()
            }
        }
    }
}

/// Shuts the OAuth HTTP client down after the server has stopped.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
