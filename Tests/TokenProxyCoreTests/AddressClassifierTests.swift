import Foundation
import Testing

@testable import TokenProxyCore

@Suite("AddressClassifier")
struct AddressClassifierTests {
    @Test("special-purpose addresses are restricted, named by their block", arguments: [
        ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"),
        ("10.0.0.5", "RFC 1918"), ("10.255.255.255", "RFC 1918"), ("172.16.0.1", "RFC 1918"),
        ("172.31.255.254", "RFC 1918"), ("192.168.1.1", "RFC 1918"),
        ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.255", "carrier-grade NAT"),
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"),
        ("169.254.169.254", "link-local"), ("169.254.0.1", "link-local"),
        ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"),
        ("255.255.255.255", "broadcast"), ("240.0.0.1", "reserved"),
        ("::", "unspecified"), ("::1", "loopback"),
        ("fe80::1", "link-local"), ("febf::1", "link-local"),
        ("fc00::1", "unique local"), ("fd00::1", "unique local"), ("fdff:ffff::1", "unique local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv4-mapped"), ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "RFC 1918"),
        ("64:ff9b::7f00:1", "NAT64"), ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:7f00:1::", "6to4"), ("2002:a00:5::1", "RFC 1918"),
        ("::127.0.0.1", "IPv4-compatible"),
    ])
    func restricted(address: String, fragment: String) throws {
        let ip = try #require(IPAddress(address))
        let restriction = try #require(AddressClassifier.restriction(of: ip))
        #expect(restriction.contains(fragment), "\(address): \(restriction)")
    }

    @Test("public addresses are not restricted", arguments: [
        "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255",
        "169.253.255.255", "223.255.255.255", "11.0.0.1", "126.255.255.255", "128.0.0.1",
        "2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
        "fbff:ffff::1", "2001:db8::1",
    ])
    func unrestricted(address: String) throws {
        let ip = try #require(IPAddress(address))
        #expect(AddressClassifier.restriction(of: ip) == nil, "\(address)")
    }

    @Test("every block in the tables parses (the tables use try!)")
    func tablesAreValid() {
        #expect(AddressClassifier.ipv4Ranges.count == 11)
        #expect(AddressClassifier.ipv6Ranges.count == 6)
        #expect(AddressClassifier.ipv4Ranges.allSatisfy { $0.network.address.bytes.count == 4 })
        #expect(AddressClassifier.ipv6Ranges.allSatisfy { $0.network.address.bytes.count == 16 })
    }
}

@Suite("IPAddress and IPNetwork")
struct IPAddressTests {
    @Test("odd IPv4 spellings parse to the address inet_aton gives", arguments: [
        ("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"), ("0x7F000001", "127.0.0.1"), ("10.1", "10.0.0.1"), ("10.0.1", "10.0.0.1"),
        ("169.254.43518", "169.254.169.254"), ("0", "0.0.0.0"), ("0xA9.0376.0xa9fe", "169.254.169.254"),
        ("127.0.0.1.", "127.0.0.1"),
    ])
    func lenientIPv4(text: String, canonical: String) throws {
        let ip = try #require(IPAddress(text))
        #expect(ip.description == canonical)
    }

    @Test("host names and impossible numbers are not addresses", arguments: [
        "example.com", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.16777216", "4294967296", "08", "0xg", "1..1", "",
        "1e100.net", "127.0.0.1.example.com", "::g", "[::1", "a:b",
    ])
    func notAddresses(text: String) {
        #expect(IPAddress(text) == nil, "\(text)")
    }

    @Test("IPv6 with brackets, upper case and zone ids is canonical", arguments: [
        ("[::1]", "::1"), ("0:0:0:0:0:0:0:1", "::1"), ("FD00::1", "fd00::1"), ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25lo]", "fe80::1"), ("::FFFF:7F00:1", "::ffff:127.0.0.1"),
    ])
    func ipv6(text: String, canonical: String) throws {
        #expect(try #require(IPAddress(text)).description == canonical)
    }

    @Test("CIDR blocks contain what they should", arguments: [
        ("10.1.0.0/16", "10.1.255.255", true), ("10.1.0.0/16", "10.2.0.0", false), ("0.0.0.0/0", "8.8.8.8", true),
        ("fd00::/8", "fd12::1", true), ("fd00::/8", "fe00::1", false), ("10.0.0.5", "10.0.0.5", true),
        ("10.0.0.5", "10.0.0.6", false), ("::/0", "10.0.0.1", false), ("100.64.0.0/10", "100.127.1.1", true),
    ])
    func contains(block: String, address: String, expected: Bool) throws {
        let network = try IPNetwork(block)
        #expect(network.contains(try #require(IPAddress(address))) == expected)
    }

    @Test("bad CIDR blocks are refused with a reason", arguments: [
        "10.1.2.3/16", "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "example.com/8", "10.0.0.0/8/8", "10.0.0.0/-1",
    ])
    func badBlocks(block: String) {
        #expect(throws: IPNetwork.Invalid.self) { try IPNetwork(block) }
    }
}
