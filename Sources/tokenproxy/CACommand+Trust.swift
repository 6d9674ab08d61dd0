import ArgumentParser
import Foundation
import TokenProxyCA

extension CACommand {
    /// `tokenproxy ca trust [--system]`: how to make every platform and runtime trust the CA, or do it on Debian.
    struct Trust: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the commands that make each platform and runtime trust the CA (--system: do it, Debian).",
            discussion: """
                Prints exact commands for Debian/Ubuntu, Fedora/RHEL, macOS, Java (keytool), Node, Python, git and \
                Docker, with this CA's path. With --system on Debian or Ubuntu (as root) it copies the CA to \
                /usr/local/share/ca-certificates/tokenproxy.crt and runs update-ca-certificates, saying what changed.
                """
        )

        @OptionGroup var location: Location

        @Flag(help: "Install the CA in the system store (Debian/Ubuntu, as root) instead of printing commands.")
        var system = false

        func run() throws {
            try Self.failingCleanly {
                let paths = try location.paths()
                guard CertificateAuthority.exists(at: paths) else {
                    throw CLIFailure(
                        "no CA in \(paths.directory) yet; run 'tokenproxy ca init' or start 'tokenproxy serve' once"
                    )
                }
                let authority = try CertificateAuthority.load(paths: paths)
                if system {
                    for line in try SystemTrustInstaller.install(caPath: absolutePath(paths.certificate)) {
                        print(line)
                    }
                    return
                }
                let trust = try ClientTrustFiles(authority: authority)
                print("# The proxy CA: \(trust.caCertificate) (SHA-256 \(authority.fingerprint))")
                print("# Trust it only on this machine: whoever has its key can impersonate any site to you.\n")
                print(TrustInstructions.text(ca: trust.caCertificate, bundle: trust.bundle))
            }
        }
    }
}
