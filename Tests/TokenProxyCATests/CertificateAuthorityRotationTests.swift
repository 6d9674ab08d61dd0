import Foundation
import Testing
import X509

@testable import TokenProxyCA

@Suite("CertificateAuthority rotation")
struct CertificateAuthorityRotationTests {
    @Test("rotate: a new CA; the old certificate (not its key) kept with its trust window; leaves of both verify")
    func rotationKeepsOldLeavesValid() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            let old = try CertificateAuthority.create(paths: paths, force: false)
            let oldLeaf = try LeafIssuer(authority: old).issue(for: "api.example.com")
            let now = Date()
            let rotation = try CertificateAuthority.rotate(paths: paths, now: now)
            #expect(rotation.current.fingerprint != old.fingerprint)
            #expect(rotation.previousFingerprint == old.fingerprint)
            #expect(rotation.previousTrustedUntil == now.addingTimeInterval(LeafIssuer.defaultValidity + 24 * 3600))
            let loaded = try CertificateAuthority.load(paths: paths)
            #expect(loaded.fingerprint == rotation.current.fingerprint)
            let previous = try String(contentsOfFile: paths.previousCertificate, encoding: .utf8)
            #expect(previous.contains(try old.certificatePEM))
            #expect(!previous.contains("PRIVATE KEY"))

            let bundle = try TrustBundle.write(for: rotation.current)
            let oldLeafFile = try directory.write(try oldLeaf.certificatePEM(), to: "old-leaf.pem")
            let newLeaf = try LeafIssuer(authority: rotation.current).issue(for: "api.example.com")
            let newLeafFile = try directory.write(try newLeaf.certificatePEM(), to: "new-leaf.pem")
            for leaf in [oldLeafFile, newLeafFile] {
                let result = try openssl(["verify", "-CAfile", bundle, leaf])
                #expect(result.status == 0, "\(result.output)")
            }
            let onlyNew = try openssl(["verify", "-CAfile", paths.certificate, oldLeafFile])
            #expect(onlyNew.status != 0, "the old leaf verified against the new CA alone")
        }
    }

    @Test("the previous CA leaves the bundle once its window has passed")
    func windowCloses() throws {
        try withTemporaryDirectory { directory in
            let paths = directory.caPaths()
            _ = try CertificateAuthority.create(paths: paths, force: false)
            let rotation = try CertificateAuthority.rotate(paths: paths)
            #expect(CertificateAuthority.previousCertificate(paths: paths) != nil)
            let later = rotation.previousTrustedUntil.addingTimeInterval(1)
            #expect(CertificateAuthority.previousCertificate(paths: paths, now: later) == nil)
        }
    }

    @Test("rotate without a CA says how to create one")
    func rotateWithoutCA() throws {
        try withTemporaryDirectory { directory in
            let error = caError { try CertificateAuthority.rotate(paths: directory.caPaths()) }
            #expect(error?.description.contains("tokenproxy ca init") == true)
        }
    }
}
