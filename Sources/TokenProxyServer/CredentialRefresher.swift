import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TokenProxyCore

/// Re-reads the sources of credentials that have a `ttl:` in the background and swaps the new values in.
///
/// A failed read keeps the last good value, is logged, and is recorded in the audit log (method `REFRESH`,
/// decision `error`), so a rotated token that stops resolving is noticed before the old one expires. Reads run on
/// the thread pool: file and command sources block. A reload hands it the new credentials (``follow(_:)``): from
/// then on it re-reads those, and a read of a credential the reload changed or removed is thrown away.
public final class CredentialRefresher: Service, Sendable {
    private let current: Mutex<[CredentialConfiguration]>
    /// The credentials being read right now, so a slow source is never read twice at once.
    private let running = Mutex<Set<CredentialConfiguration>>([])
    /// Reads sources; its variables hidden from `command:` sources follow the configuration in force.
    private let resolver: Mutex<SecretResolver>
    private let vault: CredentialVault
    private let recorder: @Sendable (UsageEvent) -> Void
    private let logger: Logger

    /// Creates a refresher for the credentials of `configuration` that have a refresh interval.
    public init(
        configuration: ProxyConfiguration, resolver: SecretResolver, vault: CredentialVault, logger: Logger,
        recorder: @escaping @Sendable (UsageEvent) -> Void
    ) {
        var resolver = resolver
        if resolver.sealingKeyDirectory == nil { resolver.sealingKeyDirectory = configuration.caDirectory }
        resolver.secretVariables.formUnion(CredentialStore.environmentVariables(of: configuration.credentials))
        self.current = Mutex(configuration.credentials.filter { $0.refreshInterval != nil })
        self.resolver = Mutex(resolver)
        self.vault = vault
        self.recorder = recorder
        self.logger = logger
    }

    /// Whether any credential needs refreshing.
    public var isNeeded: Bool { !credentials.isEmpty }

    /// The credentials being refreshed.
    private var credentials: [CredentialConfiguration] { current.withLock { $0 } }

    /// Refreshes the credentials of `configuration` from now on, instead of the ones before (after a reload).
    public func follow(_ configuration: ProxyConfiguration) {
        // A reload may add `env:` sources: programs run by `command:` sources must not see those variables either.
        resolver.withLock {
            $0.secretVariables.formUnion(CredentialStore.environmentVariables(of: configuration.credentials))
        }
        current.withLock { $0 = configuration.credentials.filter { $0.refreshInterval != nil } }
    }

    /// How often the schedule is checked: the resolution of `ttl:`.
    private static let tick = Duration.milliseconds(250)

    public func run() async throws {
        let clock = ContinuousClock()
        await withDiscardingTaskGroup { group in
            // Due times per credential definition: a reload that changes a definition starts its interval afresh.
            var due: [CredentialConfiguration: ContinuousClock.Instant] = [:]
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await Task.sleep(for: Self.tick)
                } catch {
                    return
                }
                let now = clock.now
                let credentials = self.credentials
                due = due.filter { credentials.contains($0.key) }
                for credential in credentials {
                    guard let interval = credential.refreshInterval else { continue }
                    guard let next = due[credential] else {
                        due[credential] = now + interval
                        continue
                    }
                    guard now >= next, running.withLock({ $0.insert(credential).inserted }) else { continue }
                    due[credential] = now + interval
                    group.addTask {
                        await self.refreshOnce(credential)
                        self.running.withLock { _ = $0.remove(credential) }
                    }
                }
            }
        }
    }

    /// Reads `credential` once and either swaps the value in or records why it could not.
    func refreshOnce(_ credential: CredentialConfiguration) async {
        let resolver = self.resolver.withLock { $0 }
        let outcome: Result<CredentialStore.Outcome, ConfigurationError> = await withCheckedContinuation { done in
            NIOThreadPool.singleton.submit { _ in
                do throws(ConfigurationError) {
                    done.resume(returning: .success(try CredentialStore.resolve(credential, resolver: resolver)))
                } catch {
                    done.resume(returning: .failure(error))
                }
            }
        }
        switch outcome {
        case .success(.resolved(let value)):
            // A reload meanwhile may have changed or removed this credential: its value is the reload's to set.
            guard credentials.contains(credential) else { return }
            vault.update(credential.name, to: value)
            logger.debug("credential '\(credential.name)' re-read from \(credential.source)")
        case .success(.absent(let reason)):
            report(credential, reason: reason)
        case .failure(let error):
            report(credential, reason: error.message)
        }
    }

    private func report(_ credential: CredentialConfiguration, reason: String) {
        logger.warning("credential '\(credential.name)': re-reading its source failed (\(reason)); keeping the last good value")
        recorder(
            UsageEvent(
                time: Date(), client: "tokenproxy", method: "REFRESH", host: "", port: 0, path: nil, rule: nil,
                credential: credential.name, status: 0, bytesIn: 0, bytesOut: 0, durationMilliseconds: 0,
                decision: .error, reason: "source refresh failed: \(reason); keeping the last good value"
            )
        )
    }
}
