import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TokenProxyCore

/// Re-reads the sources of credentials that have a `ttl:` in the background and swaps the new values in.
///
/// A failed read keeps the last good value, is logged, and is recorded in the audit log (method `REFRESH`,
/// decision `error`), so a rotated token that stops resolving is noticed before the old one expires. Reads run on
/// the thread pool: file and command sources block.
public struct CredentialRefresher: Service {
    private let credentials: [CredentialConfiguration]
    private let resolver: SecretResolver
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
        self.credentials = configuration.credentials.filter { $0.refreshInterval != nil }
        self.resolver = resolver
        self.vault = vault
        self.recorder = recorder
        self.logger = logger
    }

    /// Whether any credential needs refreshing.
    public var isNeeded: Bool { !credentials.isEmpty }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for credential in credentials {
                group.addTask { await refreshLoop(credential) }
            }
        }
    }

    private func refreshLoop(_ credential: CredentialConfiguration) async {
        guard let interval = credential.refreshInterval else { return }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            await refreshOnce(credential)
        }
    }

    /// Reads `credential` once and either swaps the value in or records why it could not.
    func refreshOnce(_ credential: CredentialConfiguration) async {
        let resolver = self.resolver
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
