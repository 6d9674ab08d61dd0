import Crypto
import Foundation
import SwiftASN1
import TokenProxyCore
import X509

/// Mints short-lived leaf certificates for intercepted hosts, signed by the local CA.
///
/// Each leaf has a fresh P-256 key, the host as its only subject alternative name (a DNS name, or an IP address
/// for IP literals), serverAuth only, CA:FALSE, and a validity of a few days that never outlasts the CA.
public struct LeafIssuer: Sendable {
    /// The authority that signs.
    public let authority: CertificateAuthority
    /// How long a leaf is valid.
    public var validity: TimeInterval

    /// How long a leaf is valid unless the issuer is told otherwise: a week.
    public static let defaultValidity: TimeInterval = 7 * 24 * 3600

    /// Creates an issuer for `authority`.
    public init(authority: CertificateAuthority, validity: TimeInterval = LeafIssuer.defaultValidity) {
        self.authority = authority
        self.validity = validity
    }

    /// Mints a leaf for `host`. This does a key generation and a signature: call it off any event loop.
    public func issue(for host: String, now: Date = Date()) throws(CAError) -> IssuedLeaf {
        let name = HostPattern.normalize(host)
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let caCertificate = authority.certificate
        let notAfter = min(now.addingTimeInterval(validity), caCertificate.notValidAfter)
        let notBefore = max(now.addingTimeInterval(-3600), caCertificate.notValidBefore)
        guard notAfter > now, caCertificate.notValidBefore <= now else {
            throw CAError(
                "the CA in \(authority.paths.directory) is not valid now (valid \(caCertificate.notValidBefore) to "
                    + "\(caCertificate.notValidAfter)); create a new one with 'tokenproxy ca init --force'"
            )
        }
        do {
            let subjectAlternativeName: GeneralName
            if let address = Self.ipAddressBytes(name) {
                subjectAlternativeName = .ipAddress(ASN1OctetString(contentBytes: ArraySlice(address)))
            } else {
                subjectAlternativeName = .dnsName(name)
            }
            let caKeyIdentifier = try caCertificate.extensions.subjectKeyIdentifier?.keyIdentifier
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([subjectAlternativeName])
                SubjectKeyIdentifier(hash: publicKey)
                if let caKeyIdentifier {
                    AuthorityKeyIdentifier(keyIdentifier: caKeyIdentifier)
                }
            }
            let subject = try DistinguishedName {
                OrganizationName("tokenproxy")
                CommonName(String(name.prefix(64)))
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: notBefore,
                notValidAfter: notAfter,
                issuer: caCertificate.subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(authority.privateKey)
            )
            return IssuedLeaf(host: name, certificate: certificate, privateKey: key, issuer: caCertificate)
        } catch {
            throw CAError("could not mint a certificate for \(name): \(error)")
        }
    }

    /// The 4 or 16 bytes of an IP literal, or `nil` for a DNS name.
    static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
