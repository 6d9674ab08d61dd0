import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import TokenProxyCA

@Suite("LeafIssuer")
struct LeafIssuerTests {
    /// Whole seconds, because certificate times have no fractions.
    private static func wholeSecondsNow() -> Date {
        Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
    }

    private static func subjectAlternativeNames(_ certificate: Certificate) throws -> [GeneralName] {
        Array(try #require(try certificate.extensions.subjectAlternativeNames))
    }

    /// Writes the CA and `leaf` as PEM files and runs `openssl verify` with `options`.
    private static func verify(
        _ leaf: IssuedLeaf, against authority: CertificateAuthority, in directory: TemporaryDirectory,
        options: [String] = []
    ) throws -> CommandResult {
        let caFile = try directory.write(try authority.certificatePEM, to: "ca-\(UUID().uuidString).pem")
        let leafFile = try directory.write(try leaf.certificatePEM(), to: "leaf-\(UUID().uuidString).pem")
        return try openssl(["verify", "-CAfile", caFile, "-purpose", "sslserver"] + options + [leafFile])
    }

    @Test("a leaf for a DNS name: SAN DNS:name, serverAuth only, CA:FALSE, AKI of the CA")
    func dnsLeaf() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let leaf = try LeafIssuer(authority: authority).issue(for: "api.example.com")
        let certificate = leaf.certificate
        let extensions = certificate.extensions

        #expect(leaf.host == "api.example.com")
        #expect(try Self.subjectAlternativeNames(certificate) == [.dnsName("api.example.com")])
        #expect(Array(try #require(try extensions.extendedKeyUsage)) == [.serverAuth])
        #expect(try extensions.basicConstraints == .notCertificateAuthority)
        #expect(extensions[oid: .X509ExtensionID.basicConstraints]?.critical == true)
        let keyUsage = try #require(try extensions.keyUsage)
        #expect(keyUsage.digitalSignature)
        #expect(!keyUsage.keyCertSign)

        #expect(certificate.issuer == authority.certificate.subject)
        #expect(leaf.issuer == authority.certificate)
        let authorityKeyID = try extensions.authorityKeyIdentifier?.keyIdentifier
        let caKeyID = try authority.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        #expect(authorityKeyID != nil)
        #expect(authorityKeyID == caKeyID)
        #expect(certificate.publicKey == Certificate.PublicKey(leaf.privateKey.publicKey))
        #expect(authority.certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
    }

    @Test("a leaf is valid for about 7 days, inside the CA's validity")
    func validity() throws {
        let caCreated = Self.wholeSecondsNow()
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"), now: caCreated)
        let now = Self.wholeSecondsNow()
        let certificate = try LeafIssuer(authority: authority).issue(for: "api.example.com", now: now).certificate

        #expect(certificate.notValidBefore <= now)
        #expect(certificate.notValidBefore >= authority.certificate.notValidBefore)
        #expect(certificate.notValidAfter <= authority.certificate.notValidAfter)
        #expect(abs(certificate.notValidAfter.timeIntervalSince(now) - 7 * 24 * 3600) < 1)
        // Back-dated a little for clock skew, but not by days.
        #expect(now.timeIntervalSince(certificate.notValidBefore) <= 3600)
    }

