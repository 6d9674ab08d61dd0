import Foundation

/// Writes a PEM bundle of the system's trusted roots plus the proxy CA, for clients whose CA setting replaces
/// rather than extends their trust store (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`). With it, hosts
/// the proxy tunnels untouched still verify against their real certificates.
public enum TrustBundle {
    /// Where Linux distributions and macOS keep the system roots as one PEM file.
    public static let systemBundleCandidates = [
        "/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Alpine
        "/etc/pki/tls/certs/ca-bundle.crt",  // Fedora, RHEL
        "/etc/ssl/ca-bundle.pem",  // openSUSE
        "/etc/ssl/cert.pem",  // macOS, BSDs
    ]

    /// The file name of the combined bundle inside the CA directory.
    public static let fileName = "ca-bundle.pem"

    /// Writes `system roots + CA` (and the previous CA, within its window after a rotation) to `ca-bundle.pem`
    /// beside the CA and returns its path. Blocking file I/O.
    public static func write(for authority: CertificateAuthority) throws -> String {
        let path = (authority.paths.directory as NSString).appendingPathComponent(fileName)
        var text = ""
        if let system = systemBundleCandidates.lazy.compactMap({ try? String(contentsOfFile: $0, encoding: .utf8) }).first {
            text = system
            if !text.hasSuffix("\n") { text += "\n" }
        }
        text += "# tokenproxy local CA\n" + (try authority.certificatePEM) + "\n"
        // After `tokenproxy ca rotate`, leaves of the replaced CA stay valid for a while: keep trusting it until then.
        if let previous = CertificateAuthority.previousCertificate(paths: authority.paths) {
            text += "# tokenproxy previous CA (rotated), until \(previous.until.formatted(Date.ISO8601FormatStyle()))\n"
            text += previous.pem + (previous.pem.hasSuffix("\n") ? "" : "\n")
        }
        let temporary = path + ".tmp-\(getpid())"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            throw CAError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }
}
