import ArgumentParser
import Foundation
import TokenProxyCA
import TokenProxyCore

/// `tokenproxy ca`: create, describe and print the local CA.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Manage the local CA that signs certificates for intercepted hosts.",
        subcommands: [Init.self, Show.self, Export.self, Trust.self, Rotate.self]
    )

    /// Resolves the CA directory from `--dir` or the configuration.
    struct Location: ParsableArguments {
        @OptionGroup var options: ConfigurationOptions

        @Option(name: .long, help: "CA directory (default: ca.dir from the configuration, else ./Certs).")
        var dir: String?

        func paths() throws -> CertificateAuthority.Paths {
            if let dir { return .init(directory: dir) }
            return .init(directory: try options.load().caDirectory)
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the CA (never overwrites one without --force).")

        @OptionGroup var location: Location

        @Flag(name: .long, help: "Replace an existing CA. Every client that trusts the old one must trust the new one.")
        var force = false

        func run() throws {
            try Self.failingCleanly {
                let authority = try CertificateAuthority.create(paths: try location.paths(), force: force)
                print("created CA \(authority.paths.certificate) (key \(authority.paths.privateKey), mode 0600)")
                print("SHA-256 fingerprint: \(authority.fingerprint)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe the CA: subject, fingerprint, validity, path.")

        @OptionGroup var location: Location

        func run() throws {
            try Self.failingCleanly {
                let paths = try location.paths()
                guard CertificateAuthority.exists(at: paths) else {
                    throw CLIFailure("no CA in \(paths.directory); run 'tokenproxy ca init' or 'tokenproxy serve'")
                }
                let authority = try CertificateAuthority.load(paths: paths)
                let certificate = authority.certificate
                let style = Date.ISO8601FormatStyle()
                print("path:        \(paths.certificate)")
                print("subject:     \(certificate.subject)")
                print("fingerprint: SHA-256 \(authority.fingerprint)")
                print("valid from:  \(certificate.notValidBefore.formatted(style))")
                print("valid until: \(certificate.notValidAfter.formatted(style))")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the CA certificate (PEM) to stdout.")

        @OptionGroup var location: Location

        func run() throws {
            try Self.failingCleanly {
                let authority = try CertificateAuthority.load(paths: try location.paths())
                print(try authority.certificatePEM)
            }
        }
    }
}
