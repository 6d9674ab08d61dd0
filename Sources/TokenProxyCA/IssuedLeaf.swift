import Crypto
import X509

/// A leaf certificate minted for one intercepted host, with its key and the CA certificate that signed it.
public struct IssuedLeaf: Sendable {
    /// The host the leaf is valid for.
    public let host: String
    /// The leaf certificate.
    public let certificate: Certificate
    /// The leaf's private key.
    public let privateKey: P256.Signing.PrivateKey
    /// The issuing CA's certificate, sent after the leaf so clients can build the chain.
    public let issuer: Certificate

    /// The leaf's PEM.
    public func certificatePEM() throws -> String { try certificate.serializeAsPEM().pemString }
    /// The CA's PEM.
    public func issuerPEM() throws -> String { try issuer.serializeAsPEM().pemString }
}
