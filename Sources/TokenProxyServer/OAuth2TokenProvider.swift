import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization
import TokenProxyCore

/// Fetches, caches and refreshes an OAuth 2.0 access token for one credential.
///
/// Concurrent requests that find no valid token share a single fetch. A token is used only until `refreshMargin`
/// before its `expires_in`; after that a fetch must succeed before the credential is injected again, so a client
/// never receives a stale token, and a failed fetch is reported to the client as a 502 with the reason.
public final class OAuth2TokenProvider: Sendable {
    /// How the proxy obtains tokens.
    public struct Settings: Sendable {
        /// The token endpoint (https, or http on loopback only).
        public var tokenURL: String
        /// The client identifier.
        public var clientID: String
        /// The client secret.
        public var clientSecret: Secret
        /// The requested scope, space separated.
        public var scope: String?
        /// When set, the `refresh_token` grant is used; otherwise `client_credentials`.
        public var refreshToken: Secret?
        /// How long before expiry a token is considered stale.
        public var refreshMargin: TimeInterval = 30
        /// How long a token without `expires_in` is used.
        public var defaultLifetime: TimeInterval = 300
        /// The whole fetch's deadline.
        public var timeout: TimeAmount = .seconds(15)

        /// Creates settings.
        public init(tokenURL: String, clientID: String, clientSecret: Secret, scope: String?, refreshToken: Secret?) {
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scope = scope
            self.refreshToken = refreshToken
        }
    }

    private struct CachedToken {
        var value: Secret
        var expires: Date
        /// When the token stops being handed out: `refreshMargin` before expiry, or a quarter of its lifetime
        /// before expiry for short-lived tokens, so a 60-second token is still used for 45 seconds.
        var staleAfter: Date
    }

    private struct State {
        var cached: CachedToken?
        var inFlight: Task<CachedToken, Error>?
        var refreshToken: Secret?
        var fetches = 0
    }

    /// The credential's name, for messages.
    public let name: String
    private let settings: Settings
    private let client: HTTPClient
    private let state: Mutex<State>

    /// Creates a provider that fetches with `client`.
    public init(name: String, settings: Settings, client: HTTPClient) {
        self.name = name
        self.settings = settings
        self.client = client
        self.state = Mutex(State(refreshToken: settings.refreshToken))
    }

    /// How many token requests were sent so far.
    public var fetchCount: Int { state.withLock { $0.fetches } }

    /// A valid access token, fetched if none is cached or the cached one is about to expire.
    public func accessToken(now: Date = Date()) async throws -> Secret {
        enum Next {
            case cached(Secret)
            case wait(Task<CachedToken, Error>)
        }
        let next: Next = state.withLock { state in
            if let cached = state.cached, now < cached.staleAfter {
                return .cached(cached.value)
            }
            if let inFlight = state.inFlight { return .wait(inFlight) }
            state.fetches += 1
            let refreshToken = state.refreshToken
            let fetch = Task { try await self.fetch(refreshToken: refreshToken) }
            state.inFlight = fetch
            return .wait(fetch)
        }
        let task: Task<CachedToken, Error>
        switch next {
        case .cached(let value): return value
        case .wait(let inFlight): task = inFlight
        }
        do {
            let token = try await task.value
            state.withLock { state in
                if state.inFlight == task {
                    state.inFlight = nil
                    state.cached = token
                }
            }
            return token.value
        } catch {
            state.withLock { state in
                if state.inFlight == task {
                    state.inFlight = nil
                    state.cached = nil
                }
            }
            throw error
        }
    }

    /// `accessToken()` as a future on `eventLoop`, for channel handlers.
    public func accessToken(on eventLoop: EventLoop) -> EventLoopFuture<Secret> {
        eventLoop.makeFutureWithTask { try await self.accessToken() }
    }

    private func fetch(refreshToken: Secret?) async throws -> CachedToken {
        var request = HTTPClientRequest(url: settings.tokenURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let credentials = Self.formEncode(settings.clientID) + ":"
            + settings.clientSecret.withUnsafeString { Self.formEncode($0) }
        request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        var form: [(String, String)] = []
        if let refreshToken {
            form.append(("grant_type", "refresh_token"))
            form.append(("refresh_token", refreshToken.withUnsafeString { $0 }))
        } else {
            form.append(("grant_type", "client_credentials"))
        }
        if let scope = settings.scope { form.append(("scope", scope)) }
        let body = form.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))

        let started = Date()
        let response: HTTPClientResponse
        let payload: ByteBuffer
        do {
            response = try await client.execute(request, timeout: settings.timeout)
            payload = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw OAuth2Error("token endpoint \(settings.tokenURL) failed: \(error)")
        }
        let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(buffer: payload))
        guard (200..<300).contains(response.status.code) else {
            // Endpoints sometimes quote what they were sent; nothing of ours may travel on in the message.
            let ours = [settings.clientSecret] + (refreshToken.map { [$0] } ?? [])
            var detail = ""
            if let error = decoded?.error { detail = ": \(Self.printable(error, redacting: ours))" }
            if let description = decoded?.errorDescription {
                detail += " (\(Self.printable(description, redacting: ours)))"
            }
            throw OAuth2Error(
                "token endpoint answered \(response.status.code)\(detail)"
            )
        }
        guard let decoded, let accessToken = decoded.accessToken, !accessToken.isEmpty else {
            throw OAuth2Error("token endpoint response has no access_token")
        }
        let token = Secret(accessToken)
        guard !token.containsHeaderUnsafeBytes else {
            throw OAuth2Error("the access token contains a control character")
        }
        if let newRefresh = decoded.refreshToken, !newRefresh.isEmpty {
            // Providers that rotate refresh tokens invalidate the old one: keep the newest.
            state.withLock { $0.refreshToken = Secret(newRefresh) }
        }
        let lifetime = decoded.expiresIn.map(TimeInterval.init) ?? settings.defaultLifetime
        let margin = min(settings.refreshMargin, lifetime / 4)
        return CachedToken(
            value: token, expires: started.addingTimeInterval(lifetime),
            staleAfter: started.addingTimeInterval(lifetime - margin)
        )
    }

    private struct TokenResponse: Decodable {
        var accessToken: String?
        var expiresIn: Int?
        var refreshToken: String?
        var error: String?
        var errorDescription: String?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case expiresIn = "expires_in"
            case refreshToken = "refresh_token"
            case error
            case errorDescription = "error_description"
        }
    }

    /// `application/x-www-form-urlencoded` encoding of one name or value: everything but RFC 3986 unreserved
    /// characters percent-encoded, as for query parameters.
    static func formEncode(_ text: String) -> String {
        QueryEncoding.encode(text)
    }

    /// `text` without control characters, cut to 200 characters, with every occurrence of `secrets` replaced.
    private static func printable(_ text: String, redacting secrets: [Secret]) -> String {
        var cleaned = String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
        for secret in secrets {
            secret.withUnsafeString { value in
                guard !value.isEmpty else { return }
                // Also as form-encoded, the way the endpoint received it.
                for spelling in Set([value, formEncode(value)]) {
                    cleaned = cleaned.replacingOccurrences(of: spelling, with: "<redacted>")
                }
            }
        }
        return String(cleaned.prefix(200))
    }
}

/// A failed OAuth 2.0 token fetch; the message names the credential and endpoint, never a secret.
public struct OAuth2Error: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
