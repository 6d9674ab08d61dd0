import Foundation
import Logging
import Metrics
import NIOPosix
import TokenProxyCore
import TokenProxyUsage

/// Changes a running proxy's credentials without dropping a request: reloads the configuration, revokes and
/// unrevokes credentials, and watches token age against `rotate_every:`.
///
/// An actor, so operations happen one at a time. Everything that blocks (reading the configuration, every source,
/// the state store) runs on the thread pool, never on an event loop. A new configuration replaces the old one only
/// when it loaded and every source resolved; then one immutable ``CredentialStore`` (rules, values, validity windows
/// and revocations) is swapped into the vault at once, and requests already running keep the snapshot they took.
public actor LifecycleController {
    /// Where a running proxy's settings come from and go to.
    public struct Dependencies: Sendable {
        /// The configuration file to reload; `nil` when the proxy runs on built-in defaults.
        public var configurationPath: String?
        /// Reads sources, with the proxy's environment.
        public var resolver: SecretResolver
        /// Where the new store goes.
        public var vault: CredentialVault
        /// Re-reads `ttl:` sources; told about each new configuration.
        public var refresher: CredentialRefresher
        /// Where revocations and first-seen times persist; `nil` when `audit.store` is off.
        public var stateStore: CredentialStateStore?
        /// Fingerprints values for `rotate_every:`.
        public var fingerprinter: CredentialFingerprinter?
        /// Writes audit records.
        public var recorder: @Sendable (UsageEvent) -> Void
        /// Logs (names, never values).
        public var logger: Logger

        /// Collects the dependencies.
        public init(
            configurationPath: String?, resolver: SecretResolver, vault: CredentialVault,
            refresher: CredentialRefresher, stateStore: CredentialStateStore?, fingerprinter: CredentialFingerprinter?,
            recorder: @escaping @Sendable (UsageEvent) -> Void, logger: Logger
        ) {
            self.configurationPath = configurationPath
            self.resolver = resolver
            self.vault = vault
            self.refresher = refresher
            self.stateStore = stateStore
            self.fingerprinter = fingerprinter
            self.recorder = recorder
            self.logger = logger
        }
    }

    /// What a reload did.
    public struct ReloadOutcome: Sendable {
        /// Whether the new configuration is now in force.
        public var applied: Bool
        /// On success, a summary and notes (settings that take effect on restart); on failure, every error, each
        /// `file:line: reason`.
        public var lines: [String]
    }

    /// Why an operator's request could not be carried out.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// One line, naming what was asked for; never a value.
        public var description: String
        /// Whether the thing asked for does not exist (404) rather than the request being wrong (400).
        public var isNotFound: Bool
    }

    private let dependencies: Dependencies
    /// What `/status` shows about credentials, readable without waiting for the actor.
    public nonisolated let board: LifecycleBoard
    /// The configuration the proxy started with: the one whose listen, CA, audit and timeout settings are in force.
    private let started: ProxyConfiguration
    /// The configuration in force for credentials and rules.
    public private(set) var configuration: ProxyConfiguration
    /// Revocations in force, by credential name.
    private var revocations: [String: Revocation]
    /// When each credential's current value was first seen (by fingerprint), for `rotate_every:`.
    private var firstSeen: [String: (fingerprint: String, date: Date)] = [:]
    /// The (credential, fingerprint) pairs already warned about, so a warning is given once per value.
    private var rotationWarned: Set<String> = []

    /// Creates a controller for a proxy started with `configuration` and `revocations` (loaded from the store).
    public init(configuration: ProxyConfiguration, revocations: [String: Revocation], dependencies: Dependencies) {
        self.started = configuration
        self.configuration = configuration
        self.revocations = revocations
        self.dependencies = dependencies
        self.board = LifecycleBoard(credentials: configuration.credentials)
    }

    // MARK: Reload

    /// Reads the configuration file and every source again, and puts the result in force if all of it is valid.
    ///
    /// - Parameter trigger: what asked for it (`SIGHUP`, `admin`, `watch`), for the log and the audit record.
    public func reload(trigger: String) async -> ReloadOutcome {
        guard let path = dependencies.configurationPath else {
            return ReloadOutcome(
                applied: false, lines: ["the proxy runs on built-in defaults (no --config file): nothing to reload"]
            )
        }
        let resolver = dependencies.resolver
        let loaded: Result<(ProxyConfiguration, CredentialStore), ReloadErrors>
        do {
            loaded = try await NIOThreadPool.singleton.runIfActive {
                Self.load(path: path, resolver: resolver)
            }
        } catch {
            loaded = .failure(ReloadErrors(lines: ["cannot reload now: \(error)"]))
        }
        var outcome = loaded
        if case .success(let (newConfiguration, _)) = loaded, let refusal = environmentChange(newConfiguration) {
            outcome = .failure(ReloadErrors(lines: [refusal]))
        }
        switch outcome {
        case .failure(let errors):
            let lines = errors.lines
            dependencies.logger.error("reload (\(trigger)) rejected; the previous configuration stays in force")
            for line in lines { dependencies.logger.error("  \(line)") }
            let reason = "reload (\(trigger)) rejected: " + lines.joined(separator: "; ")
            audit(method: "RELOAD", decision: .error, reason: reason)
            Counter(label: "tokenproxy_reloads_total", dimensions: [("result", "rejected")]).increment()
            return ReloadOutcome(applied: false, lines: lines)
        case .success(let (newConfiguration, store)):
            dependencies.vault.replace(with: store.revoking(revocations))
            dependencies.refresher.follow(newConfiguration)
            configuration = newConfiguration
            board.update { $0.credentials = newConfiguration.credentials }
            var lines = [
                "reloaded \(path): \(store.rules.rules.count) of \(newConfiguration.rules.count) rules active, "
                    + "\(newConfiguration.credentials.count) credentials"
            ]
            lines += store.notices.map { "notice: \($0)" }
            lines += restartOnlyChanges(newConfiguration).map { "note: \($0) changed; it takes effect on restart" }
            for line in lines { dependencies.logger.notice("\(line) (\(trigger))") }
            audit(method: "RELOAD", decision: .admin, reason: "reload (\(trigger)): " + lines.joined(separator: "; "))
            Counter(label: "tokenproxy_reloads_total", dimensions: [("result", "applied")]).increment()
            await checkRotation(now: Date())
            return ReloadOutcome(applied: true, lines: lines)
        }
    }

    /// The errors of a rejected configuration, one `file:line: reason` each.
    private struct ReloadErrors: Error {
        var lines: [String]
    }

    /// Loads and resolves the whole configuration at `path`; blocking.
    private static func load(
        path: String, resolver: SecretResolver
    ) -> Result<(ProxyConfiguration, CredentialStore), ReloadErrors> {
        do {
            let configuration = try ConfigurationLoader.load(path: path)
            do {
                return .success((configuration, try CredentialStore(configuration: configuration, resolver: resolver)))
            } catch {
                return .failure(ReloadErrors(lines: error.errors.map(\.description)))
            }
        } catch {
            return .failure(ReloadErrors(lines: [error.description]))
        }
    }

    /// The settings that differ from those the proxy started with and cannot change while it runs.
    private func restartOnlyChanges(_ new: ProxyConfiguration) -> [String] {
        var changed: [String] = []
        if new.listen != started.listen { changed.append("listen") }
        if new.adminListen != started.adminListen { changed.append("admin.listen") }
        if new.caDirectory != started.caDirectory { changed.append("ca.dir") }
        if new.upstreamCABundle != started.upstreamCABundle { changed.append("upstream.ca_bundle") }
        if new.auditLogPath != started.auditLogPath || new.usageStorePath != started.usageStorePath
            || new.auditSync != started.auditSync || new.auditMaxBytes != started.auditMaxBytes
            || new.auditOnFailure != started.auditOnFailure
        {
            changed.append("audit")
        }
        if new.timeouts != started.timeouts { changed.append("timeouts") }
        // Client identities, the egress policy and rate limits are built once, when the proxy starts.
        if new.clients != started.clients { changed.append("clients") }
        if new.listenTLS != started.listenTLS { changed.append("listen_tls") }
        if new.policy != started.policy { changed.append("policy") }
        let limits = { (configuration: ProxyConfiguration) in
            Dictionary(configuration.credentials.map { ($0.name, $0.limits) }, uniquingKeysWith: { first, _ in first })
        }
        if limits(new) != limits(started) { changed.append("credential rate limits") }
        return changed
    }

    /// Why `new` cannot be applied while the proxy runs, if it changes a credential's `environment:` tag (or adds a
    /// tagged credential): environment silos are enforced with the tags the proxy started with, and serving a
    /// token under a tag the silo check does not know would let it cross environments.
    private func environmentChange(_ new: ProxyConfiguration) -> String? {
        for credential in new.credentials {
            let before = started.credentials.first { $0.name == credential.name }?.environment
            guard credential.environment != before else { continue }
            let was = before.map { "'\($0)'" } ?? "untagged"
            let now = credential.environment.map { "'\($0)'" } ?? "untagged"
            return "credential '\(credential.name)': environment changes from \(was) to \(now); environment tags "
                + "cannot change while the proxy runs (the silo check uses those it started with): restart it"
        }
        return nil
    }

    // MARK: Revoke

    /// Takes `names` (or, with `nil`, every configured credential) out of service for every request that starts
    /// from now on, and records it in the state store.
    ///
    /// - Returns: what was done, one line each; a line starting `warning:` when the revocation could not be
    ///   persisted (it is in force anyway: an incident cannot wait for a disk).
    public func revoke(_ names: [String]?, reason: String?) async throws(Failure) -> [String] {
        let targets = try resolveNames(names, forRevoking: true)
        let revocation = Revocation(reason: reason, time: Date())
        for name in targets { revocations[name] = revocation }
        dependencies.vault.revoke(revocations)
        var lines = targets.map { "revoked '\($0)'" + (reason.map { " (\($0))" } ?? "") }
        if let warning = await persist({ try $0.revoke(targets, revocation) }) { lines.append(warning) }
        for name in targets {
            dependencies.logger.warning("credential '\(name)' revoked\(reason.map { " (\($0))" } ?? "")")
            let why = reason ?? "no reason given"
            audit(method: "REVOKE", decision: .admin, reason: "credential '\(name)' revoked (\(why))")
        }
        return lines
    }

    /// Puts `names` (or, with `nil`, every revoked credential) back in service.
    public func unrevoke(_ names: [String]?) async throws(Failure) -> [String] {
        let targets = try resolveNames(names, forRevoking: false)
        for name in targets { revocations[name] = nil }
        dependencies.vault.revoke(revocations)
        var lines = targets.isEmpty ? ["no credential was revoked"] : targets.map { "unrevoked '\($0)'" }
        if let warning = await persist({ try $0.unrevoke(names == nil ? nil : targets) }) { lines.append(warning) }
        for name in targets {
            dependencies.logger.notice("credential '\(name)' back in service")
            audit(method: "UNREVOKE", decision: .admin, reason: "credential '\(name)' unrevoked")
        }
        return lines
    }

    /// The credentials an operator named, checked: configured ones to revoke, revoked ones to unrevoke.
    private func resolveNames(_ names: [String]?, forRevoking: Bool) throws(Failure) -> [String] {
        let configured = configuration.credentials.map(\.name)
        guard let names else { return forRevoking ? configured : revocations.keys.sorted() }
        for name in names {
            if forRevoking, !configured.contains(name) {
                let file = configuration.file ?? "the built-in configuration"
                throw Failure(description: "no credential named '\(name)' in \(file)", isNotFound: true)
            }
            if !forRevoking, revocations[name] == nil {
                throw Failure(description: "credential '\(name)' is not revoked", isNotFound: true)
            }
        }
        return names
    }

    /// Runs `change` on the state store off the event loops; a warning line when it cannot be persisted.
    private func persist(_ change: @escaping @Sendable (CredentialStateStore) throws -> Void) async -> String? {
        guard let store = dependencies.stateStore else {
            return "warning: not persisted: the usage store is off (audit.store: null), so this lasts until the "
                + "proxy stops"
        }
        do {
            try await NIOThreadPool.singleton.runIfActive { try change(store) }
            return nil
        } catch {
            dependencies.logger.error("cannot persist a revocation change: \(error)")
            return "warning: in force now but not persisted (\(error)); it lasts until the proxy stops"
        }
    }

    // MARK: Rotation

    /// Notes when each credential's current value was first seen, and warns (log, audit, metric) once per value
    /// when its age passes the credential's `rotate_every:`.
    public func checkRotation(now: Date) async {
        guard let fingerprinter = dependencies.fingerprinter else { return }
        let store = dependencies.vault.snapshot
        for credential in configuration.credentials {
            guard let interval = credential.rotateEvery, let value = store.value(named: credential.name),
                let fingerprint = fingerprinter.fingerprint(of: value)
            else { continue }
            if firstSeen[credential.name]?.fingerprint != fingerprint {
                let date = await recordFirstSeen(credential.name, fingerprint: fingerprint, now: now)
                firstSeen[credential.name] = (fingerprint, date)
            }
            guard let seen = firstSeen[credential.name] else { continue }
            let overdue = now.timeIntervalSince(seen.date) >= Self.seconds(interval)
            board.update { $0.firstSeen[credential.name] = seen.date }
            Gauge(label: "tokenproxy_credential_rotation_overdue", dimensions: [("credential", credential.name)])
                .record(overdue ? 1 : 0)
            let key = credential.name + " " + fingerprint
            guard overdue, rotationWarned.insert(key).inserted else { continue }
            let seenAt = RFC3339.string(from: seen.date)
            let message = "credential '\(credential.name)': its value was first seen \(seenAt), longer ago than "
                + "rotate_every; rotate it"
            dependencies.logger.warning("\(message)")
            audit(method: "ROTATE", decision: .admin, reason: message)
        }
    }

    private func recordFirstSeen(_ name: String, fingerprint: String, now: Date) async -> Date {
        guard let store = dependencies.stateStore else { return now }
        do {
            return try await NIOThreadPool.singleton.runIfActive {
                try store.firstSeen(credential: name, fingerprint: fingerprint, now: now)
            }
        } catch {
            dependencies.logger.error("cannot record when credential '\(name)' was first seen: \(error)")
            return now
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        duration.timeInterval
    }

    // MARK: Records

    private func audit(method: String, decision: UsageEvent.Decision, reason: String) {
        dependencies.recorder(
            UsageEvent(
                time: Date(), client: "tokenproxy", method: method, host: "", port: 0, path: nil, rule: nil,
                credential: nil, status: 0, bytesIn: 0, bytesOut: 0, durationMilliseconds: 0, decision: decision,
                reason: reason
            )
        )
    }
}

extension LifecycleController {
    /// Opens the state store of `configuration` (the usage store's file) and reads the revocations in force; at
    /// startup, before anything is served. Without a usage store revocations live in memory only (and the
    /// operator is told so when revoking).
    public static func openState(
        configuration: ProxyConfiguration, logger: Logger
    ) throws -> (CredentialStateStore?, [String: Revocation]) {
        guard let path = configuration.usageStorePath else { return (nil, [:]) }
        let store = try CredentialStateStore(path: path)
        let revocations = try store.revocations()
        for (name, revocation) in revocations.sorted(by: { $0.key < $1.key }) {
            let since = RFC3339.string(from: revocation.time)
            let reason = revocation.reason.map { ": \($0)" } ?? ""
            let undo = "'tokenproxy unrevoke \(name)' puts it back"
            logger.warning("credential '\(name)' is revoked (since \(since)\(reason)); \(undo)")
        }
        return (store, revocations)
    }
}
