import Crypto
import Foundation
import SwiftASN1
import TokenProxyCore
import X509

/// The local certificate authority whose leaves clients trust for intercepted hosts.
///
/// It lives in a directory as `ca.pem` (the certificate, safe to share) and `ca-key.pem` (the P-256 private key,
/// mode 0600, in a directory only its owner can enter). Creating one never overwrites an existing CA unless
/// forced, because every client that trusts the old one would break.
public struct CertificateAuthority: Sendable {
    /// The CA certificate.
    public let certificate: Certificate
    /// The CA's signing key.
    let privateKey: P256.Signing.PrivateKey
    /// Where the CA was loaded from or written to.
    public let paths: Paths

    /// The files of a CA directory.
    public struct Paths: Sendable, Hashable {
        /// The directory.
        public var directory: String
        /// The certificate file (`ca.pem`).
        public var certificate: String { (directory as NSString).appendingPathComponent("ca.pem") }
        /// The private key file (`ca-key.pem`).
        public var privateKey: String { (directory as NSString).appendingPathComponent("ca-key.pem") }

        /// The files in `directory`.
        public init(directory: String) {
            self.directory = directory
        }
    }

    /// How long a new CA is valid.
    public static let validity: TimeInterval = 5 * 365 * 24 * 3600

    /// Creates an authority from a certificate and its key, checking that they belong together.
    public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey, paths: Paths) throws(CAError) {
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw CAError("the private key in \(paths.privateKey) does not match the certificate in \(paths.certificate)")
        }
        self.certificate = certificate
        self.privateKey = privateKey
        self.paths = paths
    }

    /// Mints a new CA in memory (not written anywhere).
    public static func generate(paths: Paths, now: Date = Date()) throws(CAError) -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        do {
            let host = ProcessInfo.processInfo.hostName
            let name = try DistinguishedName {
                OrganizationName("tokenproxy")
                OrganizationalUnitName("local interception CA on \(host)")
                CommonName("tokenproxy local CA (do not trust on other machines)")
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(validity),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
            return try CertificateAuthority(certificate: certificate, privateKey: key, paths: paths)
        } catch let error as CAError {
            throw error
        } catch {
            throw CAError("could not create the CA certificate: \(error)")
        }
    }

    /// Loads the CA in `paths`.
    public static func load(paths: Paths) throws(CAError) -> CertificateAuthority {
        let certificatePEM = try readText(paths.certificate)
        let keyPEM = try readText(paths.privateKey)
        let certificate: Certificate
        let key: P256.Signing.PrivateKey
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw CAError("\(paths.certificate) is not a PEM certificate: \(error)")
        }
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw CAError("\(paths.privateKey) is not a PEM P-256 private key")
        }
        return try CertificateAuthority(certificate: certificate, privateKey: key, paths: paths)
    }

    /// Whether a CA exists in `paths` (either file present counts, so a half-written CA is never overwritten).
    public static func exists(at paths: Paths) -> Bool {
        FileManager.default.fileExists(atPath: paths.certificate) || FileManager.default.fileExists(atPath: paths.privateKey)
    }

    /// Loads the CA in `paths`, creating one if neither file exists. Returns the CA and whether it was created.
    public static func loadOrCreate(paths: Paths) throws(CAError) -> (authority: CertificateAuthority, created: Bool) {
        if exists(at: paths) {
            return (try load(paths: paths), false)
        }
        return (try create(paths: paths, force: false), true)
    }

    /// Mints a CA and writes it to `paths`. Refuses if one exists there, unless `force`.
    public static func create(paths: Paths, force: Bool) throws(CAError) -> CertificateAuthority {
        if exists(at: paths) && !force {
            throw CAError(
                "a CA already exists in \(paths.directory); clients that trust it would break. "
                    + "Use --force to replace it"
            )
        }
        let authority = try generate(paths: paths)
        try authority.write()
        return authority
    }

    /// The certificate in PEM form.
    public var certificatePEM: String {
        get throws(CAError) {
            do {
                return try certificate.serializeAsPEM().pemString
            } catch {
                throw CAError("could not encode the CA certificate: \(error)")
            }
        }
    }

    /// The SHA-256 fingerprint of the certificate's DER, as colon-separated upper-case hex.
    public var fingerprint: String {
        let der = (try? certificate.derBytes()) ?? []
        return Hex.uppercase(SHA256.hash(data: der), separator: ":")
    }

    private func write() throws(CAError) {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)
        } catch {
            throw CAError("cannot create CA directory \(paths.directory): \(error.localizedDescription)")
        }
        // The key's directory must not let others list or enter it.
        guard chmod(paths.directory, 0o700) == 0 else {
            throw CAError("cannot restrict \(paths.directory) to its owner: \(String(cString: strerror(errno)))")
        }
        try Self.writeAtomically(privateKey.pemRepresentation + "\n", to: paths.privateKey, mode: 0o600)
        try Self.writeAtomically(try certificatePEM + "\n", to: paths.certificate, mode: 0o644)
    }

    /// Writes through a temporary file created with `mode`, then renames, so no reader sees a partial file and the
    /// key is never briefly readable by others.
    static func writeAtomically(_ text: String, to path: String, mode: mode_t) throws(CAError) {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw CAError("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CAError("cannot write \(path): \(reason)")
        }
    }

    private static func readText(_ path: String) throws(CAError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CAError("cannot read \(path): \(error.localizedDescription)")
        }
    }
}
