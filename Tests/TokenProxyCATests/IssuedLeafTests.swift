import Foundation
import Testing
import X509

@testable import TokenProxyCA

@Suite("IssuedLeaf")
struct IssuedLeafTests {
    @Test("the PEM forms parse back to the leaf and its issuer")
    func pemRoundTrip() throws {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/unused"))
        let leaf = try LeafIssuer(authority: authority).issue(for: "api.example.com")
        let leafPEM = try leaf.certificatePEM()
        let issuerPEM = try leaf.issuerPEM()
        #expect(leafPEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(try Certificate(pemEncoded: leafPEM) == leaf.certificate)
        #expect(try Certificate(pemEncoded: issuerPEM) == authority.certificate)
        #expect(try issuerPEM == authority.certificatePEM)
    }
}
