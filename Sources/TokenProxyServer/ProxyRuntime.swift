import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TokenProxyCore
import TokenProxyUsage

/// What every connection handler shares: the credentials in memory, TLS contexts, limits and the recorder.
///
/// Immutable after creation, so handlers on any event loop may read it without locks.
public final class ProxyRuntime: Sendable {
    /// The credential values and the rules that can use them.
    public let credentials: CredentialVault
    /// Leaf TLS contexts for intercepted hosts.
    public let interceptionContexts: InterceptionContextCache
    /// The client context for upstream connections: verifies chains against the system roots and the extra bundle,
    /// and offers HTTP/2 and HTTP/1.1 in ALPN.
    public let upstreamTLS: NIOSSLContext
    /// The same, offering only HTTP/1.1 (for WebSocket handshakes, which need a connection of their own).
    public let upstreamTLSHTTP1Only: NIOSSLContext
    /// Reusable upstream connections, one pool per event loop.
    let upstreamPools = UpstreamPools()
    /// Bounds on memory and time.
    public let limits: ProxyLimits
    /// Where usage events go; `nil` when recording is off.
    public let recorder: UsageRecorder?
    /// The proxy's logger. Never given header values.
    public let logger: Logger
    /// What to do when usage records cannot be written.
    public let auditOnFailure: AuditFailurePolicy
    /// Keyed fingerprints of attached values, for records.
    public let fingerprinter: CredentialFingerprinter?
    /// Client authentication, environment silos and rate limits.
    public let access: ClientAccess
    /// When the proxy started, for `/status`.
    public let started = Date()
    /// The ports the proxy and admin listeners are bound to; requests aimed at them are refused.
    let ownListeners = OwnListeners()
    /// Exchanges and tunnels in progress, which a graceful shutdown waits for.
    let inFlight = Atomic<Int>(0)
    /// The open client connections, told to wind down when the proxy drains.
    let clientConnections = ClientConnections()
    /// Set once a graceful shutdown has begun: HTTP/1.1 responses then close their connection.
    let draining = Atomic<Bool>(false)
    /// The egress policy and the one DNS lookup per destination.
    let egress: EgressGate
    /// How each request's log line is written.
    public let requestLogFormat: RequestLogFormat

    /// Assembles a runtime.
    public init(
        credentials: CredentialVault,
        interceptionContexts: InterceptionContextCache,
        upstreamTLS: NIOSSLContext,
        upstreamTLSHTTP1Only: NIOSSLContext,
        limits: ProxyLimits,
        recorder: UsageRecorder?,
        logger: Logger,
        auditOnFailure: AuditFailurePolicy = .warn,
        fingerprinter: CredentialFingerprinter? = nil,
        policy: EgressPolicy = EgressPolicy(),
        access: ClientAccess = ClientAccess(),
        requestLogFormat: RequestLogFormat = .human
    ) {
        self.egress = EgressGate(policy: policy, resolver: DestinationResolver(threadPool: NIOThreadPool.singleton))
        self.access = access
        self.requestLogFormat = requestLogFormat
        self.auditOnFailure = auditOnFailure
        self.fingerprinter = fingerprinter
        self.credentials = credentials
        self.interceptionContexts = interceptionContexts
        self.upstreamTLS = upstreamTLS
        self.upstreamTLSHTTP1Only = upstreamTLSHTTP1Only
        self.limits = limits
        self.recorder = recorder
        self.logger = logger
    }

    /// The TLS settings for every connection the proxy makes to an upstream or token endpoint: full chain and
    /// host-name verification against the system roots plus `extraRootsFile`.
    public static func upstreamTLSConfiguration(extraRootsFile: String?) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .default
        if let extraRootsFile {
            let roots = try NIOSSLCertificate.fromPEMFile(extraRootsFile)
            guard !roots.isEmpty else {
                throw ServerSetupError("upstream.ca_bundle \(extraRootsFile) holds no PEM certificates")
            }
            configuration.additionalTrustRoots = [.certificates(roots)]
        }
        return configuration
    }

    /// Builds an upstream client context offering `protocols` in ALPN. Reads trust stores from disk: call it off
    /// any event loop.
    public static func makeUpstreamTLS(
        extraRootsFile: String?, protocols: [String] = ["h2", "http/1.1"]
    ) throws -> NIOSSLContext {
        var configuration = try upstreamTLSConfiguration(extraRootsFile: extraRootsFile)
        configuration.applicationProtocols = protocols
        return try NIOSSLContext(configuration: configuration)
    }

    /// Records a usage event and logs one line about it (names only, never values).
    func record(_ event: UsageEvent) {
        recorder?.record(event)
        ProxyMetrics.record(event)
        logger.info(
            "\(RequestLogLine.text(event))", metadata: requestLogFormat == .json ? RequestLogLine.metadata(event) : nil
        )
    }
}

extension ProxyRuntime {
    /// Starts a graceful shutdown of the client side: idle connections close, HTTP/2 connections get a GOAWAY, and
    /// responses from now on carry `Connection: close`. Exchanges in flight go on.
    func beginDraining() {
        guard !draining.exchange(true, ordering: .relaxed) else { return }
        clientConnections.quiesce()
    }

    /// The fingerprint to record for an attached value.
    func fingerprint(of material: InjectableMaterial) -> String? {
        guard let fingerprinter else { return nil }
        switch material {
        case .secret(let secret): return fingerprinter.fingerprint(of: secret)
        case .aws(let credentials): return fingerprinter.fingerprint(of: credentials.secretAccessKey)
        }
    }

    /// Why new requests must be refused right now, if they must: the recorder cannot write and the policy is
    /// `fail_closed`.
    var recordingRefusal: String? {
        guard auditOnFailure == .failClosed, let failure = recorder?.currentFailure else { return nil }
        return "usage records cannot be written (\(failure)); refusing requests until they can"
    }
}

/// The loopback ports tokenproxy itself listens on.
final class OwnListeners: Sendable {
    private let ports = Mutex<Set<Int>>([])

    func add(_ port: Int) {
        ports.withLock { _ = $0.insert(port) }
    }

    /// Whether `host:port` is one of the proxy's own listeners (any loopback spelling).
    func contains(host: String, port: Int) -> Bool {
        guard HostPort(host: host, port: port).isLoopback || host == "0.0.0.0" || host == "::" else { return false }
        return ports.withLock { $0.contains(port) }
    }
}

/// A problem assembling the server from its configuration.
public struct ServerSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
