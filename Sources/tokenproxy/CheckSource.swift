import Foundation
import TokenProxyCore

/// What every check of `tokenproxy check` looks at: the loaded configuration and the outcome of resolving its
/// credentials (done once, since sources may run commands).
struct CheckContext {
    /// The configuration being checked.
    let configuration: ProxyConfiguration
    /// The credentials resolved from it, or the errors that stopped them.
    let credentials: Result<CredentialStore, ConfigurationErrors>
    /// Whether host names may be looked up (`--no-dns` turns it off).
    let lookUpHosts: Bool
    /// The time the checks judge expiry against.
    let now: Date
}

/// One kind of finding `tokenproxy check` reports. Adding a check is adding a type and listing it in
/// ``CheckCommand/sources``; each returns its findings in configuration order.
protocol CheckSource: Sendable {
    /// The findings about `context`.
    func findings(in context: CheckContext) -> [CheckFinding]
}
