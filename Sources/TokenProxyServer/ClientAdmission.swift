import NIOCore
import NIOHTTP1
import NIOSSL
import TokenProxyCA
import TokenProxyCore

/// The network side of ``ClientAccess``: reads a proxy request's `Proxy-Authorization` and the client certificate
/// the TLS listener verified, and turns refusals into local responses (407 with challenges, 403, 429 with
/// `Retry-After`).
enum ClientAdmission {
    /// A request the proxy answers itself instead of serving.
    struct Refusal: Error {
        var status: HTTPResponseStatus
        var reason: String
        var headers: [(String, String)] = []
    }

    /// Who sent the proxy-facing request `head` on `channel`: a client, or `nil` when no `clients:` are configured.
    static func authenticate(
        _ head: HTTPRequestHead, channel: Channel, access: ClientAccess
    ) -> Result<ClientConfiguration?, Refusal> {
        guard access.authenticator.isRequired else { return .success(nil) }
        let certificate: CertificateNames?
        do {
            certificate = try peerCertificateNames(channel)
        } catch {
            return .failure(challenge("the client certificate could not be read: \(error)"))
        }
        switch access.authenticator.authenticate(
            proxyAuthorization: head.headers["proxy-authorization"], certificate: certificate
        ) {
        case .open: return .success(nil)
        case .client(let client): return .success(client)
        case .refused(let reason): return .failure(challenge(reason))
        }
    }

    /// The response for a verdict of ``ClientAccess/admit(client:rule:now:)``, or `nil` to go ahead.
    static func refusal(_ verdict: ClientAccess.Verdict) -> Refusal? {
        guard case .refuse(let status, let reason, let retryAfter) = verdict else { return nil }
        return Refusal(
            status: HTTPResponseStatus(statusCode: status), reason: reason,
            headers: retryAfter.map { [("retry-after", String($0))] } ?? []
        )
    }

    /// What records name as the client: `NAME@ip:port` for an authenticated client, else the address.
    static func label(_ client: ClientConfiguration?, address: String) -> String {
        client.map { "\($0.name)@\(address)" } ?? address
    }

    private static func challenge(_ reason: String) -> Refusal {
        Refusal(
            status: .proxyAuthenticationRequired, reason: reason,
            headers: ClientAuthenticator.challenges.map { ("proxy-authenticate", $0) }
        )
    }

    /// The names of the certificate the client presented on the TLS listener (verified against `client_ca` during
    /// the handshake), or `nil` on a plain listener or without a certificate.
    private static func peerCertificateNames(_ channel: Channel) throws -> CertificateNames? {
        guard let handler = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
            let certificate = handler.peerCertificate
        else { return nil }
        return try CertificateNames(derEncoded: certificate.toDERBytes())
    }
}
