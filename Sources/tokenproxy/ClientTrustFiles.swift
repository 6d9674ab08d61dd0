import Foundation
import TokenProxyCA
import TokenProxyCore

/// The two files a client needs to trust the proxy: the bundle (system roots + proxy CA) and the CA alone, as
/// absolute paths so they stay right for a program that changes directory.
struct ClientTrustFiles {
    /// System roots plus the proxy CA, for variables that replace a runtime's trust store.
    let bundle: String
    /// The proxy CA alone, for `NODE_EXTRA_CA_CERTS` and the system stores.
    let caCertificate: String

    /// Writes the bundle for `authority` and returns both paths.
    init(authority: CertificateAuthority) throws {
        do {
            bundle = absolutePath(try TrustBundle.write(for: authority))
        } catch {
            throw CLIFailure("cannot write the client trust bundle in \(authority.paths.directory): \(error)")
        }
        caCertificate = absolutePath(authority.paths.certificate)
    }

    /// Loads the CA of `configuration` (which must exist: this never creates one) and writes the bundle.
    init(configuration: ProxyConfiguration) throws {
        let paths = CertificateAuthority.Paths(directory: configuration.caDirectory)
        guard CertificateAuthority.exists(at: paths) else {
            throw CLIFailure(
                "no CA in \(absolutePath(paths.directory)) yet; start 'tokenproxy serve' once (it creates one) or run "
                    + "'tokenproxy ca init'"
            )
        }
        let authority: CertificateAuthority
        do {
            authority = try CertificateAuthority.load(paths: paths)
        } catch {
            throw CLIFailure(error.description)
        }
        try self.init(authority: authority)
    }

    /// The variables a client of the proxy at `proxy` needs, trusting these files (for `run` and `env`).
    func clientEnvironment(proxy: HostPort, credentials: [CredentialConfiguration]) throws -> ClientEnvironment {
        do {
            return try ClientEnvironment(
                proxy: proxy, trustBundle: bundle, caCertificate: caCertificate, credentials: credentials
            )
        } catch {
            throw CLIFailure("\(error)")
        }
    }
}

/// `path` made absolute against the working directory.
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
