import Foundation
import Testing
import X509

@testable import TokenProxyCA

@Suite("TrustBundle")
struct TrustBundleTests {
    @Test("the bundle holds the system roots followed by the proxy CA, beside the CA")
    func bundleContents() throws {
        try withTemporaryDirectory { directory in
            let authority = try CertificateAuthority.create(paths: directory.caPaths(), force: false)
            let path = try TrustBundle.write(for: authority)
            #expect(path == (authority.paths.directory as NSString).appendingPathComponent("ca-bundle.pem"))
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasSuffix("# tokenproxy local CA\n" + (try authority.certificatePEM) + "\n"))

            let system = TrustBundle.systemBundleCandidates.lazy
                .compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first
            if let system {
                #expect(text.hasPrefix(system))
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: authority.paths.directory)
                .filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty)
        }
    }

    @Test("openssl verifies a proxy leaf against the bundle")
    func opensslUsesBundle() throws {
        try withTemporaryDirectory { directory in
            let authority = try CertificateAuthority.create(paths: directory.caPaths(), force: false)
            let bundle = try TrustBundle.write(for: authority)
            let leaf = try LeafIssuer(authority: authority).issue(for: "api.example.com")
            let leafFile = try directory.write(try leaf.certificatePEM(), to: "leaf.pem")
            let result = try openssl(["verify", "-CAfile", bundle, leafFile])
            #expect(result.status == 0, "\(result.output)")
        }
    }

    @Test("writing again replaces the bundle")
    func rewrite() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let first = try CertificateAuthority.create(paths: paths, force: false)
            _ = try TrustBundle.write(for: first)
            let second = try CertificateAuthority.create(paths: paths, force: true)
            let path = try TrustBundle.write(for: second)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains(try second.certificatePEM))
            #expect(!text.contains(try first.certificatePEM))
        }
    }
}
