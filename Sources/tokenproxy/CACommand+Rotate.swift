import ArgumentParser
import Foundation
import TokenProxyCA

extension CACommand {
    /// `tokenproxy ca rotate`: a new CA, the old one still trusted through the bundle until its leaves expire.
    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the CA with a new one; the old one stays in the trust bundle until its leaves expire.",
            discussion: """
                Moves the old certificate to ca-previous.pem (its key is overwritten), creates a new CA and rewrites \
                ca-bundle.pem with both, so programs using the bundle keep working with leaves a running proxy \
                signed before the rotation. Restart running proxies, then trust the new CA wherever the old one was \
                installed (tokenproxy ca trust).
                """
        )

        @OptionGroup var location: Location

        @Flag(name: .shortAndLong, help: "Print only the new fingerprint.")
        var quiet = false

        func run() throws {
            try Self.failingCleanly {
                let rotation = try CertificateAuthority.rotate(paths: try location.paths())
                let trust = try ClientTrustFiles(authority: rotation.current)
                if quiet {
                    print(rotation.current.fingerprint)
                    return
                }
                let until = rotation.previousTrustedUntil.formatted(Date.ISO8601FormatStyle())
                print("new CA: \(trust.caCertificate) (SHA-256 \(rotation.current.fingerprint))")
                print(
                    "old CA: \(absolutePath(rotation.current.paths.previousCertificate)) (SHA-256 "
                        + "\(rotation.previousFingerprint)), kept in \(trust.bundle) until \(until)")
                print("next:")
                print("  1. restart running proxies ('tokenproxy serve'): they sign with the old CA until then")
                print("  2. trust the new CA wherever the old one was installed: tokenproxy ca trust")
                print("     (system stores, Java keystores, Docker images; programs using the bundle need nothing)")
            }
        }
    }
}
