import Crypto
import Foundation

/// Computes keyed fingerprints of credential values, so records can tell tokens apart (which token of a rotation a
/// request used, whether a found string is a configured token) without holding anything that could be reversed or
/// checked against a guessed token by someone who has only the records.
///
/// The key is per installation: 32 random bytes in `fingerprint.key` beside the CA (0600), created on first use.
public struct CredentialFingerprinter: Sendable {
    /// The key file's name inside the CA directory.
    public static let fileName = "fingerprint.key"

    private let key: SymmetricKey

    /// Uses `key` directly (tests).
    public init(key: SymmetricKey) {
        self.key = key
    }

    /// Loads the installation key from `directory`, creating it (0600) when absent. Blocking file I/O.
    public static func loadOrCreate(directory: String) throws -> CredentialFingerprinter {
        let path = (directory as NSString).appendingPathComponent(fileName)
        if let data = FileManager.default.contents(atPath: path) {
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & 0o077 == 0 else {
                throw FingerprintKeyError(description: "\(path) is readable by group or others; run chmod 600 \(path)")
            }
            guard data.count == 32 else {
                throw FingerprintKeyError(description: "\(path) is not a 32-byte key; remove it to create a new one")
            }
            return CredentialFingerprinter(key: SymmetricKey(data: data))
        }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Array($0) }
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw FingerprintKeyError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        fsync(descriptor)
        close(descriptor)
        // link() keeps a key another process created meanwhile; both then use that one.
        guard written == bytes.count, link(temporary, path) == 0 || errno == EEXIST else {
            unlink(temporary)
            throw FingerprintKeyError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        unlink(temporary)
        return try loadOrCreate(directory: directory)
    }

    /// `hmac-sha256:` and the first 16 hex digits of HMAC-SHA256(key, value).
    public func fingerprint(of secret: Secret) -> String {
        secret.withUnsafeBytes { fingerprint(ofBytes: $0) }
    }

    /// `hmac-sha256:` and the first 16 hex digits of HMAC-SHA256(key, bytes): the same as `fingerprint(of: Secret)`
    /// for bytes that are not (yet) a ``Secret``, such as a candidate string a scanner compares.
    public func fingerprint(ofBytes bytes: UnsafeRawBufferPointer) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: bytes, using: key)
        return "hmac-sha256:" + Hex.lowercase(code.prefix(8))
    }

    /// The fingerprint of a credential's value: of the token, or of the AWS secret key.
    public func fingerprint(of value: CredentialValue) -> String? {
        switch value {
        case .token(let secret): return fingerprint(of: secret)
        case .aws(let credentials): return fingerprint(of: credentials.secretAccessKey)
        case .oauth2: return nil  // access tokens come and go; they are fingerprinted when attached
        }
    }
}

/// The fingerprint key cannot be read or created.
public struct FingerprintKeyError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
