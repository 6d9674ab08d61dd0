import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end tests of where the proxy reads tokens from (`file:`, `command:`, `sealed:` with `tokenproxy seal`,
/// `ttl:` re-reads), of `tokenproxy check`, and of the process hardening of `serve` (no core dumps).
///
/// Secret files hold a canary on purpose and are exempt from the fixture's leak check; every other file the test
/// produces (proxy output, audit log, `check`/`seal` output, client output) is scanned for every canary.
@Suite("secret sources end to end", .serialized, .timeLimit(.minutes(1)))
struct SecretSourcesEndToEndTests {
    /// Matches the `file:line:` an error names in the proxy's own config file.
    static var configLocation: Regex<(Substring, Substring)> { #/tokenproxy\.yaml:([0-9]+):/# }

    // MARK: file:

    @Test("file: an owner-only file (0600) is the token, its trailing newline stripped")
    func fileSource() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [:]
        configuration.secretFiles = [.init(path: "secrets/e2e-token")]
        configuration.credentialsYAML = #"  e2e: { source: "file:{{dir}}/secrets/e2e-token" }"#
        try await ProxyFixture.run("file-source", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl("https://localhost:\(origin.port)/from-file")
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])
        }
    }

    @Test("file: a group/world-readable file (0644) stops serve with file:line and 'chmod 600'")
    func groupReadableFileIsRefused() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [:]
        configuration.secretFiles = [.init(path: "secrets/e2e-token", mode: 0o644)]
        configuration.credentialsYAML = #"  e2e: { source: "file:{{dir}}/secrets/e2e-token" }"#
        let failure = try await ProxyFixture.startupFailure("file-0644", configuration: configuration)
        #expect(failure.status == 1, "serve exited with \(failure.status)")
        #expect(failure.output.contains(Self.configLocation), "no file:line in: \(failure.output)")
        #expect(failure.output.contains("chmod 600"), "no 'chmod 600' advice in: \(failure.output)")
    }

    // MARK: command:

    @Test("command: the program's stdout is the token")
    func commandSource() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [:]
        configuration.secretFiles = [.init(path: "secrets/cmd-token")]
        configuration.credentialsYAML = #"""
              e2e:
                source: { command: ["/bin/cat", "{{dir}}/secrets/cmd-token"], timeout: 5s }
            """#
        try await ProxyFixture.run("command-source", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl("https://localhost:\(origin.port)/from-command")
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])
        }
    }

    @Test("command: a program never sees the variables env: sources read tokens from")
    func commandDoesNotInheritSecretVariables() async throws {
        var configuration = ProxyConfiguration()
        // If TP_E2E_TOKEN reached the program, it would print the token and the proxy would start.
        configuration.credentialsYAML = #"""
              e2e: { source: env:TP_E2E_TOKEN }
              probe:
                source: { command: ["/bin/sh", "-c", "printf %s \"$TP_E2E_TOKEN\""], timeout: 5s }
            """#
        let failure = try await ProxyFixture.startupFailure("command-env", configuration: configuration)
        #expect(failure.status == 1, "serve exited with \(failure.status)")
        #expect(failure.output.contains("probe"), "the error does not name the credential: \(failure.output)")
        #expect(failure.output.contains("printed nothing"), "unexpected reason: \(failure.output)")
    }

    @Test("command: a failing program stops serve with its exit status and stderr, never the token")
    func failingCommandIsReported() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [:]
        configuration.secretFiles = [.init(path: "secrets/cmd-token")]
        // It prints the token on stdout and echoes it on stderr too (as some tools do), then fails.
        configuration.credentialsYAML = #"""
              e2e:
                source:
                  command:
                    - /bin/sh
                    - -c
                    - 'cat "$0"; cat "$0" >&2; echo "vault: permission denied for secret/e2e" >&2; exit 3'
                    - "{{dir}}/secrets/cmd-token"
                  timeout: 5s
            """#
        let failure = try await ProxyFixture.startupFailure("command-fails", configuration: configuration)
        #expect(failure.status == 1, "serve exited with \(failure.status)")
        #expect(failure.output.contains(Self.configLocation), "no file:line in: \(failure.output)")
        #expect(failure.output.contains("status 3"), "the exit status is not shown: \(failure.output)")
        #expect(
            failure.output.contains("vault: permission denied for secret/e2e"),
            "the program's stderr is not shown: \(failure.output)"
        )
        // That the token itself is not shown is checked by the fixture: the proxy's stderr is scanned for it.
    }

    @Test("command: a program that runs past its timeout is stopped and serve exits 1 saying so")
    func hangingCommandTimesOut() async throws {
        var configuration = ProxyConfiguration()
        configuration.credentialsYAML = #"""
              e2e: { source: env:TP_E2E_TOKEN }
              slow: { source: { command: ["/bin/sh", "-c", "sleep 30"], timeout: 1s } }
            """#
        let started = ContinuousClock.now
        let failure = try await ProxyFixture.startupFailure("command-timeout", configuration: configuration)
        let elapsed = ContinuousClock.now - started
        #expect(failure.status == 1, "serve exited with \(failure.status)")
        #expect(failure.output.contains("timed out"), "unexpected reason: \(failure.output)")
        #expect(failure.output.contains("slow"), "the error does not name the credential: \(failure.output)")
        // 1 s timeout plus 1 s grace before SIGKILL, plus startup: far less than the program's 30 s.
        #expect(elapsed < .seconds(10), "serve took \(elapsed) to give up on a command with a 1 s timeout")
    }

    // MARK: sealed:

    @Test("sealed: a blob made by 'tokenproxy seal' (token piped on stdin) opens in the proxy")
    func sealedSource() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [:]
        configuration.sealedCredentials = ["e2e": "e2e"]
        configuration.credentialsYAML = #"  e2e: { source: "{{sealed:e2e}}" }"#
        try await ProxyFixture.run("sealed-source", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let result = try await fixture.clients.curl("https://localhost:\(origin.port)/from-sealed")
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.httpCode == 200)
            let requests = origin.requests
            try #require(requests.count == 1, "origin saw \(requests.count) requests, expected 1")
            fixture.expectInjected(requests[0])

            let keyPath = ProxyConfiguration.caDirectory(in: fixture.directory) + "/seal-key.pem"
            let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == 0o600, "seal-key.pem has mode \(String(mode, radix: 8))")
        }
    }

    @Test("sealed: a blob sealed for one credential does not open under another name")
    func sealedBlobIsBoundToItsName() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [:]
        configuration.sealedCredentials = ["e2e": "e2e"]
        configuration.credentialsYAML = #"  renamed: { source: "{{sealed:e2e}}" }"#
        configuration.rulesYAML = #"""
              - { host: localhost, credential: renamed, inject: { header: Authorization, value: "Bearer {{secret}}" } }
            """#
        let failure = try await ProxyFixture.startupFailure("sealed-renamed", configuration: configuration)
        #expect(failure.status == 1, "serve exited with \(failure.status)")
        #expect(failure.output.contains(Self.configLocation), "no file:line in: \(failure.output)")
        #expect(failure.output.contains("renamed"), "the error does not name the credential: \(failure.output)")
    }

    // MARK: ttl:

    @Test("ttl: a rewritten file is picked up; a failed re-read keeps the last good value and is audited")
    func ttlRefresh() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = [:]
        configuration.secretFiles = [.init(path: "secrets/rotating")]
        configuration.credentialsYAML = #"  e2e: { source: "file:{{dir}}/secrets/rotating", ttl: 1s }"#
        try await ProxyFixture.run("ttl", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let url = "https://localhost:\(origin.port)/rotating"
            let first = try await fixture.clients.curl(url)
            #expect(first.httpCode == 200, fixture.explain(first.run))
            try #require(origin.requests.count == 1, "origin saw \(origin.requests.count) requests, expected 1")
            fixture.expectInjected(origin.requests[0])

            // Rotate: a new canary in the same file. Within a few ttl periods requests must carry it.
            let path = try fixture.writeSecretFile(canary: "rotated", to: "secrets/rotating")
            let carriesRotated = { (request: TestOrigin.RecordedRequest) -> Bool in
                let values = request.values(of: "Authorization")
                return values.count == 1 && fixture.isDerived(values.first, canary: "rotated") { "Bearer " + $0 }
            }
            let deadline = ContinuousClock.now + .seconds(5)
            var rotated = false
            while !rotated && ContinuousClock.now < deadline {
                let result = try await fixture.clients.curl(url)
                #expect(result.httpCode == 200, fixture.explain(result.run))
                rotated = origin.requests.last.map(carriesRotated) ?? false
                if !rotated { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(rotated, "requests still do not carry the rewritten token 5 s after the file changed")
            let refreshErrorsBefore = AuditRecord.read(from: fixture.proxy.auditLogPath).records
                .filter { $0.method == "REFRESH" }.count
            #expect(refreshErrorsBefore == 0, "REFRESH records before the file was broken")

            // Break it: a group-readable file is refused, so the next re-read fails.
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            let record = try await fixture.auditRecord("REFRESH error") {
                $0.method == "REFRESH" && $0.decision == "error"
            }
            fixture.checkEqual(record.credential, "e2e", "credential in \(record)")
            fixture.check(
                record.reason?.contains("chmod 600") == true,
                "reason of \(record) does not say what is wrong: \(record.reason ?? "none")"
            )
            let missing = AuditRecord.requiredKeys.subtracting(record.keys)
            #expect(missing.isEmpty, "the REFRESH record lacks keys \(missing.sorted())")

            // The last good value stays in use.
            let count = origin.requests.count
            let after = try await fixture.clients.curl(url)
            #expect(after.httpCode == 200, fixture.explain(after.run))
            let requests = origin.requests
            try #require(requests.count == count + 1, "origin saw \(requests.count - count) new requests, expected 1")
            fixture.check(
                carriesRotated(requests[count]),
                "after a failed re-read the request does not carry the last good token"
            )
        }
    }

    // MARK: tokenproxy check

    @Test("check: every source resolves and is reported as 'ok (N bytes)', never with its value")
    func checkReportsSizes() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = ["TP_E2E_TOKEN": "e2e"]
        configuration.secretFiles = [
            .init(path: "secrets/file-token", canary: "file"),
            .init(path: "secrets/cmd-token", canary: "command"),
        ]
        configuration.sealedCredentials = ["from-sealed": "sealed"]
        configuration.credentialsYAML = #"""
              e2e: { source: env:TP_E2E_TOKEN }
              from-file: { source: "file:{{dir}}/secrets/file-token" }
              from-command: { source: { command: ["/bin/cat", "{{dir}}/secrets/cmd-token"], timeout: 5s } }
              from-sealed: { source: "{{sealed:from-sealed}}" }
            """#
        try await ProxyFixture.run("check-ok", configuration: configuration) { fixture in
            let run = try await fixture.runTokenproxy(["check", "--config", fixture.proxy.configPath])
            #expect(run.exitCode == 0, fixture.explain(run))
            let lines = run.stdout.split(separator: "\n").map(String.init)
            let expectations = ["e2e": "e2e", "from-file": "file", "from-command": "command", "from-sealed": "sealed"]
            for (credential, canary) in expectations.sorted(by: { $0.key < $1.key }) {
                let line = lines.first { $0.hasPrefix("credential \(credential):") }
                let size = line?.firstMatch(of: #/ ok \(([0-9]+) bytes\)/#).map { String($0.1) }
                fixture.check(
                    fixture.isDerived(size, canary: canary) { String($0.utf8.count) },
                    "credential \(credential): expected 'ok (<its size> bytes)', got: \(line ?? "no line")"
                )
            }
            let output = run.stdout + run.stderr
            let leaked = ["e2e", "file", "command", "sealed"].contains { fixture.contains(output, canary: $0) }
            #expect(!leaked, "tokenproxy check printed a token")
        }
    }

    @Test("check: an unset required variable or an unsafe file exits 1 naming file:line")
    func checkRefusesBrokenSources() async throws {
        try await ProxyFixture.run("check-broken") { fixture in
            let certs = ProxyConfiguration.caDirectory(in: fixture.directory)
            let rule = #"  - { host: api.example.test, credential: broken, inject: { placeholder: true } }"#
            let unsetPath = try fixture.directory.write(
                """
                listen: 127.0.0.1:0
                ca: { dir: "\(certs)" }
                credentials:
                  broken: { source: env:TP_E2E_UNSET_VARIABLE }
                rules:
                \(rule)

                """,
                to: "check-unset.yaml"
            )
            let unset = try await fixture.runTokenproxy(["check", "--config", unsetPath])
            #expect(unset.exitCode == 1, fixture.explain(unset))
            fixture.check(
                unset.stderr.contains("\(unsetPath):4:"),
                "expected '\(unsetPath):4:' in: \(unset.stderr.suffix(1000))"
            )
            fixture.check(
                unset.stderr.contains("TP_E2E_UNSET_VARIABLE") && unset.stderr.contains("not set"),
                "the error does not say which variable is missing: \(unset.stderr.suffix(1000))"
            )

            let tokenPath = try fixture.writeSecretFile(canary: "e2e", to: "secrets/readable-token", mode: 0o644)
            let readablePath = try fixture.directory.write(
                """
                listen: 127.0.0.1:0
                ca: { dir: "\(certs)" }
                credentials:
                  broken:
                    source: "file:\(tokenPath)"
                rules:
                \(rule)

                """,
                to: "check-readable.yaml"
            )
            let readable = try await fixture.runTokenproxy(["check", "--config", readablePath])
            #expect(readable.exitCode == 1, fixture.explain(readable))
            fixture.check(
                readable.stderr.contains("\(readablePath):5:") && readable.stderr.contains("chmod 600"),
                "expected '\(readablePath):5:' and 'chmod 600' in: \(readable.stderr.suffix(1000))"
            )
        }
    }

    // MARK: Hardening

    @Test("serve disables core dumps (RLIMIT_CORE 0, soft and hard) unless --allow-core-dumps")
    func coreDumpsAreDisabled() async throws {
        try await ProxyFixture.run("core-dumps") { fixture in
            let limits = try Self.coreFileLimits(of: fixture.proxy.pid)
            #expect(limits == ["0", "0"], "Max core file size of the running proxy: \(limits)")
        }

        // The control: with the flag the proxy keeps what it inherited, so the 0 above is the proxy's doing.
        let inherited = try Self.coreFileLimits(of: getpid())
        var configuration = ProxyConfiguration()
        configuration.serveArguments = ["--allow-core-dumps"]
        try await ProxyFixture.run("core-dumps-allowed", configuration: configuration) { fixture in
            let limits = try Self.coreFileLimits(of: fixture.proxy.pid)
            #expect(limits == inherited, "with --allow-core-dumps: \(limits), inherited: \(inherited)")
        }
    }

    /// The soft and hard `Max core file size` of process `pid`, from `/proc/<pid>/limits`.
    static func coreFileLimits(of pid: pid_t) throws -> [String] {
        let label = "Max core file size"
        let text = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(label) })
        return line.dropFirst(label.count).split(separator: " ").prefix(2).map(String.init)
    }
}
