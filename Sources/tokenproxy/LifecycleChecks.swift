import Foundation
import TokenProxyCore
import TokenProxyUsage

/// `check`'s warnings about credentials that expire within a week, have expired, or are not valid yet.
struct CredentialExpiryCheck: CheckSource {
    /// How far ahead `check` warns about an `expires:`.
    static let warningWindow: TimeInterval = 7 * 86_400

    func findings(in context: CheckContext) -> [CheckFinding] {
        Self.warnings(context.configuration.credentials, now: context.now).map {
            CheckFinding(.warning, check: "expiry", $0)
        }
    }

    /// One line per credential that has expired, expires within ``warningWindow``, or is not valid yet.
    static func warnings(_ credentials: [CredentialConfiguration], now: Date) -> [String] {
        credentials.compactMap { credential -> String? in
            if let expires = credential.expires {
                if expires <= now {
                    return "credential '\(credential.name)' expired at \(RFC3339.string(from: expires)); "
                        + "requests using it are refused"
                }
                if expires.timeIntervalSince(now) <= warningWindow {
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

/// `check --stale DAYS`: an error for every configured credential the usage store has not seen used for DAYS days,
/// so CI can insist that retired tokens are revoked and removed.
struct StaleCredentialsCheck: CheckSource {
    /// The number of days without use that makes a credential stale (1 or more).
    let days: Int

    func findings(in context: CheckContext) -> [CheckFinding] {
        let configuration = context.configuration
        guard let path = configuration.usageStorePath else {
            let file = configuration.file ?? "the configuration"
            return [CheckFinding(.error, check: "stale", "--stale reads the usage store, and audit.store is off in \(file)")]
        }
        let lastUsed: [String: Date]
        do {
            let reader = try UsageStoreReader(path: path)
            defer { reader.close() }
            lastUsed = try reader.lastUsed()
        } catch let error as UsageStoreError where error.isNotFound {
            lastUsed = [:]  // nothing recorded yet: every credential is unused
        } catch {
            return [CheckFinding(.error, check: "stale", "cannot read the usage store \(path): \(error)")]
        }
        let stale = StaleCredential.select(
            days: days, configured: configuration.credentials.map(\.name), lastUsed: lastUsed, now: context.now
        )
        guard !stale.isEmpty else {
            return [CheckFinding(.ok, check: "stale", "stale: no configured credential has gone unused for \(days) days or more")]
        }
        let file = configuration.file ?? "the configuration"
        return stale.map { entry in
            let last = entry.lastUsed.map { "last used \(RFC3339.string(from: $0))" } ?? "never used"
            return CheckFinding(
                .error, check: "stale",
                "credential '\(entry.credential)' is still configured but \(last): revoke it at the issuer and "
                    + "remove it from \(file)"
            )
        }
    }
}
