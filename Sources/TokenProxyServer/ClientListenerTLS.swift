import NIOSSL
import TokenProxyCore

/// The TLS context of the `listen_tls:` listener: its certificate, and client certificates verified against
/// `client_ca` when one is presented (a client may instead authenticate with a key inside the TLS session).
enum ClientListenerTLS {
    /// Builds the context. Reads the certificate, key and CA files: call it off any event loop.
    static func makeContext(_ settings: ListenTLSConfiguration) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(settings.certificatePath)
            guard !chain.isEmpty else {
                throw ServerSetupError("cert \(settings.certificatePath) holds no PEM certificate")
            }
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: settings.privateKeyPath, format: .pem))
            )
            configuration.minimumTLSVersion = .tlsv12
            if let clientCA = settings.clientCAPath {
                let roots = try NIOSSLCertificate.fromPEMFile(clientCA)
                guard !roots.isEmpty else { throw ServerSetupError("client_ca \(clientCA) holds no PEM certificate") }
                // Optional, so key-authenticated clients may use this listener too; a certificate that is presented
                // must verify (chain to client_ca, within its validity), or the handshake fails.
                configuration.certificateVerification = .optionalVerification
                configuration.trustRoots = .certificates(roots)
                configuration.sendCANameList = true
            } else {
                configuration.certificateVerification = .none
            }
            return try NIOSSLContext(configuration: configuration)
        } catch let error as ServerSetupError {
            throw ServerSetupError("listen_tls (\(settings.location)): \(error)")
        } catch {
            throw ServerSetupError(
                "listen_tls (\(settings.location)): cannot load cert \(settings.certificatePath), key "
                    + "\(settings.privateKeyPath) or client_ca \(settings.clientCAPath ?? "-"): \(error)"
            )
        }
    }
}
