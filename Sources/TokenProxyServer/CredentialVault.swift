import AsyncHTTPClient
import Foundation
import Metrics
import NIOCore
import Synchronization
import TokenProxyCore

/// The credentials a running proxy uses, swappable while it runs (a refreshed source replaces one value).
///
/// Each request takes one snapshot, so it sees one consistent set of rules and values from start to end.
public final class CredentialVault: Sendable {
    private struct State {
        var store: CredentialStore
        var providers: [String: OAuth2TokenProvider]
    }

    private let state: Mutex<State>
    private let httpClient: HTTPClient?
    private let previousUses = Mutex<[String: PreviousUse]>([:])

    /// Creates a vault over `store`; OAuth credentials get a token provider that fetches with `httpClient`.
    public init(store: CredentialStore, httpClient: HTTPClient?) {
        self.httpClient = httpClient
        self.state = Mutex(State(store: store, providers: Self.providers(for: store, httpClient: httpClient)))
    }

    /// The current store.
    public var snapshot: CredentialStore {
        state.withLock { $0.store }
    }

    /// Replaces the value of one credential (after a background re-read).
    public func update(_ name: String, to value: CredentialValue) {
        state.withLock { $0.store = $0.store.replacing(name, with: value) }
    }

    /// Replaces the whole store at once (a reload): requests that already took a snapshot keep theirs, new ones
    /// see only the new store. OAuth credentials get fresh token providers, since their settings may have changed.
    public func replace(with store: CredentialStore) {
        let providers = Self.providers(for: store, httpClient: httpClient)
        state.withLock { $0 = State(store: store, providers: providers) }
    }

    /// Puts `revocations` in force instead of the current ones, for every request that starts from now on.
    public func revoke(_ revocations: [String: Revocation]) {
        state.withLock { $0.store = $0.store.revoking(revocations) }
    }

    /// How often, and when last, each credential's previous value (`previous:`) was sent: the sign a rotation
    /// window can close once it stops growing.
    public struct PreviousUse: Sendable {
        /// Requests sent with the previous value since the proxy started.
        public var count: Int
        /// When the last of them was sent.
        public var last: Date
    }

    /// Counts a request sent with `name`'s previous value.
    func notePreviousUse(_ name: String) {
        previousUses.withLock { uses in
            uses[name] = PreviousUse(count: (uses[name]?.count ?? 0) + 1, last: Date())
        }
        Counter(label: "tokenproxy_previous_value_uses_total", dimensions: [("credential", name)]).increment()
    }

    /// The uses of previous values so far, by credential name.
    public var previousValueUses: [String: PreviousUse] {
        previousUses.withLock { $0 }
    }

    /// The OAuth token provider of `name`, if it is an OAuth credential.
    public func provider(named name: String) -> OAuth2TokenProvider? {
        state.withLock { $0.providers[name] }
    }

    private static func providers(
        for store: CredentialStore, httpClient: HTTPClient?
    ) -> [String: OAuth2TokenProvider] {
        var providers: [String: OAuth2TokenProvider] = [:]
        guard let httpClient else { return providers }
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
        return providers
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
            guard let provider = provider(named: name) else {
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
