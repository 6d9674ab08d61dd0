import SwiftASN1
import TokenProxyCore
import X509

extension CertificateNames {
    /// Reads the subject common names and subject alternative names of a DER certificate.
    public init(derEncoded bytes: [UInt8]) throws {
        let certificate = try Certificate(derEncoded: bytes)
        var commonNames: [String] = []
        for relativeName in certificate.subject {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                if let text = String(attribute.value) { commonNames.append(text) }
            }
        }
        var alternativeNames: [String] = []
        for name in (try certificate.extensions.subjectAlternativeNames) ?? SubjectAlternativeNames([]) {
            switch name {
            case .dnsName(let text), .uniformResourceIdentifier(let text), .rfc822Name(let text):
                alternativeNames.append(text)
            case .ipAddress(let octets):
                if let text = Self.ipText(octets.bytes) { alternativeNames.append(text) }
            default:
                break
            }
        }
        self.init(commonNames: commonNames, alternativeNames: alternativeNames)
    }

    /// Dotted IPv4 text; other lengths (IPv6) are left out rather than written in a form nobody would configure.
    private static func ipText(_ bytes: ArraySlice<UInt8>) -> String? {
        guard bytes.count == 4 else { return nil }
        return bytes.map(String.init).joined(separator: ".")
    }
}