    @Test("a leaf never outlasts the CA")
    func clampedToCA() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let nearExpiry = authority.certificate.notValidAfter.addingTimeInterval(-3600)
        let leaf = try LeafIssuer(authority: authority).issue(for: "api.example.com", now: nearExpiry)
        let certificate = leaf.certificate
        #expect(certificate.notValidAfter == authority.certificate.notValidAfter)
        #expect(certificate.notValidBefore < certificate.notValidAfter)
    }

    @Test("an expired CA refuses to mint a leaf instead of minting one that is never valid")
    func expiredCA() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let afterExpiry = authority.certificate.notValidAfter.addingTimeInterval(24 * 3600)
        let result = Result { try LeafIssuer(authority: authority).issue(for: "api.example.com", now: afterExpiry) }
        switch result {
        case .success(let leaf):
            Issue.record(
                "minted a leaf valid from \(leaf.certificate.notValidBefore) to \(leaf.certificate.notValidAfter)"
            )
        case .failure(let error):
            #expect(error is CAError)
        }
    }

    @Test("the validity is configurable")
    func customValidity() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let now = Self.wholeSecondsNow()
        let issuer = LeafIssuer(authority: authority, validity: 3600)
        #expect(issuer.validity == 3600)
        let certificate = try issuer.issue(for: "a.example.com", now: now).certificate
        #expect(abs(certificate.notValidAfter.timeIntervalSince(now) - 3600) < 1)
    }

    @Test("an IP literal gets an IP address SAN and no DNS SAN", arguments: [
        ("127.0.0.1", "127.0.0.1", [127, 0, 0, 1] as [UInt8]),
        ("10.1.2.3", "10.1.2.3", [10, 1, 2, 3]),
        ("::1", "::1", [UInt8](repeating: 0, count: 15) + [1]),
        ("[::1]", "::1", [UInt8](repeating: 0, count: 15) + [1]),
        ("2001:DB8::5", "2001:db8::5", [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [5]),
    ])
    func ipLeaf(host: String, normalized: String, bytes: [UInt8]) throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let leaf = try LeafIssuer(authority: authority).issue(for: host)
        #expect(leaf.host == normalized)
        let names = try Self.subjectAlternativeNames(leaf.certificate)
        #expect(names == [.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes)))])
    }

    @Test("the host is normalised: lower case, no trailing dot")
    func normalised() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let leaf = try LeafIssuer(authority: authority).issue(for: "API.Example.COM.")
        #expect(leaf.host == "api.example.com")
        #expect(try Self.subjectAlternativeNames(leaf.certificate) == [.dnsName("api.example.com")])
    }

    @Test("every leaf has a fresh key and serial number")
    func freshKeys() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let issuer = LeafIssuer(authority: authority)
        let first = try issuer.issue(for: "api.example.com")
        let second = try issuer.issue(for: "api.example.com")
        #expect(first.certificate.publicKey != second.certificate.publicKey)
        #expect(first.certificate.serialNumber != second.certificate.serialNumber)
        #expect(first.certificate.publicKey != authority.certificate.publicKey)
    }

    @Test("a host name longer than 64 characters keeps its full name in the SAN")
    func longHostName() throws {
        let host = String(repeating: "a", count: 60) + "." + String(repeating: "b", count: 60) + ".example.com"
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let leaf = try LeafIssuer(authority: authority).issue(for: host)
        #expect(try Self.subjectAlternativeNames(leaf.certificate) == [.dnsName(host)])
    }

    @Test("openssl verifies a DNS leaf against the CA for its name only")
    func opensslVerifiesDNSLeaf() throws {
        try withTemporaryDirectory { directory in
            let authority = try CertificateAuthority.create(paths: directory.caPaths(), force: false)
            let leaf = try LeafIssuer(authority: authority).issue(for: "api.example.com")

            let plain = try Self.verify(leaf, against: authority, in: directory)
            #expect(plain.status == 0, "\(plain.output)")
            #expect(plain.output.contains(": OK"))

            let named = try Self.verify(
                leaf, against: authority, in: directory, options: ["-verify_hostname", "api.example.com"]
            )
            #expect(named.status == 0, "\(named.output)")

            let otherName = try Self.verify(
                leaf, against: authority, in: directory, options: ["-verify_hostname", "evil.example.com"]
            )
            #expect(otherName.status != 0, "a leaf for api.example.com verified for evil.example.com")
        }
    }

    @Test("openssl verifies IP leaves for their address", arguments: ["127.0.0.1", "::1"])
    func opensslVerifiesIPLeaf(address: String) throws {
        try withTemporaryDirectory { directory in
            let authority = try CertificateAuthority.create(paths: directory.caPaths(), force: false)
            let leaf = try LeafIssuer(authority: authority).issue(for: address)
            let result = try Self.verify(leaf, against: authority, in: directory, options: ["-verify_ip", address])
            #expect(result.status == 0, "\(result.output)")

            let leafFile = try directory.write(try leaf.certificatePEM(), to: "leaf.pem")
            let text = try openssl(["x509", "-noout", "-text", "-in", leafFile])
            #expect(text.output.contains("IP Address:"))
            #expect(!text.output.contains("DNS:"))
        }
    }

    @Test("openssl reads the leaf as CA:FALSE with serverAuth")
    func opensslReadsLeaf() throws {
        try withTemporaryDirectory { directory in
            let authority = try CertificateAuthority.generate(paths: directory.caPaths())
            let leaf = try LeafIssuer(authority: authority).issue(for: "api.example.com")
            let file = try directory.write(try leaf.certificatePEM(), to: "leaf.pem")
            let text = try openssl(["x509", "-in", file, "-noout", "-text"])
            #expect(text.status == 0)
            #expect(text.output.contains("CA:FALSE"))
            #expect(text.output.contains("TLS Web Server Authentication"))
            #expect(!text.output.contains("TLS Web Client Authentication"))
            #expect(text.output.contains("DNS:api.example.com"))
        }
    }

    @Test("a leaf from one CA does not verify against another")
    func otherCARefuses() throws {
        try withTemporaryDirectory { directory in
            let authority = try CertificateAuthority.create(paths: directory.caPaths("a"), force: false)
            let stranger = try CertificateAuthority.create(paths: directory.caPaths("b"), force: false)
            let leaf = try LeafIssuer(authority: authority).issue(for: "api.example.com")
            let result = try Self.verify(leaf, against: stranger, in: directory)
            #expect(result.status != 0)
        }
    }
}
