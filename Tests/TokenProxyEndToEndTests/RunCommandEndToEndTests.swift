import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `tokenproxy run -- CMD`: real clients (curl, Python requests, git, sh) started by the real binary, with the token
/// only in tokenproxy's environment.
@Suite("tokenproxy run", .serialized)
struct RunCommandEndToEndTests {
    /// The fixture's proxy environment also holds the canary under a name no source reads: `run` must drop it by
    /// value, not only by name.
    private static func configuration() -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.secretVariables[copyVariable] = ProxyConfiguration.credentialName
        configuration.credentialSettingsYAML = """
                env_placeholder: E2E_API_KEY
            """
        return configuration
    }

    private static let copyVariable = "TP_E2E_COPY_OF_TOKEN"

    @Test("run -- curl: the token is injected, the child's environment has proxy, CA and placeholder but no token")
    func curlThroughRun() async throws {
        try await ProxyFixture.run("run-curl", configuration: Self.configuration()) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let config = try fixture.secondProxyConfiguration()
            let url = "https://localhost:\(origin.port)/run/curl"
            let run = try await fixture.runTokenproxy(
                [
                    "run", "--config", config, "--", "sh", "-c", "env > \"$0\" && exec \"$@\"",
                    fixture.directory.file("clients/child-env.txt"),
                ]
                    + ThroughProxy.command(["curl", "-sS", "--fail", url]),
                environment: [:]
            )
            #expect(run.exitCode == 0, fixture.explain(run))
            #expect(run.stdout.contains(TestOrigin.greeting), fixture.explain(run))
            let request = origin.requests.first { $0.uri == "/run/curl" }
            #expect(request != nil, "the origin saw no request for /run/curl")
            if let request { fixture.expectInjected(request) }

            let environment = try String(
                contentsOfFile: fixture.directory.file("clients/child-env.txt"), encoding: .utf8)
            let variables = Dictionary(
                environment.split(separator: "\n").compactMap { line -> (String, String)? in
                    let parts = line.split(separator: "=", maxSplits: 1)
                    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                },
                uniquingKeysWith: { first, _ in first }
            )
            fixture.check(!fixture.contains(environment), "the child's environment holds the token")
            #expect(
                variables[ProxyConfiguration.credentialVariable] == nil, "the env: source variable reached the child")
            #expect(variables[Self.copyVariable] == nil, "a variable holding the token's value reached the child")
            #expect(variables["HTTPS_PROXY"]?.hasPrefix("http://127.0.0.1:") == true)
            #expect(variables["HTTP_PROXY"] == variables["HTTPS_PROXY"])
            #expect(variables["https_proxy"] == variables["HTTPS_PROXY"])
            #expect(variables["NO_PROXY"] == "localhost,127.0.0.1,::1")
            #expect(variables["E2E_API_KEY"] == "{{tokenproxy:\(ProxyConfiguration.credentialName)}}")
            let bundle = variables["SSL_CERT_FILE"] ?? ""
            #expect(bundle.hasSuffix("/certs/ca-bundle.pem"))
            for name in ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE"] {
                #expect(variables[name] == bundle, "\(name) is not the bundle")
            }
            #expect(variables["NODE_EXTRA_CA_CERTS"]?.hasSuffix("/certs/ca.pem") == true)
            // The run proxy recorded the request in its own audit log.
            let records = await AuditRecord.wait(for: fixture.directory.file("run-audit.jsonl")) {
                $0.contains { $0.path == "/run/curl" }
            }
            #expect(records.contains { $0.path == "/run/curl" && $0.credential == ProxyConfiguration.credentialName })
        }
    }

    @Test("run -- python3 requests: SDK-style client with the placeholder variable gets the real token upstream")
    func pythonRequestsThroughRun() async throws {
        try await ProxyFixture.run("run-python", configuration: Self.configuration()) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let config = try fixture.secondProxyConfiguration()
            // Like an SDK: it insists on a key variable and sends it; the proxy replaces the whole header.
            let script = """
                import os, sys, requests
                key = os.environ["E2E_API_KEY"]
                r = requests.get(sys.argv[1], headers={"Authorization": "Bearer " + key}, timeout=20)
                print(r.status_code, r.text)
                """
            let run = try await fixture.runTokenproxy(
                ["run", "--config", config, "--"]
                    + ThroughProxy.command(["python3", "-c", script, "https://localhost:\(origin.port)/run/python"]),
                environment: [:]
            )
            #expect(run.exitCode == 0, fixture.explain(run))
            #expect(run.stdout.hasPrefix("200 "), fixture.explain(run))
            let request = origin.requests.first { $0.uri == "/run/python" }
            #expect(request != nil, "the origin saw no request for /run/python")
            if let request { fixture.expectInjected(request) }
        }
    }

    @Test("run -- git clone over HTTPS from a smart-HTTP server that requires the token as Basic auth")
    func gitCloneThroughRun() async throws {
        var configuration = ProxyConfiguration()
        configuration.rulesYAML = """
              - host: localhost
                credential: \(ProxyConfiguration.credentialName)
                inject: { basic: { username: x-access-token, password: "{{secret}}" } }
            """
        try await ProxyFixture.run("run-git", configuration: configuration) { fixture in
            let server = try await GitSmartHTTPServer.start(
                in: fixture.directory, identity: fixture.certificates.origin(.valid),
                expectedPasswordVariable: ProxyConfiguration.credentialVariable,
                environment: fixture.proxyEnvironment
            )
            defer { server.stop() }
            let config = try fixture.secondProxyConfiguration()
            let target = fixture.directory.file("clients/clone")
            let run = try await fixture.runTokenproxy(
                ["run", "--config", config, "--"]
                    + ThroughProxy.command(["git", "clone", "-q", "https://localhost:\(server.port)/repo.git", target]),
                environment: ["GIT_TERMINAL_PROMPT": "0"]
            )
            #expect(run.exitCode == 0, fixture.explain(run))
            let readme = try? String(contentsOfFile: target + "/README", encoding: .utf8)
            #expect(readme == "cloned through tokenproxy\n", "the clone is missing the committed file")
            #expect(server.authorizedRequests() > 0, "the git server saw no request with the right Basic password")

            // Without the proxy, the same clone is refused: the token really is what opened the door.
            let direct = try await fixture.clients.run(
                "git", ["clone", "-q", "https://localhost:\(server.port)/repo.git", target + "-direct"],
                environment: ["GIT_SSL_CAINFO": fixture.certificates.authorityPath, "GIT_TERMINAL_PROMPT": "0"]
            )
            #expect(direct.exitCode != 0, "git cloned without the token")
        }
    }

    @Test("run: exit status is the command's; signals reach the command; 128+N when it is killed")
    func exitStatusAndSignals() async throws {
        try await ProxyFixture.run("run-signals") { fixture in
            let config = try fixture.secondProxyConfiguration()
            let exit7 = try await fixture.runTokenproxy(
                ["run", "-q", "--config", config, "--", "sh", "-c", "exit 7"], environment: [:]
            )
            #expect(exit7.exitCode == 7, fixture.explain(exit7))
            let killed = try await fixture.runTokenproxy(
                ["run", "-q", "--config", config, "--", "sh", "-c", "kill -KILL $$"], environment: [:]
            )
            #expect(killed.exitCode == 128 + SIGKILL, fixture.explain(killed))
            let missing = try await fixture.runTokenproxy(
                ["run", "--config", config, "--", "no-such-command-tp"], environment: [:]
            )
            #expect(missing.exitCode == 1)
            #expect(missing.stderr.contains("command not found: no-such-command-tp"), fixture.explain(missing))

            for (signal, trapped) in [(SIGTERM, "TERM"), (SIGINT, "INT"), (SIGHUP, "HUP")] {
                let ready = fixture.directory.file("clients/ready-\(trapped)")
                let script = "trap 'exit 42' \(trapped); echo up > \"$0\"; while :; do sleep 0.1; done"
                let child = try fixture.startTokenproxy([
                    "run", "-q", "--config", config, "--", "sh", "-c", script, ready,
                ])
                #expect(await fixture.waitForFile(ready), "the command did not start")
                kill(child.pid, signal)
                let status = await child.waitForExit(timeout: .seconds(20))
                #expect(status == 42, "after SIG\(trapped) tokenproxy run exited \(status.map(String.init) ?? "late")")
            }
            // An untrapped SIGTERM kills the command: 128 + 15, and the proxy stops with it.
            let ready = fixture.directory.file("clients/ready-plain")
            let child = try fixture.startTokenproxy(
                ["run", "-q", "--config", config, "--", "sh", "-c", "echo up > \"$0\"; exec sleep 30", ready]
            )
            #expect(await fixture.waitForFile(ready), "the command did not start")
            kill(child.pid, SIGTERM)
            let status = await child.waitForExit(timeout: .seconds(20))
            #expect(status == 128 + SIGTERM)
        }
    }
}
