import Foundation

/// Who may use the proxy and how much: client authentication, per-client credential allow-lists, environment silos
/// and rate limits, decided for each exchange.
///
/// With no `clients:` configured, requests are anonymous and only the credentials' own rate limits apply.
public struct ClientAccess: Sendable {
    /// What to do with one exchange.
    public enum Verdict: Sendable, Equatable {
        /// Go ahead.
        case proceed
        /// Answer locally with `status` (403 or 429) and `reason`; `retryAfterSeconds` goes into `Retry-After`.
        case refuse(status: Int, reason: String, retryAfterSeconds: Int?)
    }

    /// Authenticates proxy requests.
    public let authenticator: ClientAuthenticator
    /// The rate limits of clients and credentials.
    public let limiter: RateLimiter
    /// Each credential's environment tag, by name.
    private let credentialEnvironments: [String: String]

    /// Creates access control from parts, for tests and embedding.
    public init(
        authenticator: ClientAuthenticator = ClientAuthenticator(clients: [], keys: [:]),
        limiter: RateLimiter = RateLimiter(limits: [:]),
        credentialEnvironments: [String: String] = [:]
    ) {
        self.authenticator = authenticator
        self.limiter = limiter
        self.credentialEnvironments = credentialEnvironments
    }

    /// Builds access control for `configuration`, reading every client key from its source.
    public init(configuration: ProxyConfiguration, resolver: SecretResolver) throws(ConfigurationErrors) {
        var resolver = resolver
        if resolver.sealingKeyDirectory == nil { resolver.sealingKeyDirectory = configuration.caDirectory }
        let keys = try ClientAuthenticator.readKeys(of: configuration.clients, resolver: resolver)
        var limits: [RateLimiter.Subject: RateLimits] = [:]
        for client in configuration.clients { limits[.client(client.name)] = client.limits }
        for credential in configuration.credentials { limits[.credential(credential.name)] = credential.limits }
        var environments: [String: String] = [:]
        for credential in configuration.credentials {
            if let environment = credential.environment { environments[credential.name] = environment }
        }
        self.init(
            authenticator: ClientAuthenticator(clients: configuration.clients, keys: keys),
            limiter: RateLimiter(limits: limits),
            credentialEnvironments: environments
        )
    }

    /// Decides one exchange of `client` (`nil` when the proxy is open) that would attach `rule`'s credential
    /// (`nil` for a request without one, or a blind tunnel), and counts it against the rate limits when it proceeds.
    public func admit(client: ClientConfiguration?, rule: Rule?, now: Date = Date()) -> Verdict {
        if let client, let rule {
            guard client.mayUse(rule) else {
                return .refuse(
                    status: 403,
                    reason: "client '\(client.name)' may not use credential '\(rule.credential)' "
                        + "(rules[\(rule.index)]); the request was not forwarded",
                    retryAfterSeconds: nil
                )
            }
            let credentialEnvironment = credentialEnvironments[rule.credential]
            if credentialEnvironment != nil && credentialEnvironment != client.environment {
                return .refuse(
                    status: 403,
                    reason: "environment mismatch: credential '\(rule.credential)' is for environment "
                        + "'\(credentialEnvironment ?? "")', client '\(client.name)' is "
                        + (client.environment.map { "'\($0)'" } ?? "untagged") + "; the request was not forwarded",
                    retryAfterSeconds: nil
                )
            }
        }
        var subjects: [RateLimiter.Subject] = []
        if let client { subjects.append(.client(client.name)) }
        if let rule { subjects.append(.credential(rule.credential)) }
        if let refusal = limiter.acquire(subjects, now: now) {
            return .refuse(
                status: 429, reason: "\(refusal.reason); retry after \(refusal.retryAfterSeconds) s",
                retryAfterSeconds: refusal.retryAfterSeconds
            )
        }
        return .proceed
    }
}
