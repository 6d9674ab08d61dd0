import AsyncHTTPClient
import NIOCore
import Synchronization
import TokenProxyCore

/// The credentials a running proxy uses, swappable while it runs (a refreshed source replaces one value).
///
/// Each request takes one snapshot, so it sees one consistent set of rules and values from start to end.
public final class CredentialVault: Sendable {
    private let store: Mutex<CredentialStore>
    private let providers: [String: OAuth2TokenProvider]

    /// Creates a vault over `store`; OAuth credentials get a token provider that fetches with `httpClient`.
    public init(store: CredentialStore, httpClient: HTTPClient?) {
        self.store = Mutex(store)
        var providers: [String: OAuth2TokenProvider] = [:]
        if let httpClient {
            for name in store.loadedCredentialNames {
                guard case .oauth2(let client) = store.value(named: name) else { continue }
                providers[name] = OAuth2TokenProvider(
                    name: name,
                    settings: .init(
                        tokenURL: client.configuration.tokenURL, clientID: client.configuration.clientID,
                        clientSecret: client.clientSecret, scope: client.configuration.scope,
                        refreshToken: client.refreshToken
                    ),
                    client: httpClient
                )
            }
        }
        self.providers = providers
    }

    /// The current store.
    public var snapshot: CredentialStore {
        store.withLock { $0 }
    }

    /// Replaces the value of one credential (after a background re-read).
    public func update(_ name: String, to value: CredentialValue) {
        store.withLock { $0 = $0.replacing(name, with: value) }
    }

    /// The OAuth token provider of `name`, if it is an OAuth credential.
    public func provider(named name: String) -> OAuth2TokenProvider? {
        providers[name]
    }

    /// The material to attach for `name`, completed on `eventLoop`: immediately for stored values, after a token
    /// fetch for OAuth credentials whose cached token is missing or about to expire.
    func material(for name: String, in store: CredentialStore, on eventLoop: EventLoop) -> EventLoopFuture<InjectableMaterial> {
        switch store.value(named: name) {
        case .token(let secret):
            return eventLoop.makeSucceededFuture(.secret(secret))
        case .aws(let credentials):
            return eventLoop.makeSucceededFuture(.aws(credentials))
        case .oauth2:
            guard let provider = providers[name] else {
                return eventLoop.makeFailedFuture(OAuth2Error("credential '\(name)' has no token provider"))
            }
            return provider.accessToken(on: eventLoop).map { .secret($0) }
        case .none:
            return eventLoop.makeFailedFuture(OAuth2Error("credential '\(name)' is not loaded"))
        }
    }
}

/// What a rule attaches: a secret string, or AWS keys to sign with.
enum InjectableMaterial: Sendable {
    case secret(Secret)
    case aws(AWSCredentials)
}
