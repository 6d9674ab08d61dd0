import Crypto
import Foundation
import Testing
import X509

@testable import TokenProxyCA

@Suite("CertificateAuthority")
struct CertificateAuthorityTests {
    @Test("create writes ca.pem (0644) and ca-key.pem (0600) in a 0700 directory")
    func createWritesFiles() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths("nested/ca")
            let authority = try CertificateAuthority.create(paths: paths, force: false)
            #expect(authority.paths == paths)
            #expect(paths.certificate == directory.file("nested/ca/ca.pem"))
            #expect(paths.privateKey == directory.file("nested/ca/ca-key.pem"))
            #expect(try permissions(of: paths.directory) == 0o700)
            #expect(try permissions(of: paths.certificate) == 0o644)
            #expect(try permissions(of: paths.privateKey) == 0o600)
            // No temporary files are left behind.
            let names = try FileManager.default.contentsOfDirectory(atPath: paths.directory).sorted()
            #expect(names == ["ca-key.pem", "ca.pem"])
        }
    }

    @Test("an existing world-readable directory is restricted to its owner")
    func existingDirectoryRestricted() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            try FileManager.default.createDirectory(
                atPath: paths.directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755]
            )
            _ = try CertificateAuthority.create(paths: paths, force: false)
            #expect(try permissions(of: paths.directory) == 0o700)
        }
    }

    @Test("the certificate is a self-signed CA with pathLen 0 and keyCertSign")
    func certificateIsCA() throws {
        let now = Date()
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/nonexistent"), now: now)
        let certificate = authority.certificate
        let extensions = certificate.extensions

        #expect(try extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(extensions[oid: .X509ExtensionID.basicConstraints]?.critical == true)
        let keyUsage = try #require(try extensions.keyUsage)
        #expect(keyUsage.keyCertSign)
        #expect(keyUsage.cRLSign)
        #expect(extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
        #expect(try extensions.subjectKeyIdentifier != nil)

        #expect(certificate.subject == certificate.issuer)
        #expect(certificate.publicKey == Certificate.PublicKey(authority.privateKey.publicKey))
        #expect(certificate.notValidBefore <= now)
        #expect(certificate.notValidAfter > now.addingTimeInterval(4 * 365 * 24 * 3600))
        #expect(certificate.notValidAfter <= now.addingTimeInterval(CertificateAuthority.validity + 1))
        #expect(certificate.signatureAlgorithm == .ecdsaWithSHA256)
        // Self-signed: its own key verifies its signature.
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
    }

    @Test("generate writes nothing")
    func generateWritesNothing() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            _ = try CertificateAuthority.generate(paths: paths)
            #expect(!FileManager.default.fileExists(atPath: paths.directory))
            #expect(!CertificateAuthority.exists(at: paths))
        }
    }

    @Test("openssl reads the CA as CA:TRUE, pathlen:0 with Certificate Sign, and its key matches")
    func opensslAgrees() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            _ = try CertificateAuthority.create(paths: paths, force: false)

            let text = try openssl(["x509", "-in", paths.certificate, "-noout", "-text"])
            #expect(text.status == 0, "\(text.output)")
            #expect(text.output.contains("CA:TRUE, pathlen:0"))
            #expect(text.output.contains("Certificate Sign"))
            #expect(text.output.contains("X509v3 Basic Constraints: critical"))
            #expect(text.output.contains("ecdsa-with-SHA256"))

            let selfSigned = try openssl(["verify", "-CAfile", paths.certificate, paths.certificate])
            #expect(selfSigned.status == 0, "\(selfSigned.output)")

            let keyCheck = try openssl(["ec", "-in", paths.privateKey, "-check", "-noout"])
            #expect(keyCheck.status == 0, "openssl cannot read the key")
            let fromKey = try openssl(["pkey", "-in", paths.privateKey, "-pubout"])
            let fromCertificate = try openssl(["x509", "-in", paths.certificate, "-noout", "-pubkey"])
            #expect(fromKey.status == 0 && fromCertificate.status == 0)
            let samePublicKey = fromKey.output == fromCertificate.output
            #expect(samePublicKey, "the key file does not hold the certificate's key")
        }
    }

    @Test("the fingerprint is the SHA-256 of the DER, as openssl computes it")
    func fingerprint() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let authority = try CertificateAuthority.create(paths: paths, force: false)
            let fingerprint = authority.fingerprint
            #expect(fingerprint.count == 32 * 3 - 1)
            #expect(fingerprint.allSatisfy { $0 == ":" || $0.isNumber || ("A"..."F").contains($0) })
            let der = try authority.certificate.derBytes()
            #expect(try Certificate(derEncoded: der) == authority.certificate)
            let expected = SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
            #expect(fingerprint == expected)

            let result = try openssl(["x509", "-in", paths.certificate, "-noout", "-fingerprint", "-sha256"])
            #expect(result.status == 0)
            let opensslFingerprint = result.output.split(separator: "=").last.map {
                $0.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
            }
            #expect(opensslFingerprint == fingerprint)
        }
    }

    @Test("create refuses to replace an existing CA without force")
    func createRefusesWithoutForce() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let first = try CertificateAuthority.create(paths: paths, force: false)
            let certificateBefore = try String(contentsOfFile: paths.certificate, encoding: .utf8)
            let keyBefore = try String(contentsOfFile: paths.privateKey, encoding: .utf8)

            let error = try #require(caError { try CertificateAuthority.create(paths: paths, force: false) })
            #expect(error.description.contains("already exists"))
            #expect(error.description.contains("--force"))

            #expect(try String(contentsOfFile: paths.certificate, encoding: .utf8) == certificateBefore)
            let keyUnchanged = try String(contentsOfFile: paths.privateKey, encoding: .utf8) == keyBefore
            #expect(keyUnchanged, "the key was replaced")
            #expect(try CertificateAuthority.load(paths: paths).fingerprint == first.fingerprint)
        }
    }

    @Test("either file alone counts as an existing CA", arguments: ["ca.pem", "ca-key.pem"])
    func halfWrittenCounts(name: String) throws {
        try withTemporaryDirectory { directory in
            let paths = CertificateAuthority.Paths(directory: directory.path)
            #expect(!CertificateAuthority.exists(at: paths))
            try directory.write("partial", to: name)
            #expect(CertificateAuthority.exists(at: paths))
            #expect(caError { try CertificateAuthority.create(paths: paths, force: false) } != nil)
            #expect(try String(contentsOfFile: directory.file(name), encoding: .utf8) == "partial")
        }
    }

    @Test("create with force replaces the CA with a new one")
    func createWithForce() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let first = try CertificateAuthority.create(paths: paths, force: false)
            let second = try CertificateAuthority.create(paths: paths, force: true)
            #expect(second.fingerprint != first.fingerprint)
            #expect(second.certificate.publicKey != first.certificate.publicKey)
            #expect(try CertificateAuthority.load(paths: paths).fingerprint == second.fingerprint)
            #expect(try permissions(of: paths.privateKey) == 0o600)
            #expect(try permissions(of: paths.certificate) == 0o644)
        }
    }

    @Test("load round-trips what create wrote")
    func loadRoundTrips() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let created = try CertificateAuthority.create(paths: paths, force: false)
            let loaded = try CertificateAuthority.load(paths: paths)
            #expect(loaded.certificate == created.certificate)
            #expect(loaded.fingerprint == created.fingerprint)
            #expect(try loaded.certificatePEM == created.certificatePEM)
            let sameKey = loaded.privateKey.rawRepresentation == created.privateKey.rawRepresentation
            #expect(sameKey, "the loaded key differs")
            #expect(loaded.paths == paths)
            #expect(try loaded.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        }
    }

    @Test("a key that does not belong to the certificate is refused")
    func mismatchedKey() throws {
        try withTemporaryDirectory { directory in
            let pathsA = directory.caPaths("a")
            let pathsB = directory.caPaths("b")
            _ = try CertificateAuthority.create(paths: pathsA, force: false)
            _ = try CertificateAuthority.create(paths: pathsB, force: false)
            try FileManager.default.removeItem(atPath: pathsA.privateKey)
            try FileManager.default.copyItem(atPath: pathsB.privateKey, toPath: pathsA.privateKey)

            let error = try #require(caError { try CertificateAuthority.load(paths: pathsA) })
            #expect(error.description.contains("does not match"))
        }
    }

    @Test("the memberwise initialiser checks the key against the certificate")
    func initialiserChecksKey() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/x"))
        let otherKey = P256.Signing.PrivateKey()
        #expect(throws: CAError.self) {
            try CertificateAuthority(certificate: authority.certificate, privateKey: otherKey, paths: authority.paths)
        }
        #expect(throws: Never.self) {
            try CertificateAuthority(
                certificate: authority.certificate, privateKey: authority.privateKey, paths: authority.paths
            )
        }
    }

    @Test("unreadable or malformed files are refused without showing their contents")
    func malformedFiles() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let created = try CertificateAuthority.create(paths: paths, force: false)

            let canary = "tpcanary-\(UUID().uuidString)"
            try "-----BEGIN EC PRIVATE KEY-----\n\(canary)\n-----END EC PRIVATE KEY-----\n"
                .write(toFile: paths.privateKey, atomically: false, encoding: .utf8)
            let keyError = try #require(caError { try CertificateAuthority.load(paths: paths) })
            let leaked = keyError.description.contains(canary)
            #expect(!leaked, "the error showed the key file's contents")
            let namesKey = keyError.description.contains("is not a PEM P-256 private key")
                && keyError.description.contains(paths.privateKey)
            #expect(namesKey)

            try created.privateKey.pemRepresentation.write(toFile: paths.privateKey, atomically: false, encoding: .utf8)
            try "not a certificate".write(toFile: paths.certificate, atomically: false, encoding: .utf8)
            let certificateError = try #require(caError { try CertificateAuthority.load(paths: paths) })
            #expect(certificateError.description.contains("is not a PEM certificate"))

            try FileManager.default.removeItem(atPath: paths.certificate)
            let missingError = try #require(caError { try CertificateAuthority.load(paths: paths) })
            #expect(missingError.description.contains("cannot read \(paths.certificate)"))
        }
    }

    @Test("loadOrCreate creates once, then loads the same CA")
    func loadOrCreate() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let first = try CertificateAuthority.loadOrCreate(paths: paths)
            #expect(first.created)
            let second = try CertificateAuthority.loadOrCreate(paths: paths)
            #expect(!second.created)
            #expect(second.authority.fingerprint == first.authority.fingerprint)
        }
    }

    @Test("loadOrCreate refuses a half-written CA rather than overwrite it")
    func loadOrCreateHalfWritten() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let created = try CertificateAuthority.create(paths: paths, force: false)
            try FileManager.default.removeItem(atPath: paths.privateKey)
            #expect(caError { try CertificateAuthority.loadOrCreate(paths: paths) } != nil)
            #expect(!FileManager.default.fileExists(atPath: paths.privateKey))
            #expect(try String(contentsOfFile: paths.certificate, encoding: .utf8) == created.certificatePEM + "\n")
        }
    }
}
