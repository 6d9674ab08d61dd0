import Foundation
import Testing

/// The admin endpoint of a running proxy: health, metrics and status, its DNS-rebinding defences, and that the proxy
/// will not forward requests to it.
@Suite("admin endpoint end to end", .serialized, .timeLimit(.minutes(1)))
struct AdminEndToEndTests {
    /// The admin port the proxy printed at startup.
    private func adminPort(_ fixture: ProxyFixture) async throws -> Int {
        for _ in 0..<50 {
            let output = (try? String(contentsOfFile: fixture.proxy.stdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/admin endpoint on http://127\.0\.0\.1:([0-9]+)/#), let port = Int(match.1) {
                return port
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw AdminTestError(description: "the proxy did not print its admin endpoint")
    }

    struct AdminTestError: Error, CustomStringConvertible {
        var description: String
    }

    /// A direct (unproxied) GET to the admin endpoint.
    private func admin(
        _ fixture: ProxyFixture, port: Int, _ path: String, headers: [String] = []
    ) async throws -> Clients.CurlResult {
        try await fixture.clients.curl(
            "http://127.0.0.1:\(port)\(path)", arguments: ["--noproxy", "*"] + headers.flatMap { ["--header", $0] }
        )
    }

    @Test("healthz, readyz, metrics and status describe the proxy by names, never by values")
    func endpoints() async throws {
        var configuration = ProxyConfiguration()
        configuration.serveArguments = ["--admin-listen", "127.0.0.1:0"]
        try await ProxyFixture.run("admin-endpoints", configuration: configuration) { fixture in
            let port = try await adminPort(fixture)
            let origin = try await fixture.startOrigin(.valid)
            let proxied = try await fixture.clients.curl("https://localhost:\(origin.port)/v1/metered")
            #expect(proxied.httpCode == 200)

            let health = try await admin(fixture, port: port, "/healthz")
            #expect(health.httpCode == 200 && health.body.contains("ok"))
            let ready = try await admin(fixture, port: port, "/readyz")
            #expect(ready.httpCode == 200)

            var metrics = try await admin(fixture, port: port, "/metrics")
            for _ in 0..<20 where !metrics.body.contains("decision=\"injected\"") {
                try await Task.sleep(for: .milliseconds(100))
                metrics = try await admin(fixture, port: port, "/metrics")
            }
            #expect(metrics.httpCode == 200)
            let counted = metrics.body.contains(#/tokenproxy_requests_total\{[^}]*credential="e2e"[^}]*decision="injected"[^}]*\} 1/#)
            #expect(counted, "no injected request counted for credential e2e")
            #expect(metrics.body.contains("tokenproxy_recorder_queue_depth"))
            #expect(metrics.body.contains("tokenproxy_leaf_cache_misses"))

            let status = try await admin(fixture, port: port, "/status")
            #expect(status.httpCode == 200)
            let document = try #require(
                try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any], "status is not JSON"
            )
            let credentials = try #require(document["credentials"] as? [[String: Any]])
            #expect(credentials.first?["name"] as? String == "e2e")
            #expect(credentials.first?["source"] as? String == "env:\(ProxyConfiguration.credentialVariable)")
            #expect((document["recorder"] as? [String: Any])?["healthy"] as? Bool == true)
            // The fixture's teardown scans every client output (these bodies included) for the canary.
        }
    }

    @Test("foreign Host and any Origin are refused, and the proxy will not forward to its own listeners")
    func defences() async throws {
        var configuration = ProxyConfiguration()
        configuration.serveArguments = ["--admin-listen", "127.0.0.1:0"]
        try await ProxyFixture.run("admin-defences", configuration: configuration) { fixture in
            let port = try await adminPort(fixture)
            let rebound = try await admin(fixture, port: port, "/status", headers: ["Host: attacker.example"])
            #expect(rebound.httpCode == 403)
            let fromPage = try await admin(fixture, port: port, "/status", headers: ["Origin: https://attacker.example"])
            #expect(fromPage.httpCode == 403)

            let throughProxy = try await fixture.clients.curl("http://127.0.0.1:\(port)/status")
            #expect(throughProxy.httpCode == 403)
            #expect(throughProxy.body.contains("own listener"))
            let connectToAdmin = try await fixture.clients.curl("https://127.0.0.1:\(port)/status")
            #expect(connectToAdmin.transfers.first?.httpConnect == 403)
            let loopToProxy = try await fixture.clients.curl("http://127.0.0.1:\(fixture.proxy.port)/")
            #expect(loopToProxy.httpCode == 403)
        }
    }
}
