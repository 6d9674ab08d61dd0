import Foundation

/// A `sealed:` blob, parsed but not opened: a token encrypted to the proxy's ``SealingKey`` for one credential name.
///
/// The text form is `v1.<encapsulated key>.<ciphertext>`, both parts unpadded base64url, so it is one line of
/// ASCII that YAML takes without quotes (`source: sealed:v1.…`). Parsing checks only the shape, so a malformed
/// blob is reported at configuration load time, before any key is needed; ``SealingKey/open(_:name:)`` decrypts.
///
/// Its `description` (`v1.AbCdEfGh…`) shows the version and the start of the encapsulated key (a one-time public
/// key, not secret), enough to tell two blobs apart in a message.
public struct SealedSecret: Sendable, Hashable, CustomStringConvertible {
    /// The only format version this build reads and writes.
    public static let version = "v1"
    /// The longest blob accepted; a 64 KiB token sealed is about 87 KiB of text.
    public static let maximumLength = 128 * 1024

    /// The HPKE encapsulated key: the sender's one-time X25519 public key.
    let encapsulatedKey: Data
    /// The HPKE ciphertext of the token, with its authentication tag.
    let ciphertext: Data

    /// Size of an X25519 encapsulated key.
    static let encapsulatedKeySize = 32
    /// Size of the ChaCha20-Poly1305 authentication tag that ends every ciphertext.
    static let tagSize = 16

    init(encapsulatedKey: Data, ciphertext: Data) {
        self.encapsulatedKey = encapsulatedKey
        self.ciphertext = ciphertext
    }

    /// Parses `v1.<base64url>.<base64url>` (without the `sealed:` prefix).
    ///
    /// Error messages never quote the text: a user who pasted a raw token after `sealed:` must not see it in a log.
    public init(parsing blob: String) throws(SealedSecretError) {
        let notABlob = "not a tokenproxy sealed blob (expected v1.<key>.<ciphertext> as printed by 'tokenproxy seal')"
        guard blob.utf8.count <= Self.maximumLength else {
            throw SealedSecretError("\(notABlob); it is \(blob.utf8.count) bytes long")
        }
        let parts = blob.split(separator: ".", omittingEmptySubsequences: false)
        guard let version = parts.first, version == Self.version else {
            if let version = parts.first, parts.count == 3, Self.looksLikeVersion(version) {
                throw SealedSecretError(
                    "sealed with format \(version), which this tokenproxy does not read; upgrade tokenproxy"
                )
            }
            throw SealedSecretError(notABlob)
        }
        guard parts.count == 3 else {
            throw SealedSecretError("\(notABlob); it has \(parts.count) dot-separated parts")
        }
        guard let key = Self.decodeBase64URL(parts[1]), let ciphertext = Self.decodeBase64URL(parts[2]) else {
            throw SealedSecretError("\(notABlob); it contains characters outside base64url or was cut short")
        }
        guard key.count == Self.encapsulatedKeySize else {
            throw SealedSecretError("\(notABlob); its key part is \(key.count) bytes, not \(Self.encapsulatedKeySize)")
        }
        guard ciphertext.count > Self.tagSize else {
            throw SealedSecretError("\(notABlob); its ciphertext is too short (was it cut off?)")
        }
        self.init(encapsulatedKey: key, ciphertext: ciphertext)
    }

    /// The text form, `v1.<base64url>.<base64url>` (without the `sealed:` prefix).
    public var blob: String {
        "\(Self.version).\(Self.encodeBase64URL(encapsulatedKey)).\(Self.encodeBase64URL(ciphertext))"
    }

    /// `v1.AbCdEfGh…` (no `sealed:` prefix, like ``blob``): identifies the blob without its full length.
    public var description: String {
        "\(Self.version).\(Self.encodeBase64URL(encapsulatedKey).prefix(8))…"
    }

    /// `v2`, `v10`: worth naming in a message as a version; anything else is not shown at all.
    private static func looksLikeVersion(_ text: Substring) -> Bool {
        text.count >= 2 && text.count <= 5 && text.first == "v" && text.dropFirst().allSatisfy(\.isASCII)
            && text.dropFirst().allSatisfy(\.isNumber)
    }

    /// Unpadded base64url (RFC 4648 §5), the form that needs no quoting in YAML, URLs or shells.
    static func encodeBase64URL(_ data: Data) -> String {
        var text = data.base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Strict unpadded base64url: `nil` for any other character, padding, or an impossible length.
    static func decodeBase64URL(_ text: Substring) -> Data? {
        var standard = ""
        standard.reserveCapacity(text.utf8.count + 3)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9": standard.unicodeScalars.append(scalar)
            case "-": standard.append("+")
            case "_": standard.append("/")
            default: return nil
            }
        }
        switch standard.utf8.count % 4 {
        case 0: break
        case 2: standard += "=="
        case 3: standard += "="
        default: return nil
        }
        return Data(base64Encoded: standard)
    }
}

/// Why a seal key could not be loaded or created, or a sealed blob could not be opened.
///
/// The message names files, credential names and key fingerprints, never a token or the blob's text.
public struct SealedSecretError: Error, Sendable, CustomStringConvertible {
    /// What went wrong and, where it helps, what to do about it.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
