import Foundation
import TokenProxyCore
import TokenProxyUsage

extension CheckCommand {
    /// How far ahead `check` warns about an `expires:`.
    static let expiryWarningWindow: TimeInterval = 7 * 86_400

    /// The lifecycle part of `check`: warnings (exit 0) about credentials that expire within 7 days, have expired or
    /// are not valid yet; with `staleDays`, a failure (exit 1) naming every configured credential unused for that
    /// many days according to the usage store, so CI can insist that retired tokens are removed.
    static func checkLifecycle(_ configuration: ProxyConfiguration, staleDays: Int?, now: Date = Date()) throws {
        for line in expiryWarnings(configuration.credentials, now: now) { print("warning: \(line)") }
        guard let staleDays else { return }
        guard staleDays >= 1 else { throw CLIFailure("--stale takes a number of days, 1 or more; got \(staleDays)") }
        guard let path = configuration.usageStorePath else {
            let file = configuration.file ?? "the configuration"
            throw CLIFailure("--stale reads the usage store, and audit.store is off in \(file)")
        }
        let lastUsed: [String: Date]
        do {
            let reader = try UsageStoreReader(path: path)
            defer { reader.close() }
            lastUsed = try reader.lastUsed()
        } catch let error as UsageStoreError where error.isNotFound {
            lastUsed = [:]  // nothing recorded yet: every credential is unused
        }
        let stale = StaleCredential.select(
            days: staleDays, configured: configuration.credentials.map(\.name), lastUsed: lastUsed, now: now
        )
        guard !stale.isEmpty else {
            print("stale: no configured credential has gone unused for \(staleDays) days or more")
            return
        }
        for entry in stale {
            let last = entry.lastUsed.map { "last used \(RFC3339.string(from: $0))" } ?? "never used"
            printError("tokenproxy: error: credential '\(entry.credential)' is still configured but \(last)")
        }
        throw CLIFailure(
            "\(stale.count) credential\(stale.count == 1 ? "" : "s") unused for \(staleDays) days or more: revoke "
                + "\(stale.count == 1 ? "it" : "them") at the issuer and remove \(stale.count == 1 ? "it" : "them") "
                + "from \(configuration.file ?? "the configuration")"
        )
    }

    /// One line per credential that has expired, expires within ``expiryWarningWindow``, or is not valid yet.
    static func expiryWarnings(_ credentials: [CredentialConfiguration], now: Date) -> [String] {
        credentials.compactMap { credential -> String? in
            if let expires = credential.expires {
                if expires <= now {
                    return "credential '\(credential.name)' expired at \(RFC3339.string(from: expires)); "
                        + "requests using it are refused"
                }
                if expires.timeIntervalSince(now) <= expiryWarningWindow {
                    let days = Int((expires.timeIntervalSince(now) / 86_400).rounded(.down))
                    let left = days == 0 ? "less than a day" : "\(days) day\(days == 1 ? "" : "s")"
                    return "credential '\(credential.name)' expires at \(RFC3339.string(from: expires)) (in \(left))"
                }
            }
            if let notBefore = credential.notBefore, notBefore > now {
                return "credential '\(credential.name)' is not valid until \(RFC3339.string(from: notBefore))"
            }
            return nil
        }
    }
}
