import Crypto

extension CredentialFingerprinter {
    /// A fingerprinter whose random key exists only in this value: fingerprints from it can be compared with each
    /// other within one process and mean nothing anywhere else (`tokenproxy scan` compares configured tokens with
    /// candidate strings this way, so it never needs to keep a value).
    public static func ephemeral() -> CredentialFingerprinter {
        CredentialFingerprinter(key: SymmetricKey(size: .bits256))
    }

    /// A fingerprinter keyed by a public `label`: the same on every machine and in every run, so its fingerprints
    /// can be written down (an allowlist of known false positives). Because anyone can compute them, use it only for
    /// strings that are not secrets or whose length and randomness make a guess hopeless, never for configured tokens.
    public static func publicLabel(_ label: String) -> CredentialFingerprinter {
        CredentialFingerprinter(key: SymmetricKey(data: Array(label.utf8)))
    }
}
