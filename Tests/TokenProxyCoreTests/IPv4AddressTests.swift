import Testing

@testable import TokenProxyCore

@Suite("IPv4Address")
struct IPv4AddressTests {
    @Test("canonical dotted quads parse to their octets")
    func parses() throws {
        let address = try #require(IPv4Address("192.168.0.255"))
        let octets = [address.octets.0, address.octets.1, address.octets.2, address.octets.3]
        #expect(octets == [192, 168, 0, 255])
        #expect(IPv4Address("0.0.0.0") == IPv4Address("0.0.0.0"))
        #expect(IPv4Address("10.0.0.1") != IPv4Address("10.0.0.2"))
    }

    @Test("odd spellings are refused", arguments: [
        "0177.0.0.1", "2130706433", "127.1", "127.0.0.1.", "1.2.3.4.5", "256.0.0.1", "1.2.3.", ".1.2.3", "1.2.3.a",
        "1.2.3.-4", "1.2.3.+4", "01.2.3.4", "1.2.3.0004", "", "1..2.3",
    ])
    func refused(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test("equal addresses hash equally")
    func hashing() throws {
        let set: Set<IPv4Address> = [try #require(IPv4Address("1.2.3.4")), try #require(IPv4Address("1.2.3.4"))]
        #expect(set.count == 1)
    }
}
