/// The whole configuration of a tokenproxy instance, as loaded from YAML or built from defaults.
///
/// Relative paths are relative to the working directory tokenproxy was started in, so the shipped
/// `Config/tokenproxy.yaml` with `ca: { dir: Certs }` puts the CA in `./Certs`.
public struct ProxyConfiguration: Sendable {
    /// The proxy's listen address.
    public var listen: HostPort
    /// The directory holding `ca.pem` and `ca-key.pem`.
    public var caDirectory: String
    /// Extra PEM roots trusted for upstream servers, beside the system trust store.
    public var upstreamCABundle: String?
    /// The append-only JSON-lines usage log; `nil` turns recording off.
    public var auditLogPath: String?
    /// The credentials, in file order.
    public var credentials: [CredentialConfiguration]
    /// The rules, in file order.
    public var rules: [Rule]
    /// How long each step may take.
    public var timeouts = Timeouts()
    /// The SQLite usage store (per-request rows and per-credential aggregates); `nil` turns it off.
    public var usageStorePath: String? = "state/usage.db"
    /// How often the audit log is made durable.
    public var auditSync: AuditSyncPolicy = .interval
    /// Rotate the audit log when it would grow past this many bytes; `nil` never rotates.
    public var auditMaxBytes: Int?
    /// What to do when usage records cannot be written.
    public var auditOnFailure: AuditFailurePolicy = .warn
    /// The admin endpoint (health, metrics, status); `nil` runs none.
    public var adminListen: HostPort?
    /// Where the proxy may connect, and how closely it inspects requests (`policy:`).
    public var policy = EgressPolicy()
    /// The TLS listener (`listen_tls:`), beside `listen`; `nil` runs none.
    public var listenTLS: ListenTLSConfiguration?
    /// The clients allowed to use the proxy (`clients:`); empty means no authentication.
    public var clients: [ClientConfiguration] = []
    /// The file this configuration came from, or `nil` for built-in defaults.
    public var file: String?
    /// When `true` (`watch:`), a running proxy reloads the file when it changes.
    public var watch = false

    /// The default listen address: loopback only.
    public static let defaultListen = HostPort(host: "127.0.0.1", port: 8080)

    /// Creates a configuration; every parameter has the workstation default.
    public init(
        listen: HostPort = ProxyConfiguration.defaultListen,
        caDirectory: String = "Certs",
        upstreamCABundle: String? = nil,
        auditLogPath: String? = "state/audit.jsonl",
        credentials: [CredentialConfiguration] = [],
        rules: [Rule] = [],
        file: String? = nil
    ) {
        self.listen = listen
        self.caDirectory = caDirectory
        self.upstreamCABundle = upstreamCABundle
        self.auditLogPath = auditLogPath
        self.credentials = credentials
        self.rules = rules
        self.file = file
    }

    /// The built-in workstation defaults: loopback listener, `./Certs`, `./state/audit.jsonl`, no rules
    /// (so every CONNECT is tunnelled untouched until rules are configured).
    public static let workstationDefaults = ProxyConfiguration()

    /// The credential named `name`, if configured.
    public func credential(named name: String) -> CredentialConfiguration? {
        credentials.first { $0.name == name }
    }
}
