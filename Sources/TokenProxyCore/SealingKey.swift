import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The proxy's own key pair for `sealed:` sources: tokens are encrypted to it so a blob can sit in a committed
/// configuration file, and only a proxy holding this key can read it.
///
/// Encryption is HPKE (RFC 9180) in base mode with the ciphersuite DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
/// ChaCha20-Poly1305: X25519 keeps the blob short (a 32-byte encapsulated key) and ChaCha20-Poly1305 is fast
/// without AES hardware. The credential name is bound as HPKE `info`, so a blob sealed for `github` does not open
/// as `stripe`: someone who can edit the configuration cannot move a token to a rule for another host.
///
/// The private key lives in `<ca dir>/seal-key.pem` as an unencrypted PKCS#8 PEM (the form `openssl genpkey
/// -algorithm X25519` writes), mode 0600 in a directory only its owner can enter. It is never replaced once
/// written: every blob sealed to it would stop opening.
public struct SealingKey: Sendable {
    /// The file name of the key inside the CA directory.
    public static let fileName = "seal-key.pem"

    /// The HPKE ciphersuite of format `v1`.
    static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly

    /// The largest token `seal` accepts, as for other sources.
    static let secretLimit = 64 * 1024

    /// Where the key was loaded from or written to.
    public let path: String
    private let privateKey: Curve25519.KeyAgreement.PrivateKey

    private init(privateKey: Curve25519.KeyAgreement.PrivateKey, path: String) {
        self.privateKey = privateKey
        self.path = path
    }

    /// The path of the key file in `directory`.
    public static func path(inDirectory directory: String) -> String {
        (directory as NSString).appendingPathComponent(fileName)
    }

    /// The first 8 bytes of the SHA-256 of the raw public key, as 16 lower-case hex digits: safe to show, and
    /// enough to tell which proxy key a blob was sealed for.
    public var publicKeyFingerprint: String {
        Hex.lowercase(SHA256.hash(data: privateKey.publicKey.rawRepresentation).prefix(8))
    }

