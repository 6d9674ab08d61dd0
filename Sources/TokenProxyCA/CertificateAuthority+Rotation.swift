import Foundation
import X509

extension CertificateAuthority.Paths {
    /// The certificate of the CA replaced by the last rotation (`ca-previous.pem`): its leaves may still be in use.
    public var previousCertificate: String { (directory as NSString).appendingPathComponent("ca-previous.pem") }
}

extension CertificateAuthority {
    /// What a rotation did.
    public struct Rotation: Sendable {
        /// The new CA, now in `ca.pem` / `ca-key.pem`.
        public var current: CertificateAuthority
        /// The SHA-256 fingerprint of the replaced CA.
        public var previousFingerprint: String
        /// Until when the replaced CA stays in the trust bundle: the longest a leaf it signed can stay valid.
        public var previousTrustedUntil: Date
    }

    /// The comment line in `ca-previous.pem` that says until when it is trusted.
    static let previousTrustPrefix = "# tokenproxy previous CA, trusted until "

    /// Replaces the CA in `paths` with a new one, keeping the old certificate (not its key) in `ca-previous.pem`,
    /// where the trust bundle includes it until every leaf it can have signed has expired.
    ///
    /// A proxy that is running keeps signing with the old CA until it is restarted, so the window starts now and
    /// lasts one leaf validity (`leafValidity`, the issuer's default) plus a day for proxies restarted late.
    public static func rotate(
        paths: Paths, leafValidity: TimeInterval = LeafIssuer.defaultValidity, now: Date = Date()
    ) throws(CAError) -> Rotation {
        guard exists(at: paths) else {
            throw CAError("no CA in \(paths.directory) to rotate; create one with 'tokenproxy ca init'")
        }
        let previous = try load(paths: paths)
        let until = min(now.addingTimeInterval(leafValidity + 24 * 3600), previous.certificate.notValidAfter)
        let text =
            previousTrustPrefix + until.formatted(Date.ISO8601FormatStyle()) + "\n" + (try previous.certificatePEM)
            + "\n"
        try writeAtomically(text, to: paths.previousCertificate, mode: 0o644)
        let current = try create(paths: paths, force: true)
        return Rotation(current: current, previousFingerprint: previous.fingerprint, previousTrustedUntil: until)
    }

    /// The replaced CA's certificate PEM and the end of its trust window, if there is one and the window is open.
    public static func previousCertificate(paths: Paths, now: Date = Date()) -> (pem: String, until: Date)? {
        guard let text = try? String(contentsOfFile: paths.previousCertificate, encoding: .utf8),
            let firstLine = text.split(separator: "\n").first, firstLine.hasPrefix(previousTrustPrefix),
            let until = try? Date(String(firstLine.dropFirst(previousTrustPrefix.count)), strategy: .iso8601),
            until > now
        else { return nil }
        let pem = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
        return (pem, until)
    }
}
