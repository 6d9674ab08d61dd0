import Foundation
import Testing

/// `env`, `ca trust`, `ca rotate`, `doctor` and `check --json`, run as the real binary beside a running proxy.
@Suite("developer commands")
struct DeveloperCommandsEndToEndTests {
    @Test("env prints the client variables for sh (evaluated by a real sh), fish and PowerShell")
    func envForEachShell() async throws {
        var configuration = ProxyConfiguration()
        configuration.credentialSettingsYAML = """
                env_placeholder: E2E_API_KEY
            """
        try await ProxyFixture.run("env", configuration: configuration) { fixture in
            let attach = "127.0.0.1:\(fixture.proxy.port)"
            let base = ["env", "--config", fixture.proxy.configPath, "--attach", attach]
            let posix = try await fixture.runTokenproxy(base)
            #expect(posix.exitCode == 0, fixture.explain(posix))
            let bundle = ProxyConfiguration.caDirectory(in: fixture.directory) + "/ca-bundle.pem"
            #expect(posix.stdout.contains("export HTTPS_PROXY='http://\(attach)'\n"))
            #expect(posix.stdout.contains("export NO_PROXY='localhost,127.0.0.1,::1'\n"))
            #expect(posix.stdout.contains("export SSL_CERT_FILE='\(bundle)'\n"))
            #expect(posix.stdout.contains("export E2E_API_KEY='{{tokenproxy:e2e}}'\n"))

            // A real sh evaluates it and sees the values.
            let script = try fixture.directory.write(posix.stdout, to: "clients/env.sh")
            let evaluated = try await fixture.clients.run(
                "sh",
                [
                    "-c", ". \"$0\" && printf '%s|%s|%s' \"$HTTPS_PROXY\" \"$REQUESTS_CA_BUNDLE\" \"$E2E_API_KEY\"",
                    script,
                ]
            )
            #expect(evaluated.stdout == "http://\(attach)|\(bundle)|{{tokenproxy:e2e}}", fixture.explain(evaluated))

            let fish = try await fixture.runTokenproxy(base + ["--fish"])
            #expect(fish.exitCode == 0, fixture.explain(fish))
            #expect(fish.stdout.contains("set -gx HTTPS_PROXY 'http://\(attach)'\n"))
            #expect(fish.stdout.contains("set -gx NODE_EXTRA_CA_CERTS '"))
            let powershell = try await fixture.runTokenproxy(base + ["--powershell"])
            #expect(powershell.exitCode == 0, fixture.explain(powershell))
            #expect(powershell.stdout.contains("$env:HTTPS_PROXY = 'http://\(attach)'\n"))
            #expect(powershell.stdout.contains("$env:GIT_SSL_CAINFO = '\(bundle)'\n"))
            for output in [posix.stdout, fish.stdout, powershell.stdout] {
                fixture.check(!fixture.contains(output), "env printed the token")
            }
        }
    }

    @Test("ca trust prints a command for every platform and runtime, with this CA's path")
    func caTrustInstructions() async throws {
        try await ProxyFixture.run("ca-trust") { fixture in
            let certs = ProxyConfiguration.caDirectory(in: fixture.directory)
            let run = try await fixture.runTokenproxy(["ca", "trust", "--dir", certs])
            #expect(run.exitCode == 0, fixture.explain(run))
            let expected = [
                "sudo cp \(certs)/ca.pem /usr/local/share/ca-certificates/tokenproxy.crt "
                    + "&& sudo update-ca-certificates",
                "sudo cp \(certs)/ca.pem /etc/pki/ca-trust/source/anchors/tokenproxy.pem && sudo update-ca-trust",
                "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain \(certs)/ca.pem",
                "keytool -importcert -noprompt -cacerts -storepass changeit -alias tokenproxy -file \(certs)/ca.pem",
                "export NODE_EXTRA_CA_CERTS=\(certs)/ca.pem",
                "export REQUESTS_CA_BUNDLE=\(certs)/ca-bundle.pem SSL_CERT_FILE=\(certs)/ca-bundle.pem",
                "git config --global http.sslCAInfo \(certs)/ca-bundle.pem",
                "#   RUN update-ca-certificates",
            ]
            for line in expected {
                #expect(run.stdout.contains(line + "\n"), "missing: \(line)")
            }
        }
    }

