import Crypto
import Foundation
import SwiftASN1
import X509

/// Client certificates for mTLS tests, minted at run time: signed by the test CA (valid or expired) or by a CA the
/// proxy does not trust.
struct TestClientCertificates {
    /// A certificate file and its key file.
    struct Pair {
        let certificatePath: String
        let privateKeyPath: String
    }

    /// CN `commonName`, signed by the test CA, valid now.
    let valid: Pair
    /// CN `commonName`, signed by the test CA, expired yesterday.
    let expired: Pair
    /// CN `commonName`, valid now, but signed by a CA nobody configured.
    let untrusted: Pair

    /// Mints the three certificates for `commonName` into `directory`, using the fixture's test CA.
    init(commonName: String, certificates: TestCertificates, in directory: TestDirectory) throws {
        let now = Date()
        let authority = try Certificate(pemEncoded: certificates.authority.certificatePEM)
        let authorityKey = Certificate.PrivateKey(
            try P256.Signing.PrivateKey(pemRepresentation: certificates.authority.privateKeyPEM)
        )
        let strangerKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let strangerName = try DistinguishedName { CommonName("a CA tokenproxy does not trust") }

        func mint(_ label: String, issuer: DistinguishedName, key: Certificate.PrivateKey, from: Date, until: Date)
            throws -> Pair
        {
            let leafKey = P256.Signing.PrivateKey()
            let publicKey = Certificate.PrivateKey(leafKey).publicKey
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: from,
                notValidAfter: until,
                issuer: issuer,
                subject: try DistinguishedName { CommonName(commonName) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.clientAuth])
                    AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: key.publicKey).keyIdentifier)
                },
                issuerPrivateKey: key
            )
            return Pair(
                certificatePath: try directory.write(
                    try certificate.serializeAsPEM().pemString + "\n", to: "test-certs/client-\(label).pem"
                ),
                privateKeyPath: try directory.write(
                    leafKey.pemRepresentation + "\n", to: "test-certs/client-\(label)-key.pem"
                )
            )
        }

        valid = try mint(
            "valid", issuer: authority.subject, key: authorityKey, from: now.addingTimeInterval(-3600),
            until: now.addingTimeInterval(24 * 3600)
        )
        expired = try mint(
            "expired", issuer: authority.subject, key: authorityKey, from: now.addingTimeInterval(-3 * 24 * 3600),
            until: now.addingTimeInterval(-24 * 3600)
        )
        untrusted = try mint(
            "untrusted", issuer: strangerName, key: strangerKey, from: now.addingTimeInterval(-3600),
            until: now.addingTimeInterval(24 * 3600)
        )
    }
}