    /// Loads the key in `directory`, creating it (and the directory, mode 0700) if there is none.
    ///
    /// Safe against a concurrent creator: the new file is linked into place only if no key is there yet, and
    /// the loser loads the winner's key, so two processes never end up with different keys.
    ///
    /// - Returns: the key, and whether this call created it.
    public static func loadOrCreate(directory: String) throws(SealedSecretError) -> (key: SealingKey, created: Bool) {
        let path = path(inDirectory: directory)
        if let key = try loadIfPresent(path: path) {
            return (key, false)
        }
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SealedSecretError("cannot create directory \(directory): \(error.localizedDescription)")
        }
        // The key's directory must not let others list or enter it (the CA does the same).
        guard chmod(directory, 0o700) == 0 else {
            throw SealedSecretError("cannot restrict \(directory) to its owner: \(Self.lastError())")
        }
        let key = Curve25519.KeyAgreement.PrivateKey()
        if try writeNew(pem(for: key), to: path) {
            return (SealingKey(privateKey: key, path: path), true)
        }
        // Another process created it between our look and our write: use theirs.
        return (try load(path: path), false)
    }

    /// Loads the key in `directory`; fails if there is none.
    public static func load(directory: String) throws(SealedSecretError) -> SealingKey {
        try load(path: path(inDirectory: directory))
    }

    /// Encrypts `secret` for the credential `name`.
    ///
    /// - Returns: the blob text, without the `sealed:` prefix. Sealing the same value twice gives different blobs.
    public func seal(_ secret: Secret, name: String) throws(SealedSecretError) -> String {
        guard !name.isEmpty else {
            throw SealedSecretError("a sealed value needs the name of its credential")
        }
        guard secret.count > 0 else {
            throw SealedSecretError("refusing to seal an empty value for credential '\(name)'")
        }
        guard secret.count <= Self.secretLimit else {
            throw SealedSecretError("refusing to seal \(secret.count) bytes for credential '\(name)': more than 64 KiB")
        }
        do {
            var sender = try HPKE.Sender(
                recipientKey: privateKey.publicKey, ciphersuite: Self.ciphersuite, info: Self.info(name: name)
            )
            let ciphertext = try secret.withUnsafeBytes { try sender.seal($0) }
            return SealedSecret(encapsulatedKey: sender.encapsulatedKey, ciphertext: ciphertext).blob
        } catch {
            // Only swift-crypto's error type reaches here; it carries no key or plaintext material.
            throw SealedSecretError("cannot seal the value for credential '\(name)': \(error)")
        }
    }

    /// Decrypts `blob` (without the `sealed:` prefix), which must have been sealed to this key for credential
    /// `name`.
    public func open(_ blob: String, name: String) throws(SealedSecretError) -> Secret {
        try open(try SealedSecret(parsing: blob), name: name)
    }

    /// Decrypts `sealed`, which must have been sealed to this key for credential `name`.
    public func open(_ sealed: SealedSecret, name: String) throws(SealedSecretError) -> Secret {
        let plaintext: Data
        do {
            var recipient = try HPKE.Recipient(
                privateKey: privateKey, ciphersuite: Self.ciphersuite, info: Self.info(name: name),
                encapsulatedKey: sealed.encapsulatedKey
            )
            plaintext = try recipient.open(sealed.ciphertext)
        } catch {
            // HPKE cannot tell these apart: a different key, a different name and an edited blob all fail the
            // same authentication check.
            throw SealedSecretError(
                "cannot open the sealed value: it was sealed for a different key or credential name, or it was "
                    + "altered (this proxy's seal key is \(publicKeyFingerprint), in \(path); "
                    + "seal it again with 'tokenproxy seal \(name)')"
            )
        }
        guard !plaintext.isEmpty else {
            throw SealedSecretError("the sealed value for credential '\(name)' is empty")
        }
        return Secret(bytes: Array(plaintext))
    }

    /// HPKE `info`: a fixed label then the credential name. The label makes the prefix unambiguous and ties the
    /// derived key to format v1.
    private static func info(name: String) -> Data {
        Data("tokenproxy sealed secret v1\u{0}".utf8) + Data(name.utf8)
    }

    // MARK: - The key file

    /// The DER prefix of a PKCS#8 `PrivateKeyInfo` for X25519 (RFC 8410): version 0, algorithm id-X25519
    /// (1.3.101.110), then an OCTET STRING holding the 32-byte key as an OCTET STRING.
    private static let pkcs8Prefix: [UInt8] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
    ]

    private static func pem(for key: Curve25519.KeyAgreement.PrivateKey) -> String {
        let der = Data(pkcs8Prefix) + key.rawRepresentation
        return "-----BEGIN PRIVATE KEY-----\n\(der.base64EncodedString())\n-----END PRIVATE KEY-----\n"
    }

    private static func load(path: String) throws(SealedSecretError) -> SealingKey {
        guard let key = try loadIfPresent(path: path) else {
            throw SealedSecretError(
                "no seal key at \(path); 'tokenproxy seal NAME' creates one (with the same --dir or --config)"
            )
        }
        return key
    }

    /// Reads and checks the key file, or returns `nil` when it does not exist.
    private static func loadIfPresent(path: String) throws(SealedSecretError) -> SealingKey? {
        let descriptor = openFile(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw SealedSecretError("cannot read seal key \(path): \(lastError())")
        }
        defer { close(descriptor) }
        // Checked on the open file, not the path, so a swap between check and read cannot slip past.
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw SealedSecretError("cannot read seal key \(path): \(lastError())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SealedSecretError("seal key \(path) is not a regular file")
        }
        // A key readable by other users lets them open every sealed blob; refuse it like ssh refuses such keys.
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw SealedSecretError(
                "seal key \(path) has mode \(mode) and is readable by group or others; run chmod 600 \(path)"
            )
        }
        var bytes = [UInt8](repeating: 0, count: 4096)
        var length = 0
        while length < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + length, buffer.count - length)
            }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw SealedSecretError("cannot read seal key \(path): \(lastError())")
            }
            if count == 0 { break }
            length += count
        }
        let notAKey = "seal key \(path) is not an X25519 private key in PKCS#8 PEM form"
        guard length < bytes.count, let text = String(bytes: bytes[0..<length], encoding: .utf8) else {
            throw SealedSecretError(notAKey)
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard
            let begin = lines.firstIndex(of: "-----BEGIN PRIVATE KEY-----"),
            let end = lines.firstIndex(of: "-----END PRIVATE KEY-----"), begin < end,
            let der = Data(base64Encoded: lines[(begin + 1)..<end].joined()),
            der.count == pkcs8Prefix.count + 32, der.prefix(pkcs8Prefix.count).elementsEqual(pkcs8Prefix),
            let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: der.suffix(32))
        else {
            throw SealedSecretError(notAKey)
        }
        return SealingKey(privateKey: key, path: path)
    }

    /// Writes `text` to `path` only if nothing is there: through a temporary file created 0600 with `O_EXCL`
    /// (never briefly readable by others, never partial), then linked into place, which fails rather than
    /// replace an existing key.
    ///
    /// - Returns: `false` when a key already exists at `path`.
    private static func writeNew(_ text: String, to path: String) throws(SealedSecretError) -> Bool {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let descriptor = openFile(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SealedSecretError("cannot create \(temporary): \(lastError())")
        }
        defer { unlink(temporary) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced else {
            throw SealedSecretError("cannot write \(temporary): \(lastError())")
        }
        if link(temporary, path) != 0 {
            let code = errno
            if code == EEXIST { return false }
            // Some filesystems have no hard links; there, rename (which would replace a key created in the same
            // instant by another process) is the best available.
            guard code == EPERM || code == ENOTSUP || code == EOPNOTSUPP || code == ENOSYS,
                rename(temporary, path) == 0
            else {
                throw SealedSecretError("cannot write \(path): \(String(cString: strerror(code)))")
            }
        }
        // Make the new name durable too, so a crash cannot lose a key that blobs were already sealed to.
        let directory = openFile((path as NSString).deletingLastPathComponent, O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
        return true
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}

/// `open(2)`, under a name that the `open(_:name:)` methods above cannot shadow.
private func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
    #if canImport(Glibc)
    Glibc.open(path, flags, mode)
    #else
    Darwin.open(path, flags, mode)
    #endif
}