    @Test("ca trust --system (Debian, in a private mount namespace) installs the CA and curl trusts it by default")
    func caTrustSystem() async throws {
        guard getuid() == 0, ChildProcess.which("unshare") != nil,
            FileManager.default.isExecutableFile(atPath: "/usr/sbin/update-ca-certificates")
        else {
            Issue.record("needs root, unshare and update-ca-certificates (Debian); this machine lacks one")
            return
        }
        try await ProxyFixture.run("ca-trust-system") { fixture in
            let certs = ProxyConfiguration.caDirectory(in: fixture.directory)
            let binary = try ProxyProcess.binaryPath()
            // tmpfs over the two directories update-ca-certificates writes: the machine's store stays untouched.
            let script = """
                set -e
                mount -t tmpfs none /usr/local/share/ca-certificates
                mount -t tmpfs none /etc/ssl/certs
                "$0" ca trust --system --dir "$1"
                "$0" ca trust --system --dir "$1"
                openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt "$1/ca.pem"
                """
            // update-ca-certificates rehashes every root, twice here: slow on a loaded machine.
            let run = try await fixture.clients.run(
                "unshare", ["-m", "sh", "-c", script, binary, certs], timeout: .seconds(180)
            )
            #expect(run.exitCode == 0, fixture.explain(run))
            #expect(run.stdout.contains("copied the CA to /usr/local/share/ca-certificates/tokenproxy.crt"))
            #expect(run.stdout.contains(#/[0-9]+ added/#), fixture.explain(run))
            #expect(run.stdout.contains("already holds this CA; nothing changed"))
            #expect(run.stdout.contains("ca.pem: OK"))
        }
    }

