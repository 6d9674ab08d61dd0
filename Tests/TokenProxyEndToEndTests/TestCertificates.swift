import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway certificate authority minted for one test, and the origin certificates it (or nobody) signed.
///
/// Nothing here is checked in: keys are generated in memory on every run, so no certificate can silently expire
/// in the repository, and no private key of a trusted root ever exists outside a test's temp directory.
struct TestCertificates: Sendable {
    /// Which certificate an origin presents, chosen per test.
    enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        /// Signed by the test CA for DNS:localhost and IP:127.0.0.1, valid now.
        case valid
        /// Signed by the test CA for localhost, but its validity ended yesterday.
        case expired
        /// Signed by the test CA, valid now, but only for DNS:wrong.example.test.
        case wrongHost
        /// Valid now for localhost, but signed by its own key rather than the test CA.
        case selfSigned

        var description: String { rawValue }
    }

    /// A certificate and its key, as PEM text and as files in the test directory.
    struct Identity: Sendable {
        /// PEM of the certificate.
        let certificatePEM: String
        /// PEM (PKCS#8) of the private key.
        let privateKeyPEM: String
        /// Where the certificate PEM was written.
        let certificatePath: String
        /// Where the key PEM was written.
        let privateKeyPath: String
    }

    /// The test CA's certificate; `upstream.ca_bundle` points at `authorityPath` so the proxy trusts it.
    let authority: Identity
    /// The origin identities by kind.
    let origins: [Kind: Identity]

    /// The absolute path of the test CA's certificate (PEM).
    var authorityPath: String { authority.certificatePath }

    /// The origin identity of the given kind.
    func origin(_ kind: Kind) -> Identity {
        // Every kind is minted in `init`; a missing one is a bug in this file, not in the proxy.
        guard let identity = origins[kind] else { preconditionFailure("no origin identity for \(kind)") }
        return identity
    }

    /// Mints the CA and one origin identity per ``Kind`` and writes them under `directory/test-certs`
    /// (the CA certificate also as `directory/test-ca.pem`).
    init(in directory: TestDirectory) throws {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caPrivateKey = Certificate.PrivateKey(caKey)
        let caName = try DistinguishedName {
            OrganizationName("tokenproxy end-to-end tests")
            CommonName("tokenproxy e2e test CA")
        }
        let caCertificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: caPrivateKey.publicKey,
            // Backdated so that a clock a little behind on the verifying side does not reject it.
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(24 * 3600),
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: caPrivateKey.publicKey)
            },
            issuerPrivateKey: caPrivateKey
        )
        let caPEM = try caCertificate.serializeAsPEM().pemString
        let caCertificatePath = try directory.write(caPEM + "\n", to: "test-ca.pem")
        let caKeyPath = try directory.write(caKey.pemRepresentation + "\n", to: "test-certs/test-ca-key.pem")
        authority = Identity(
            certificatePEM: caPEM,
            privateKeyPEM: caKey.pemRepresentation,
            certificatePath: caCertificatePath,
            privateKeyPath: caKeyPath
        )

        let signer = Signer(name: caName, key: caPrivateKey)
        var origins: [Kind: Identity] = [:]
        for kind in Kind.allCases {
            let leafKey = P256.Signing.PrivateKey()
            let leaf: Certificate
            switch kind {
            case .valid:
                leaf = try signer.leaf(
                    for: leafKey,
                    names: Self.localhostNames,
                    from: now.addingTimeInterval(-3600),
                    until: now.addingTimeInterval(24 * 3600)
                )
            case .expired:
                leaf = try signer.leaf(
                    for: leafKey,
                    names: Self.localhostNames,
                    from: now.addingTimeInterval(-3 * 24 * 3600),
                    until: now.addingTimeInterval(-24 * 3600)
                )
            case .wrongHost:
                leaf = try signer.leaf(
                    for: leafKey,
                    names: [.dnsName("wrong.example.test")],
                    from: now.addingTimeInterval(-3600),
                    until: now.addingTimeInterval(24 * 3600)
                )
            case .selfSigned:
                // Issuer name equal to the subject and signed by the leaf's own key: a genuine self-signed
                // certificate, so verifiers reject it as such rather than as "unknown issuer".
                leaf = try Signer(name: Self.originSubject(), key: Certificate.PrivateKey(leafKey)).leaf(
                    for: leafKey,
                    names: Self.localhostNames,
                    from: now.addingTimeInterval(-3600),
                    until: now.addingTimeInterval(24 * 3600)
                )
            }
            let certificatePEM = try leaf.serializeAsPEM().pemString
            origins[kind] = Identity(
                certificatePEM: certificatePEM,
                privateKeyPEM: leafKey.pemRepresentation,
                certificatePath: try directory.write(certificatePEM + "\n", to: "test-certs/origin-\(kind).pem"),
                privateKeyPath: try directory.write(
                    leafKey.pemRepresentation + "\n",
                    to: "test-certs/origin-\(kind)-key.pem"
                )
            )
        }
        self.origins = origins
    }

    /// The SANs of a certificate that is right for the test origins, which listen on 127.0.0.1 and are reached as
    /// `localhost` (intercepted, through the rule) or as `127.0.0.1` (tunnelled, no rule).
    /// The subject of every origin certificate; the SANs, not the name, are what verifiers check.
    fileprivate static func originSubject() throws -> DistinguishedName {
        try DistinguishedName {
            OrganizationName("tokenproxy end-to-end tests")
            CommonName("tokenproxy e2e origin")
        }
    }

    private static let localhostNames: [GeneralName] = [
        .dnsName("localhost"),
        .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
    ]
}

extension TestCertificates {
    /// An issuer: its name and key. For a self-signed leaf the issuer is the leaf itself.
    private struct Signer {
        let name: DistinguishedName
        let key: Certificate.PrivateKey

        /// A TLS server leaf for `names`, valid in the given window.
        func leaf(for leafKey: P256.Signing.PrivateKey, names: [GeneralName], from: Date, until: Date) throws
            -> Certificate
        {
            let publicKey = Certificate.PrivateKey(leafKey).publicKey
            return try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: from,
                notValidAfter: until,
                issuer: name,
                subject: try TestCertificates.originSubject(),
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectKeyIdentifier(hash: publicKey)
                    AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: key.publicKey).keyIdentifier)
                    SubjectAlternativeNames(names)
                },
                issuerPrivateKey: key
            )
        }
    }
}
