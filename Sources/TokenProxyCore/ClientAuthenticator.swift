import Crypto
import Foundation

/// Decides who a proxy request comes from: a client certificate verified by the TLS listener, or a key sent as
/// `Proxy-Authorization` (`Basic base64(NAME:KEY)` or `Bearer KEY`).
///
/// Keys are kept only as SHA-256 digests and compared in constant time (every client's digest is compared, with no
/// early exit), so neither the comparison's timing nor this value's memory gives a key away.
public struct ClientAuthenticator: Sendable {
    /// What authentication found.
    public enum Outcome: Sendable {
        /// No `clients:` are configured: the proxy is open to whoever reaches its listener.
        case open
        /// The request comes from this client.
        case client(ClientConfiguration)
        /// Missing or wrong authentication; the reason names no key.
        case refused(String)
    }

    /// The realm sent in `Proxy-Authenticate` challenges.
    public static let realm = "tokenproxy"
    /// The `Proxy-Authenticate` values of a 407: both schemes a client may use.
    public static let challenges = ["Basic realm=\"\(realm)\"", "Bearer realm=\"\(realm)\""]

    private let clients: [ClientConfiguration]
    private let keyDigests: [(client: ClientConfiguration, digest: [UInt8])]

    /// Creates an authenticator for `clients`, whose keys (by client name) were read already.
    public init(clients: [ClientConfiguration], keys: [String: Secret]) {
        self.clients = clients
        self.keyDigests = clients.compactMap { client in
            keys[client.name].map { (client, Self.digest($0)) }
        }
    }

    /// Whether requests must authenticate at all (`clients:` is configured).
    public var isRequired: Bool { !clients.isEmpty }

    /// Reads every client key from its source, collecting every error.
    public static func readKeys(
        of clients: [ClientConfiguration], resolver: SecretResolver
    ) throws(ConfigurationErrors) -> [String: Secret] {
        var keys: [String: Secret] = [:]
        var errors: [ConfigurationError] = []
        for client in clients {
            guard let source = client.key else { continue }
            let holder = CredentialConfiguration(
                name: client.keySourceName, source: source, location: client.location,
                sourceLocation: client.keyLocation
            )
            do {
                if case .value(let secret) = try resolver.read(source, credential: holder, part: nil) {
                    keys[client.name] = secret
                }
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { throw ConfigurationErrors(errors) }
        return keys
    }

    /// Authenticates one proxy request.
    ///
    /// - Parameters:
    ///   - proxyAuthorization: the request's `Proxy-Authorization` values.
    ///   - certificate: the names of the client certificate the TLS listener verified, if one was presented.
    public func authenticate(proxyAuthorization: [String], certificate: CertificateNames?) -> Outcome {
        guard isRequired else { return .open }
        if let certificate {
            // A verified certificate is the stronger proof; one that names no client is refused, not ignored.
            guard let client = clients.first(where: { $0.certificate?.matches(certificate) == true }) else {
                return .refused("client certificate (\(certificate)) does not name any configured client")
            }
            return .client(client)
        }
        guard let header = proxyAuthorization.first else {
            return .refused(
                "proxy authentication required: send a client key (Basic or Bearer) or a client certificate"
            )
        }
        guard proxyAuthorization.count == 1 else {
            return .refused("more than one Proxy-Authorization header")
        }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        let scheme = trimmed.prefix { $0 != " " }.lowercased()
        let credentials = trimmed.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
        switch scheme {
        case "bearer":
            guard let client = matchingClient(key: Array(credentials.utf8), among: keyDigests) else {
                return .refused("proxy authentication failed: the Bearer key matches no client")
            }
            return .client(client)
        case "basic":
            guard let decoded = Data(base64Encoded: credentials), let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
            else {
                return .refused("proxy authentication failed: malformed Basic credentials (expected NAME:KEY)")
            }
            let user = String(decoding: decoded[decoded.startIndex..<colon], as: UTF8.self)
            let key = Array(decoded[decoded.index(after: colon)...])
            // Client names are not secret, so looking the user up first leaks nothing; the key is still compared in
            // constant time.
            let candidates = keyDigests.filter { $0.client.name == user }
            guard let client = matchingClient(key: key, among: candidates) else {
                return .refused("proxy authentication failed: wrong client name or key")
            }
            return .client(client)
        default:
            return .refused("proxy authentication failed: use the Basic or Bearer scheme")
        }
    }

    private func matchingClient(
        key: [UInt8], among candidates: [(client: ClientConfiguration, digest: [UInt8])]
    ) -> ClientConfiguration? {
        let presented = Self.digest(key)
        var match: ClientConfiguration?
        for candidate in candidates where Self.constantTimeEqual(candidate.digest, presented) && match == nil {
            match = candidate.client
        }
        return match
    }

    private static func digest(_ secret: Secret) -> [UInt8] {
        secret.withUnsafeBytes { Array(SHA256.hash(data: $0)) }
    }

    private static func digest(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// Compares two digests of equal length touching every byte, whatever differs first.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