    @Test("ca rotate: a new CA; leaves of the old one still verify through the bundle until the proxy restarts")
    func caRotate() async throws {
        try await ProxyFixture.run("ca-rotate") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let certs = ProxyConfiguration.caDirectory(in: fixture.directory)
            let oldCA = try String(contentsOfFile: certs + "/ca.pem", encoding: .utf8)
            let rotate = try await fixture.runTokenproxy(["ca", "rotate", "--dir", certs])
            #expect(rotate.exitCode == 0, fixture.explain(rotate))
            #expect(rotate.stdout.contains("restart running proxies"))
            #expect(rotate.stdout.contains("tokenproxy ca trust"))
            let newCA = try String(contentsOfFile: certs + "/ca.pem", encoding: .utf8)
            #expect(newCA != oldCA, "ca.pem did not change")
            #expect(try String(contentsOfFile: certs + "/ca-previous.pem", encoding: .utf8).contains(oldCA))

            // The proxy still runs with the old CA; its leaves verify against the rewritten bundle.
            let bundle = try fixture.directory.write(
                try String(contentsOfFile: certs + "/ca-bundle.pem", encoding: .utf8)
                    + (try String(contentsOfFile: fixture.certificates.authorityPath, encoding: .utf8)),
                to: "clients/rotated-bundle.pem"
            )
            let url = "https://localhost:\(origin.port)/rotated"
            let old = try await fixture.clients.curl(url, caBundle: bundle)
            #expect(old.httpCode == 200, "a leaf of the previous CA no longer verifies: \(old)")
            let onlyNew = try await fixture.clients.curl(url, caBundle: certs + "/ca.pem")
            #expect(onlyNew.httpCode == 0, "the old proxy's leaf verified against the new CA alone")

            // After a restart the proxy signs with the new CA, which the same bundle trusts too.
            await fixture.proxy.stop()
            let restarted = try await fixture.restartProxy(label: "restarted")
            let clients = Clients(proxyPort: restarted.port, caBundle: bundle, directory: fixture.directory)
            let fresh = try await clients.curl(url)
            #expect(fresh.httpCode == 200, "the new CA's leaf does not verify: \(fresh)")
            await restarted.stop()
        }
    }

    @Test("doctor: healthy inside 'tokenproxy run', exit 1 naming what to fix outside it")
    func doctor() async throws {
        try await ProxyFixture.run("doctor") { fixture in
            let config = try fixture.secondProxyConfiguration()
            let binary = try ProxyProcess.binaryPath()
            let healthy = try await fixture.runTokenproxy(
                ["run", "-q", "--config", config, "--", binary, "doctor", "--config", config], environment: [:]
            )
            #expect(healthy.exitCode == 0, fixture.explain(healthy))
            for fragment in [
                "curl trusts the proxy CA", "python requests trusts the proxy CA",
                "node trusts the proxy CA", "git trusts the proxy CA", "accepts connections", "0 errors",
            ] {
                #expect(healthy.stdout.contains(fragment), "missing '\(fragment)' in: \(healthy.stdout)")
            }

            let bare = try await fixture.runTokenproxy(["doctor", "--config", config, "--json"], environment: [:])
            #expect(bare.exitCode == 1, fixture.explain(bare))
            let document = try JSONSerialization.jsonObject(with: Data(bare.stdout.utf8)) as? [String: Any]
            let findings = document?["findings"] as? [[String: Any]] ?? []
            let errors = Set(
                findings.filter { $0["severity"] as? String == "error" }.compactMap { $0["check"] as? String })
            #expect(errors.isSuperset(of: ["proxy-env", "ca:python requests", "ca:node"]), "errors: \(errors)")

            let closed = try await TestOrigin.closedPort()
            let unreachable = try await fixture.runTokenproxy(
                ["doctor", "--config", config],
                environment: ["HTTPS_PROXY": "http://127.0.0.1:\(closed)", "HTTP_PROXY": "http://127.0.0.1:\(closed)"]
            )
            #expect(unreachable.exitCode == 1)
            #expect(
                unreachable.stderr.contains("nothing accepts connections on 127.0.0.1:\(closed)"),
                fixture.explain(unreachable))
            #expect(unreachable.stderr.contains("tokenproxy serve"))
        }
    }

    @Test("check --json: sources, unresolvable hosts, shadowed rules, unused credentials, CA; exit 1 on an error")
    func checkFindings() async throws {
        try await ProxyFixture.run("check-json") { fixture in
            let certs = ProxyConfiguration.caDirectory(in: fixture.directory)
            let path = try fixture.directory.write(
                """
                listen: 127.0.0.1:0
                ca: { dir: "\(certs)" }
                credentials:
                  e2e: { source: env:\(ProxyConfiguration.credentialVariable) }
                  spare: { source: env:\(ProxyConfiguration.credentialVariable) }
                  broken: { source: env:TP_E2E_UNSET_VARIABLE }
                rules:
                  - { host: "*.example.test", credential: e2e, inject: { placeholder: true } }
                  - { host: api.example.test, path: /v1/, credential: e2e, inject: { placeholder: true } }
                  - { host: localhost, credential: e2e, inject: { placeholder: true } }
                  - { host: no-such-host.invalid, credential: broken, inject: { placeholder: true } }

                """,
                to: "check.yaml"
            )
            let run = try await fixture.runTokenproxy(["check", "--config", path, "--json"])
            #expect(run.exitCode == 1, fixture.explain(run))
            let document = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            let findings = document?["findings"] as? [[String: Any]] ?? []
            func finding(_ check: String, line: Int? = nil) -> [String: Any]? {
                findings.first { $0["check"] as? String == check && (line == nil || $0["line"] as? Int == line) }
            }
            #expect(finding("source", line: 6)?["severity"] as? String == "error")
            #expect((finding("source", line: 6)?["message"] as? String)?.contains("TP_E2E_UNSET_VARIABLE") == true)
            #expect(finding("shadowed-rule", line: 9)?["severity"] as? String == "warning")
            #expect((finding("shadowed-rule", line: 9)?["message"] as? String)?.contains("rule 1") == true)
            #expect(finding("shadowed-rule", line: 10) == nil, "localhost is not shadowed")
            #expect(finding("unused-credential", line: 5)?["severity"] as? String == "warning")
            #expect(finding("dns", line: 10)?["severity"] as? String == "ok")
            let dns = finding("dns", line: 11)?["severity"] as? String
            #expect(dns == "warning", "no DNS warning for no-such-host.invalid")
            #expect(finding("ca")?["severity"] as? String == "ok")
            #expect(finding("dns", line: 8) == nil, "a wildcard host was looked up")
            #expect((document?["errors"] as? Int ?? 0) >= 1)
            fixture.check(!fixture.contains(run.stdout + run.stderr), "check printed the token")

            let offline = try await fixture.runTokenproxy(["check", "--config", path, "--json", "--no-dns"])
            #expect(!offline.stdout.contains("\"dns\""), "--no-dns still looked hosts up")
        }
    }

    @Test("serve logs one line per request: human by default, one JSON object with --log-format json")
    func requestLogFormats() async throws {
        for format in ["human", "json"] {
            var configuration = ProxyConfiguration()
            if format == "json" { configuration.serveArguments = ["--log-format", "json"] }
            try await ProxyFixture.run("log-\(format)", configuration: configuration) { fixture in
                let origin = try await fixture.startOrigin(.valid)
                let result = try await fixture.clients.curl("https://localhost:\(origin.port)/logged/path?q=1")
                #expect(result.httpCode == 200, "\(result)")
                _ = try await fixture.auditRecord("request") { $0.path == "/logged/path" }
                let stderr = await fixture.proxy.stderr(containing: "/logged/path")
                if format == "human" {
                    let line = stderr.split(separator: "\n").first { $0.contains("/logged/path") }.map(String.init)
                    #expect(
                        line?.contains("GET localhost:\(origin.port) /logged/path 200 ") == true
                            && line?.contains("ms e2e injected") == true,
                        "no human request line: \(fixture.redacted(line ?? stderr.suffix(800).description))"
                    )
                } else {
                    let objects = stderr.split(separator: "\n").compactMap {
                        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                    }
                    let request = objects.first { $0["path"] as? String == "/logged/path" }
                    #expect(request?["method"] as? String == "GET")
                    #expect(request?["host"] as? String == "localhost")
                    #expect(request?["status"] as? Int == 200)
                    #expect(request?["credential"] as? String == "e2e")
                    #expect(request?["decision"] as? String == "injected")
                    #expect((request?["duration_ms"] as? Double) != nil)
                    #expect(request?["level"] as? String == "info")
                }
                #expect(!stderr.contains("q=1"), "the query string reached the log")
            }
        }
    }
}
