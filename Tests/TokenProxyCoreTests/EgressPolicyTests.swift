import Foundation
import Testing

@testable import TokenProxyCore

@Suite("EgressPolicy")
struct EgressPolicyTests {
    private func ips(_ texts: String...) -> [IPAddress] {
        texts.compactMap(IPAddress.init)
    }

    @Test("allow entries parse hosts, wildcards, CIDR blocks and ports", arguments: [
        ("api.example.com", "api.example.com"), ("API.Example.com:443", "api.example.com:443"),
        ("*.example.com", "*.example.com"), ("10.1.0.0/16", "10.1.0.0/16"), ("10.1.0.0/16:8443", "10.1.0.0/16:8443"),
        ("fd00::/8", "fd00::/8"), ("[fd00::/8]:443", "[fd00::/8]:443"), ("10.0.0.5", "10.0.0.5/32"),
        ("0177.0.0.1", "127.0.0.1/32"), ("::1", "::1/128"),
    ])
    func destinations(text: String, description: String) throws {
        #expect(try EgressDestination(text).description == description)
    }

    @Test("bad allow entries are refused", arguments: [
        "*", "*.com", "api.example.com:0", "api.example.com:99999", "[fd00::/8", "[fd00::]x", "10.1.2.3/16", "a b",
    ])
    func badDestinations(text: String) {
        #expect(throws: EgressDestination.Invalid.self) { try EgressDestination(text) }
    }

    @Test("ports outside policy.ports are denied before any lookup; nil ports allow any")
    func ports() {
        let policy = EgressPolicy()
        #expect(policy.checkName(host: "example.com", port: 443) == .allow)
        #expect(policy.checkName(host: "example.com", port: 80) == .allow)
        guard case .deny(let reason) = policy.checkName(host: "example.com", port: 22) else {
            Issue.record("port 22 was not denied")
            return
        }
        #expect(reason.contains("port 22") && reason.contains("policy.ports"))
        #expect(EgressPolicy(ports: nil).checkName(host: "example.com", port: 22) == .allow)
    }

    @Test(
        "private addresses are denied in every mode unless allow_private names them",
        arguments: EgressPolicy.Mode.allCases
    )
    func privateDenied(mode: EgressPolicy.Mode) throws {
        let policy = EgressPolicy(mode: mode, allow: [try EgressDestination("*.internal.example")])
        for address in ["127.0.0.1", "10.0.0.5", "169.254.169.254", "fd00::1", "::ffff:127.0.0.1"] {
            let verdict = policy.checkAddresses(host: "x.internal.example", port: 443, addresses: ips(address))
            guard case .deny(let reason) = verdict else {
                Issue.record("\(address) not denied in \(mode)")
                continue
            }
            #expect(reason.contains("allow_private"))
        }
    }

    @Test("allow_private admits by CIDR (incl. the IPv4-mapped form) or by name, and port")
    func allowPrivate() throws {
        let policy = EgressPolicy(allowPrivate: [
            try EgressDestination("127.0.0.0/8"), try EgressDestination("metadata.internal"),
            try EgressDestination("10.0.0.5:8443"),
        ])
        #expect(policy.checkAddresses(host: "127.0.0.1", port: 443, addresses: ips("127.0.0.1")) == .allow)
        #expect(policy.checkAddresses(host: "localhost", port: 80, addresses: ips("::ffff:127.0.0.2")) == .allow)
        #expect(policy.checkAddresses(host: "metadata.internal", port: 80, addresses: ips("169.254.169.254")) == .allow)
        // 8443 is not in the default ports.
        #expect(policy.checkAddresses(host: "10.0.0.5", port: 8443, addresses: ips("10.0.0.5")) != .allow)
        let anyPort = EgressPolicy(allowPrivate: policy.allowPrivate, ports: nil)
        #expect(anyPort.checkAddresses(host: "10.0.0.5", port: 8443, addresses: ips("10.0.0.5")) == .allow)
        #expect(anyPort.checkAddresses(host: "10.0.0.5", port: 443, addresses: ips("10.0.0.5")) != .allow)
        #expect(policy.checkAddresses(host: "localhost", port: 443, addresses: ips("::1")) != .allow)
    }

    @Test("a name answering with one public and one private address is denied")
    func mixedAnswer() {
        let verdict = EgressPolicy().checkAddresses(
            host: "rebind.example", port: 443, addresses: ips("8.8.8.8", "127.0.0.1")
        )
        guard case .deny(let reason) = verdict else {
            Issue.record("mixed answer allowed")
            return
        }
        #expect(reason.contains("rebind.example (127.0.0.1)"))
    }

    @Test("allowlist denies, monitor flags, open allows what allow does not match")
    func modes() throws {
        let allow = [try EgressDestination("api.example.com"), try EgressDestination("203.0.113.0/24:443")]
        let public1 = ips("93.184.216.34")
        for (mode, expectDeny, expectFlag) in [
            (EgressPolicy.Mode.allowlist, true, false), (.monitor, false, true), (.open, false, false),
        ] {
            let policy = EgressPolicy(mode: mode, allow: allow)
            #expect(policy.checkAddresses(host: "api.example.com", port: 443, addresses: public1) == .allow)
            #expect(policy.checkAddresses(host: "cdn.example", port: 443, addresses: ips("203.0.113.9")) == .allow)
            let miss = policy.checkAddresses(host: "other.example", port: 443, addresses: public1)
            let port80 = policy.checkAddresses(host: "cdn.example", port: 80, addresses: ips("203.0.113.9"))
            switch (miss, port80) {
            case (.deny(let reason), .deny):
                #expect(expectDeny)
                #expect(reason.contains("other.example:443") && reason.contains("policy.allow"))
            case (.wouldDeny(let reason), .wouldDeny):
                #expect(expectFlag)
                #expect(reason.contains("monitor"))
            case (.allow, .allow):
                #expect(!expectDeny && !expectFlag)
            default:
                Issue.record("\(mode): unexpected \(miss) / \(port80)")
            }
        }
    }

    @Test("a CIDR allow entry must cover every resolved address")
    func cidrCoversAll() throws {
        let policy = EgressPolicy(mode: .allowlist, allow: [try EgressDestination("203.0.113.0/24")])
        let addresses = ips("203.0.113.1", "198.51.100.1")
        #expect(policy.checkAddresses(host: "a.example", port: 443, addresses: addresses) != .allow)
    }
}
