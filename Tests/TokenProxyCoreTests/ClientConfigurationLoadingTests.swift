import Foundation
import Testing

@testable import TokenProxyCore

@Suite("clients, listen_tls and rate limits in the configuration")
struct ClientConfigurationLoadingTests {
    /// Lines 1–12: a TLS listener, two credentials (one prod-tagged with limits) and two rules; `clients:` follows.
    static let base = """
        listen: 0.0.0.0:8080
        listen_tls: { listen: "0.0.0.0:8443", cert: tls.crt, key: tls.key, client_ca: ca.crt }
        credentials:
          github: { source: env:GH, environment: prod, rate: 10/s, burst: 20, daily_requests: 1000 }
          stripe: { source: env:STRIPE }
        rules:
          - host: api.github.com
            credential: github
            inject: { header: Authorization, value: "Bearer {{secret}}" }
          - host: api.stripe.com
            credential: stripe
            inject: { header: Authorization, value: "Bearer {{secret}}" }

        """

    @Test("clients, listen_tls, environments and limits load as written")
    func loads() throws {
        let yaml = Self.base + """
            clients:
              ci:
                key: env:CI_KEY
                environment: prod
                credentials: [github]
                rate: 5/m
                daily_requests: 100
              payments:
                mtls: { san: "spiffe://prod/payments", subject: payments-api }
                rules: [1]
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "gw.yaml")
        #expect(configuration.listen == HostPort(host: "0.0.0.0", port: 8080))
        let tls = try #require(configuration.listenTLS)
        #expect(tls.listen == HostPort(host: "0.0.0.0", port: 8443))
        #expect(tls.certificatePath == "tls.crt" && tls.privateKeyPath == "tls.key" && tls.clientCAPath == "ca.crt")
        let github = try #require(configuration.credential(named: "github"))
        #expect(github.environment == "prod")
        let tenPerSecond = RateLimits.Rate(requests: 10, periodSeconds: 1)
        #expect(github.limits == RateLimits(rate: tenPerSecond, burst: 20, dailyRequests: 1000))
        #expect(configuration.credential(named: "stripe")?.environment == nil)
        #expect(configuration.clients.map(\.name) == ["ci", "payments"])
        let ci = configuration.clients[0]
        #expect(ci.key == .environment(variable: "CI_KEY"))
        #expect(ci.keyLocation == ConfigLocation(file: "gw.yaml", line: 15))
        #expect(ci.environment == "prod")
        #expect(ci.credentials == ["github"])
        #expect(ci.limits == RateLimits(rate: RateLimits.Rate(requests: 5, periodSeconds: 60), dailyRequests: 100))
        let payments = configuration.clients[1]
        #expect(payments.certificate == .init(subject: "payments-api", alternativeName: "spiffe://prod/payments"))
        #expect(payments.rules == [1])
        #expect(payments.key == nil)
    }

    @Test("a non-loopback listen loads; serve decides with ListenerExposure")
    func nonLoopbackListenLoads() throws {
        let configuration = try ConfigurationLoader.parse(yaml: "listen: 10.0.0.5:3128\n", file: "c.yaml")
        #expect(configuration.listen == HostPort(host: "10.0.0.5", port: 3128))
        #expect(configuration.clients.isEmpty)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let name: String
        let clients: String
        let line: Int
        let fragment: String
        var testDescription: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "unknown key", clients: "  ci: { key: env:K, colour: blue }", line: 14,
            fragment: "unknown key 'colour' in clients.ci"),
        Bad(name: "no way to authenticate", clients: "  ci: { environment: prod }", line: 14,
            fragment: "clients.ci needs 'key' (a secret source) or 'mtls'"),
        Bad(name: "bad key source", clients: "  ci: { key: vault:x }", line: 14,
            fragment: "unknown source kind 'vault'"),
        Bad(name: "unknown credential", clients: "  ci:\n    key: env:K\n    credentials: [gitlab]", line: 16,
            fragment: "clients.ci.credentials names 'gitlab', which is not defined"),
        Bad(name: "credential of another environment",
            clients: "  ci:\n    key: env:K\n    environment: staging\n    credentials: [github]", line: 17,
            fragment: "names 'github' of environment 'prod', but the client's environment is 'staging'"),
        Bad(name: "rule index out of range", clients: "  ci:\n    key: env:K\n    rules: [2]", line: 16,
            fragment: "clients.ci.rules must list rule indexes (0 to 1"),
        Bad(name: "mtls without subject or san", clients: "  ci:\n    mtls: {}", line: 15,
            fragment: "clients.ci.mtls needs 'subject'"),
        Bad(name: "malformed rate", clients: "  ci:\n    key: env:K\n    rate: 10 per second", line: 16,
            fragment: "clients.ci.rate must be COUNT/s, COUNT/m or COUNT/h"),
        Bad(name: "burst without rate", clients: "  ci:\n    key: env:K\n    burst: 5", line: 16,
            fragment: "clients.ci.burst needs 'rate'"),
        Bad(name: "zero burst", clients: "  ci:\n    key: env:K\n    rate: 1/s\n    burst: 0", line: 17,
            fragment: "clients.ci.burst must be at least 1"),
        Bad(name: "zero budget", clients: "  ci:\n    key: env:K\n    daily_requests: 0", line: 16,
            fragment: "clients.ci.daily_requests must be at least 1"),
        Bad(name: "bad environment tag", clients: "  ci:\n    key: env:K\n    environment: \"pro d\"", line: 16,
            fragment: "clients.ci.environment 'pro d' may contain only"),
        Bad(name: "bad client name", clients: "  \"c i\": { key: env:K }", line: 14,
            fragment: "client name 'c i' may contain only"),
    ]

    @Test("bad clients are refused with file:line", arguments: bad)
    func refused(_ bad: Bad) throws {
        let yaml = Self.base + "clients:\n" + bad.clients + "\n"
        let error = try #require(parseError(yaml, file: "gw.yaml"))
        #expect(error.location == ConfigLocation(file: "gw.yaml", line: bad.line), "\(error)")
        #expect(error.message.contains(bad.fragment), "\(error.message)")
    }

    @Test("mtls clients need a TLS listener with client_ca")
    func mtlsNeedsClientCA() throws {
        let yaml =
            "listen_tls: { listen: \"0.0.0.0:8443\", cert: a, key: b }\nclients:\n  ci:\n    mtls: { subject: ci }\n"
        let error = try #require(parseError(yaml, file: "c.yaml"))
        #expect(error.location == ConfigLocation(file: "c.yaml", line: 4))
        #expect(error.message.contains("needs a TLS listener that asks for client certificates"))
    }

    @Test("listen_tls needs listen, cert and key", arguments: [
        ("listen_tls: { cert: a, key: b }\n", "listen_tls needs 'listen'"),
        ("listen_tls: { listen: \"127.0.0.1:1\", key: b }\n", "listen_tls needs 'cert'"),
        ("listen_tls: { listen: \"127.0.0.1:1\", cert: a }\n", "listen_tls needs 'key'"),
        ("listen_tls: { listen: nowhere, cert: a, key: b }\n", "listen address 'nowhere' is not HOST:PORT"),
        ("listen_tls: { listen: \"127.0.0.1:1\", cert: a, key: b, ca: c }\n", "unknown key 'ca' in listen_tls"),
    ])
    func listenTLSRefused(yaml: String, fragment: String) throws {
        let error = try #require(parseError(yaml, file: "c.yaml"))
        #expect(error.location == ConfigLocation(file: "c.yaml", line: 1))
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    @Test("credential limits and environments are checked like a client's")
    func credentialLimitsRefused() throws {
        let yaml = "credentials:\n  gh:\n    source: env:GH\n    rate: 3/day\n"
        let error = try #require(parseError(yaml, file: "c.yaml"))
        #expect(error.location == ConfigLocation(file: "c.yaml", line: 4))
        #expect(error.message.contains("credentials.gh.rate must be COUNT/s"))
    }

    @Test("serve refuses a non-loopback listener without clients unless --insecure-open")
    func exposure() {
        let open = HostPort(host: "0.0.0.0", port: 8080)
        let loopback = HostPort(host: "127.0.0.1", port: 8080)
        let refusal = ListenerExposure.refusal(
            listeners: [("listen", loopback), ("listen_tls.listen", open)], hasClients: false, insecureOpen: false
        )
        #expect(
            refusal?.hasPrefix("refusing to listen on 0.0.0.0:8080 (listen_tls.listen): it is not a loopback") == true
        )
        #expect(refusal?.contains("--insecure-open") == true)
        #expect(ListenerExposure.refusal(listeners: [("listen", open)], hasClients: true, insecureOpen: false) == nil)
        #expect(ListenerExposure.refusal(listeners: [("listen", open)], hasClients: false, insecureOpen: true) == nil)
        #expect(
            ListenerExposure.refusal(listeners: [("listen", loopback)], hasClients: false, insecureOpen: false) == nil
        )
    }

    @Test("every file in Config/ loads", arguments: shippedConfigurations)
    func shipped(path: String) throws {
        let configuration = try ConfigurationLoader.load(path: path)
        #expect(!configuration.rules.isEmpty)
    }

    static var shippedConfigurations: [String] {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { directory.appendingPathComponent($0).path }
    }
}
