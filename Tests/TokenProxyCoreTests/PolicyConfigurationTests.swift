import Foundation
import Testing

@testable import TokenProxyCore

@Suite("Configuration: policy and scrub_responses")
struct PolicyConfigurationTests {
    @Test("a full policy block parses")
    func fullPolicy() throws {
        let yaml = """
            policy:
              egress: allowlist
              allow: [api.github.com, "*.example.com:443", 10.1.0.0/16, "fd00::/8", "[fd00::/8]:8443"]
              allow_private: [127.0.0.0/8, "::1", metadata.internal]
              ports: [443, 8443]
              leak_scan_bytes: 1024
              inspect: all
            """
        let policy = try ConfigurationLoader.parse(yaml: yaml, file: "p.yaml").policy
        #expect(policy.mode == .allowlist)
        #expect(policy.allow.map(\.description) == [
            "api.github.com", "*.example.com:443", "10.1.0.0/16", "fd00::/8", "[fd00::/8]:8443",
        ])
        #expect(policy.allowPrivate.map(\.description) == ["127.0.0.0/8", "::1/128", "metadata.internal"])
        #expect(policy.ports == [443, 8443])
        #expect(policy.leakScanBytes == 1024)
        #expect(policy.inspect == .all)
    }

    @Test("defaults: open, ports 443 and 80, 64 KiB scanned, rules inspected; ports: any allows every port")
    func defaults() throws {
        let policy = try ConfigurationLoader.parse(yaml: "listen: 127.0.0.1:8080\n", file: "p.yaml").policy
        #expect(policy.mode == .open)
        #expect(policy.ports == [443, 80])
        #expect(policy.leakScanBytes == 65536)
        #expect(policy.inspect == .rules)
        #expect(policy.allowPrivate.isEmpty)
        let any = try ConfigurationLoader.parse(yaml: "policy: { ports: any }\n", file: "p.yaml").policy
        #expect(any.ports == nil)
    }

    @Test("bad policies are refused at file:line with the reason", arguments: [
        ("policy:\n  egress: closed\n", 2, "open, monitor or allowlist"),
        ("policy:\n  egress: allowlist\n", 2, "policy.allow is empty"),
        ("policy:\n  allow:\n    - \"*.com\"\n", 3, "top-level domain"),
        ("policy:\n  allow_private:\n    - 10.1.2.3/8\n", 3, "bits set"),
        ("policy:\n  allow:\n    - { host: x }\n", 3, "must list hosts"),
        ("policy:\n  ports: [443, 0]\n", 2, "ports 1–65535"),
        ("policy:\n  ports: all\n", 2, "list of ports or 'any'"),
        ("policy:\n  leak_scan_bytes: -1\n", 2, "leak_scan_bytes"),
        ("policy:\n  inspect: everything\n", 2, "rules or all"),
        ("policy:\n  egres: open\n", 2, "unknown key 'egres'"),
    ])
    func refusals(yaml: String, line: Int, fragment: String) throws {
        let error = try #require(parseError(yaml, file: "p.yaml"))
        #expect(error.location == ConfigLocation(file: "p.yaml", line: line), "\(error)")
        #expect(error.message.contains(fragment), "\(error)")
    }

    @Test("scrub_responses on a rule parses; it defaults to false")
    func scrubResponses() throws {
        let yaml = """
            credentials:
              github: { source: env:GITHUB_TOKEN }
            rules:
              - host: api.github.com
                credential: github
                inject: { header: Authorization, value: "Bearer {{secret}}" }
                scrub_responses: true
              - { host: b.github.com, credential: github, inject: { placeholder: true } }
            """
        let rules = try ConfigurationLoader.parse(yaml: yaml, file: "p.yaml").rules
        #expect(rules.map(\.scrubResponses) == [true, false])
    }
}
