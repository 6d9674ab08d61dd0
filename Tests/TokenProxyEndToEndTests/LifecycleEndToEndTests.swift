import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Token lifecycle on a running proxy: reload under load, revoke under load and across a restart, expiry, the
/// retire check, and a graceful shutdown during a slow download.
@Suite("token lifecycle end to end", .serialized, .timeLimit(.minutes(3)))
struct LifecycleEndToEndTests {
    /// Configuration `A` or `B`: one credential `shared` read from `TP_TOKEN_<A|B>`, injected with the template
    /// `"<A|B> {{secret}}"`. The template comes from the rules and the value from the credentials, so a request that
    /// saw rules of one configuration and values of the other would carry `A <token B>` or `B <token A>`.
    /// `invalid` names a credential no configuration defines.
    static func reloadConfiguration(_ variant: String) -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = ["TP_TOKEN_A": "tokenA", "TP_TOKEN_B": "tokenB"]
        configuration.serveArguments = ["--admin-listen", "127.0.0.1:0"]
        let source = variant == "B" ? "TP_TOKEN_B" : "TP_TOKEN_A"
        configuration.credentialsYAML = """
              shared:
                source: env:\(source)
            """
        configuration.rulesYAML = """
              - host: localhost
                credential: \(variant == "invalid" ? "missing" : "shared")
                inject: { header: Authorization, value: "\(variant == "B" ? "B" : "A") {{secret}}" }
            """
        return configuration
    }

    /// Which configuration a request was injected under: `A`, `B`, or `nil` for anything else (a mix, none).
    static func configurationSeen(by request: TestOrigin.RecordedRequest, in fixture: ProxyFixture) -> String? {
        let values = request.values(of: "Authorization")
        guard values.count == 1 else { return nil }
        if fixture.isDerived(values[0], canary: "tokenA", { "A " + $0 }) { return "A" }
        if fixture.isDerived(values[0], canary: "tokenB", { "B " + $0 }) { return "B" }
        return nil
    }

    @Test("20 reloads (A, B, invalid) under concurrent load: no failed request, never a mixed config")
    func reloadUnderLoad() async throws {
        try await ProxyFixture.run("reload-load", configuration: Self.reloadConfiguration("A")) { fixture in
            let port = try await fixture.adminPort()
            let origin = try await fixture.startOrigin(.valid)
            let clients = fixture.clients
            let reloading = SharedValue(true)

            // Four workers, each a curl with five kept-alive requests at a time, until the reloads are done
            // (at most 40 rounds each, so a hung reload cannot make the load unbounded).
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var codes: [Int] = []
                        for round in 0..<40 where reloading.value || round < 2 {
                            let urls = (0..<5).map { "https://localhost:\(origin.port)/w\(worker)/r\(round)/\($0)" }
                            let result = try await clients.curl(urls)
                            codes += result.transfers.map(\.httpCode)
                            codes += Array(repeating: 0, count: max(0, 5 - result.transfers.count))
                        }
                        return codes
                    }
                }
                var outcomes: [(Int, Clients.Run)] = []
                for index in 0..<20 {
                    let variant = ["B", "invalid", "A"][index % 3]
                    try fixture.rewriteConfiguration(Self.reloadConfiguration(variant))
                    let run = try await fixture.operate(["reload"], adminPort: port)
                    outcomes.append((index, run))
                }
                reloading.value = false

                for (index, run) in outcomes {
                    let variant = ["B", "invalid", "A"][index % 3]
                    if variant == "invalid" {
                        #expect(run.exitCode == 1, "reload \(index) of an invalid config: \(fixture.explain(run))")
                        let namesLine = run.stderr.contains("\(fixture.proxy.configPath):")
                            && run.stderr.contains("missing")
                        fixture.check(namesLine, "reload \(index) error lacks file:line and the reason: \(run.stderr)")
                    } else {
                        #expect(run.exitCode == 0, "reload \(index) of config \(variant): \(fixture.explain(run))")
                        fixture.check(run.stdout.contains("reloaded"), "reload \(index) output: \(run.stdout)")
                    }
                }
                var codes: [Int] = []
                for try await workerCodes in group { codes += workerCodes }
                return codes
            }

            #expect(results.count >= 40, "only \(results.count) requests ran")
            let failed = results.filter { $0 != 200 }
            #expect(failed.isEmpty, "\(failed.count) of \(results.count) requests failed: statuses \(Set(failed))")
            let seen = origin.requests.map { Self.configurationSeen(by: $0, in: fixture) }
            let mixed = seen.filter { $0 == nil }.count
            #expect(mixed == 0, "\(mixed) of \(seen.count) requests carried a mixed or missing credential")
            #expect(seen.contains("A") && seen.contains("B"), "the load did not span both configurations")

            let rejected = try await fixture.auditRecord("rejected RELOAD") {
                $0.method == "RELOAD" && $0.decision == "error"
            }
            fixture.check(
                rejected.reason?.contains("missing") == true,
                "the RELOAD record lacks the reason: \(rejected.reason ?? "")"
            )
            let stderr = await fixture.proxy.stderr(containing: "rejected")
            #expect(stderr.contains("rejected"), "the proxy did not log the rejected reload")
        }
    }

    @Test("SIGHUP and watch: true reload the file; a removed rule stops injecting at once")
    func signalAndWatchReload() async throws {
        try await ProxyFixture.run("reload-signal", configuration: Self.reloadConfiguration("A")) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let first = try await fixture.clients.curl("https://localhost:\(origin.port)/before")
            #expect(first.httpCode == 200, fixture.explain(first.run))
            #expect(origin.requests.last.map { Self.configurationSeen(by: $0, in: fixture) } == "A")

            // SIGHUP (no watch yet): the same file, now B with watch: true.
            var next = Self.reloadConfiguration("B")
            next.topLevelYAML = "watch: true"
            try fixture.rewriteConfiguration(next)
            fixture.signalProxy(SIGHUP)
            var switched = false
            for attempt in 0..<50 where !switched {
                _ = try await fixture.clients.curl("https://localhost:\(origin.port)/hup/\(attempt)")
                switched = origin.requests.last.map { Self.configurationSeen(by: $0, in: fixture) == "B" } ?? false
                if !switched { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(switched, "SIGHUP did not bring configuration B into force")
            #expect(fixture.proxy.isRunning, "SIGHUP stopped the proxy")

            // Watched: an edit alone that removes the rule is picked up, and the rule stops injecting.
            var noRules = Self.reloadConfiguration("B")
            noRules.topLevelYAML = "watch: true"
            noRules.rulesYAML = "  []"
            try fixture.rewriteConfiguration(noRules)
            var bare = false
            for attempt in 0..<60 where !bare {
                _ = try await fixture.clients.curl("https://localhost:\(origin.port)/watch/\(attempt)")
                bare = origin.requests.last.map { $0.values(of: "Authorization").isEmpty } ?? false
                if !bare { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(bare, "after the watched file dropped its rule, requests still got a credential")
            _ = await fixture.proxy.stderr(containing: "(SIGHUP)")
            let stderr = await fixture.proxy.stderr(containing: "(watch)")
            #expect(stderr.contains("(SIGHUP)") && stderr.contains("(watch)"), "the log does not name both triggers")
        }
    }

    /// Two credentials on one host by path: `first` for /a/, `second` for /b/.
    static func twoCredentials() -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = ["TP_FIRST": ProxyConfiguration.credentialName, "TP_SECOND": "second"]
        configuration.serveArguments = ["--admin-listen", "127.0.0.1:0"]
        configuration.credentialsYAML = """
              first: { source: env:TP_FIRST }
              second: { source: env:TP_SECOND }
            """
        configuration.rulesYAML = """
              - host: localhost
                path: /a/
                credential: first
                inject: { header: Authorization, value: "Bearer {{secret}}" }
              - host: localhost
                path: /b/
                credential: second
                inject: { header: Authorization, value: "Bearer {{secret}}" }
            """
        return configuration
    }

    @Test("revoke under load: within a second every new request for it gets 403, others unaffected, survives restart")
    func revokeUnderLoad() async throws {
        try await ProxyFixture.run("revoke-load", configuration: Self.twoCredentials()) { fixture in
            let port = try await fixture.adminPort()
            let origin = try await fixture.startOrigin(.valid)
            let clients = fixture.clients
            let running = SharedValue(true)
            let revokedAt = SharedValue<ContinuousClock.Instant?>(nil)

            // Per request: path, status, and whether it started a second or more after the revoke returned.
            let observed = try await withThrowingTaskGroup(of: [(String, Int, Bool)].self) { group in
                for path in ["a", "b"] {
                    group.addTask {
                        var seen: [(String, Int, Bool)] = []
                        // Bounded by count and by the flag, which drops three seconds after the revoke.
                        for round in 0..<600 where running.value {
                            let started = ContinuousClock.now
                            let late = revokedAt.value.map { started - $0 >= .seconds(1) } ?? false
                            let result = try await clients.curl("https://localhost:\(origin.port)/\(path)/\(round)")
                            seen.append((path, result.httpCode, late))
                        }
                        return seen
                    }
                }
                try await Task.sleep(for: .seconds(1))
                let revoke = try await fixture.operate(["revoke", "first", "--reason", "leaked in CI"], adminPort: port)
                revokedAt.value = ContinuousClock.now
                #expect(revoke.exitCode == 0, "revoke: \(fixture.explain(revoke))")
                fixture.check(revoke.stdout.contains("revoked 'first'"), "revoke output: \(revoke.stdout)")
                try await Task.sleep(for: .seconds(3))
                running.value = false
                var all: [(String, Int, Bool)] = []
                for try await part in group { all += part }
                return all
            }

            let late = observed.filter(\.2)
            #expect(late.contains { $0.0 == "a" } && late.contains { $0.0 == "b" }, "no requests ran after the revoke")
            let lateA = late.filter { $0.0 == "a" }.map(\.1)
            #expect(lateA.allSatisfy { $0 == 403 }, "requests for the revoked credential got \(lateA)")
            let allB = observed.filter { $0.0 == "b" }.map(\.1)
            #expect(allB.allSatisfy { $0 == 200 }, "requests for the other credential got \(Set(allB))")
            let statusesA = Set(observed.filter { $0.0 == "a" }.map(\.1))
            #expect(statusesA.isSubset(of: [200, 403]), "requests for the revoked credential got \(statusesA)")

            let refused = try await fixture.clients.curl("https://localhost:\(origin.port)/a/after")
            #expect(refused.httpCode == 403)
            fixture.check(
                refused.body.contains("credential revoked") && refused.body.contains("leaked in CI"),
                "403 body: \(refused.body)"
            )
            let denied = try await fixture.auditRecord("revoked request") { $0.path == "/a/after" }
            fixture.checkEqual(denied.decision, "denied", "revoked request: decision")
            fixture.checkEqual(denied.status, 403, "revoked request: status")
            fixture.check(
                (denied.reason ?? "").contains("credential revoked: 'first' (leaked in CI)"),
                "revoked request: reason \(denied.reason ?? "none")"
            )
            _ = try await fixture.auditRecord("REVOKE") { $0.method == "REVOKE" && $0.decision == "admin" }

            // Restart: the revocation is in the state store.
            #expect(await fixture.proxy.stop() == true)
            let restarted = try await fixture.restartProxy(label: "restarted")
            let again = Clients(
                proxyPort: restarted.port, caBundle: fixture.clients.caBundle, directory: fixture.directory
            )
            let stillRevoked = try await again.curl("https://localhost:\(origin.port)/a/restarted")
            #expect(stillRevoked.httpCode == 403, "after a restart: \(fixture.explain(stillRevoked.run))")
            let other = try await again.curl("https://localhost:\(origin.port)/b/restarted")
            #expect(other.httpCode == 200, "after a restart: \(fixture.explain(other.run))")
            let reachedOrigin = origin.requests.contains { $0.uri.hasPrefix("/a/after") || $0.uri == "/a/restarted" }
            #expect(!reachedOrigin, "a request for the revoked credential reached the origin")
            #expect(await restarted.stop() == true, "the restarted proxy did not stop on SIGTERM")
        }
    }

    @Test("a reload that changes a credential's environment tag is refused; policy changes wait for a restart")
    func reloadKeepsEnvironmentSilos() async throws {
        try await ProxyFixture.run("reload-silo", configuration: Self.reloadConfiguration("A")) { fixture in
            let port = try await fixture.adminPort()
            let origin = try await fixture.startOrigin(.valid)
            var tagged = Self.reloadConfiguration("B")
            tagged.credentialsYAML = """
                  shared:
                    source: env:TP_TOKEN_B
                    environment: prod
                """
            try fixture.rewriteConfiguration(tagged)
            let refused = try await fixture.operate(["reload"], adminPort: port)
            #expect(refused.exitCode == 1, fixture.explain(refused))
            fixture.check(
                refused.stderr.contains("environment changes from untagged to 'prod'"), "reload: \(refused.stderr)"
            )
            let still = try await fixture.clients.curl("https://localhost:\(origin.port)/still-a")
            #expect(still.httpCode == 200, fixture.explain(still.run))
            let header = origin.requests.last?.values(of: "authorization").first ?? ""
            fixture.check(header.hasPrefix("A "), "not injected by the old configuration A: \(header)")

            var monitored = Self.reloadConfiguration("B")
            monitored.policyYAML = (monitored.policyYAML ?? "") + "\n  egress: monitor"
            try fixture.rewriteConfiguration(monitored)
            let applied = try await fixture.operate(["reload"], adminPort: port)
            #expect(applied.exitCode == 0, fixture.explain(applied))
            fixture.check(
                applied.stdout.contains("policy changed; it takes effect on restart"), "reload: \(applied.stdout)"
            )
        }
    }

    @Test("revoke --all is a kill switch; status shows it; unrevoke --all restores service")
    func revokeAllAndUnrevoke() async throws {
        try await ProxyFixture.run("revoke-all", configuration: Self.twoCredentials()) { fixture in
            let port = try await fixture.adminPort()
            let origin = try await fixture.startOrigin(.valid)
            let all = try await fixture.operate(["revoke", "--all", "--reason", "incident 42"], adminPort: port)
            #expect(all.exitCode == 0, fixture.explain(all))
            for path in ["a", "b"] {
                let result = try await fixture.clients.curl("https://localhost:\(origin.port)/\(path)/killed")
                #expect(result.httpCode == 403, "/\(path) after revoke --all: \(result.httpCode)")
            }
            let status = try await fixture.operate(["status"], adminPort: port)
            #expect(status.exitCode == 0, fixture.explain(status))
            fixture.check(
                status.stdout.contains("first: revoked (incident 42)") && status.stdout.contains("second: revoked"),
                "status: \(status.stdout)"
            )
            let unknown = try await fixture.operate(["revoke", "nosuch"], adminPort: port)
            #expect(unknown.exitCode == 1)
            fixture.check(unknown.stderr.contains("no credential named 'nosuch'"), "revoke nosuch: \(unknown.stderr)")

            let back = try await fixture.operate(["unrevoke", "--all"], adminPort: port)
            #expect(back.exitCode == 0, fixture.explain(back))
            for path in ["a", "b"] {
                let result = try await fixture.clients.curl("https://localhost:\(origin.port)/\(path)/restored")
                #expect(result.httpCode == 200, "/\(path) after unrevoke --all: \(result.httpCode)")
            }
            let notRevoked = try await fixture.operate(["unrevoke", "first"], adminPort: port)
            #expect(notRevoked.exitCode == 1, "unrevoking a credential that is not revoked must fail")
        }
    }

    @Test("a credential past its expires gets 403 'expired'; one before not_before 'not yet valid'; check warns")
    func expiry() async throws {
        let soon = Date().addingTimeInterval(5)
        var configuration = Self.twoCredentials()
        let instant = ISO8601DateFormatter().string(from: soon)
        configuration.credentialsYAML = """
              first: { source: env:TP_FIRST, expires: "\(instant)" }
              second: { source: env:TP_SECOND, not_before: "\(instant)" }
            """
        try await ProxyFixture.run("expiry", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let check = try await fixture.runTokenproxy(["check", "--config", fixture.proxy.configPath])
            #expect(check.exitCode == 0, fixture.explain(check))
            fixture.check(
                check.stdout.contains("warning: credential 'first' expires at"), "check output: \(check.stdout)"
            )

            let before = try await fixture.clients.curl("https://localhost:\(origin.port)/a/before")
            try #require(Date() < soon, "the machine is too slow: the first request ran after the expiry")
            #expect(before.httpCode == 200, fixture.explain(before.run))
            let early = try await fixture.clients.curl("https://localhost:\(origin.port)/b/early")
            #expect(early.httpCode == 403)
            fixture.check(early.body.contains("not yet valid"), "before not_before: \(early.body)")

            try await Task.sleep(for: .seconds(max(0, soon.timeIntervalSinceNow) + 0.5))
            let after = try await fixture.clients.curl("https://localhost:\(origin.port)/a/after")
            #expect(after.httpCode == 403)
            fixture.check(
                after.body.contains("credential revoked") && after.body.contains("expired"),
                "after expiry: \(after.body)"
            )
            let valid = try await fixture.clients.curl("https://localhost:\(origin.port)/b/valid")
            #expect(valid.httpCode == 200, "after not_before: \(fixture.explain(valid.run))")
            _ = try await fixture.auditRecord("expired request") {
                $0.status == 403 && ($0.reason ?? "").contains("'first' (expired)")
            }
        }
    }

    @Test("check --stale DAYS exits 1 naming configured credentials the usage store has not seen used")
    func checkStale() async throws {
        try await ProxyFixture.run("check-stale", configuration: Self.twoCredentials()) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let used = try await fixture.clients.curl("https://localhost:\(origin.port)/a/used")
            #expect(used.httpCode == 200, fixture.explain(used.run))
            #expect(await fixture.proxy.stop() == true)  // flushes the usage store

            let stale = try await fixture.runTokenproxy(["check", "--config", fixture.proxy.configPath, "--stale", "1"])
            #expect(stale.exitCode == 1, fixture.explain(stale))
            fixture.check(
                stale.stderr.contains("credential 'second' is still configured but never used"),
                "check --stale: \(stale.stderr)"
            )
            fixture.check(!stale.stderr.contains("'first'"), "the used credential was called stale: \(stale.stderr)")
        }
    }

    @Test("rotate_every: a value older than it is reported in /status, the audit log, the metrics and the log")
    func rotationDue() async throws {
        var configuration = ProxyConfiguration()
        configuration.serveArguments = ["--admin-listen", "127.0.0.1:0"]
        configuration.credentialSettingsYAML = """
                rotate_every: 4s
            """
        try await ProxyFixture.run("rotate-every", configuration: configuration) { fixture in
            let port = try await fixture.adminPort()
            // The first check runs at startup; wait for its first-seen time, then the value is fresh.
            var entry: [String: Any]?
            for _ in 0..<20 where entry?["value_first_seen"] == nil {
                let fresh = try await fixture.operate(["status", "--json"], adminPort: port)
                #expect(fresh.exitCode == 0, fixture.explain(fresh))
                let document = try JSONSerialization.jsonObject(with: Data(fresh.stdout.utf8)) as? [String: Any]
                entry = (document?["credentials"] as? [[String: Any]])?.first
                if entry?["value_first_seen"] == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(entry?["rotation_due"] as? Bool == false, "a fresh value is reported as due for rotation")
            #expect(entry?["rotate_every_seconds"] as? Int == 4)

            let record = await AuditRecord.wait(for: fixture.proxy.auditLogPath, timeout: .seconds(10)) {
                $0.contains { $0.method == "ROTATE" }
            }.first { $0.method == "ROTATE" }
            fixture.check(
                record?.decision == "admin" && (record?.reason ?? "").contains("'e2e'"),
                "ROTATE record: \(record.map(\.detailedDescription) ?? "none")"
            )
            let due = try await fixture.operate(["status"], adminPort: port)
            fixture.check(due.stdout.contains("e2e: active, ROTATION DUE"), "status after: \(due.stdout)")
            let metrics = try await fixture.clients.curl(
                "http://127.0.0.1:\(port)/metrics", arguments: ["--noproxy", "*"]
            )
            let overdue = metrics.body.contains(#/tokenproxy_credential_rotation_overdue\{credential="e2e"\} 1/#)
            #expect(overdue, "the rotation metric is not 1")
            let stderr = await fixture.proxy.stderr(containing: "longer ago than rotate_every")
            #expect(stderr.contains("longer ago than rotate_every"), "no rotation warning in the log")
        }
    }

    @Test("previous: a 401 to the current value is retried once with the previous one, and that use is reported")
    func rotationWindow() async throws {
        var configuration = ProxyConfiguration()
        configuration.secretVariables = ["TP_NEW": ProxyConfiguration.credentialName, "TP_OLD": "old"]
        configuration.serveArguments = ["--admin-listen", "127.0.0.1:0"]
        configuration.credentialsYAML = """
              \(ProxyConfiguration.credentialName): { source: env:TP_NEW, previous: env:TP_OLD }
            """
        try await ProxyFixture.run("rotation-window", configuration: configuration) { fixture in
            let port = try await fixture.adminPort()
            let origin = try await fixture.startOrigin(.valid)
            let base = "https://localhost:\(origin.port)"
            let acceptsOld = fixture.sha256Hex(ofDerived: "old") { "Bearer " + $0 }
            let acceptsNew = fixture.sha256Hex(ofDerived: ProxyConfiguration.credentialName) { "Bearer " + $0 }

            let old = try await fixture.clients.curl("\(base)/old?accept_sha256=\(acceptsOld)")
            #expect(old.httpCode == 200, "an origin that knows only the previous value: \(fixture.explain(old.run))")
            let overH2 = try await fixture.clients.curl(
                "\(base)/old-h2?accept_sha256=\(acceptsOld)", arguments: ["--http2"]
            )
            #expect(overH2.httpCode == 200, "the same over HTTP/2: \(fixture.explain(overH2.run))")
            let new = try await fixture.clients.curl("\(base)/new?accept_sha256=\(acceptsNew)")
            #expect(new.httpCode == 200, fixture.explain(new.run))
            let neither = try await fixture.clients.curl("\(base)/neither?accept_sha256=00")
            #expect(neither.httpCode == 401, "an origin that knows neither: \(neither.httpCode)")
            let upload = try await fixture.clients.curl(
                "\(base)/upload?accept_sha256=\(acceptsOld)", arguments: ["--data-binary", "streamed body"]
            )
            #expect(upload.httpCode == 401, "a streamed body is not replayed, so its 401 passes: \(upload.httpCode)")

            let seen = origin.requests.map { request -> String in
                let path = String(request.uri.split(separator: "?")[0])
                if fixture.isInjected(request) { return path + " new" }
                let oldValue = fixture.isDerived(request.values(of: "Authorization").first, canary: "old") {
                    "Bearer " + $0
                }
                return path + (oldValue ? " old" : " other")
            }
            fixture.checkEqual(
                seen,
                [
                    "/old new", "/old old", "/old-h2 new", "/old-h2 old", "/new new", "/neither new", "/neither old",
                    "/upload new",
                ],
                "what the origin received"
            )
            let record = try await fixture.auditRecord("previous-value request") { $0.path == "/old-h2" }
            #expect(record.status == 200)
            fixture.check(
                (record.reason ?? "").contains("previous value of 'e2e' used"), "record reason: \(record.reason ?? "")"
            )
            let status = try await fixture.operate(["status"], adminPort: port)
            fixture.check(
                status.stdout.contains("previous value (env:TP_OLD) used 3 times"), "status: \(status.stdout)"
            )
            #expect(await fixture.proxy.stop() == true)  // flushes the usage store
            let usage = try await fixture.runTokenproxy(["usage", "--config", fixture.proxy.configPath])
            #expect(usage.exitCode == 0, fixture.explain(usage))
            fixture.check(
                usage.stdout.contains("e2e: 3 requests sent with the previous value"), "usage: \(usage.stdout)"
            )
            let usageJSON = try await fixture.runTokenproxy(["usage", "--json", "--config", fixture.proxy.configPath])
            #expect(usageJSON.exitCode == 0, fixture.explain(usageJSON))
            fixture.check(
                usageJSON.stdout.contains("\"previous_value_requests\" : 3"), "usage --json: \(usageJSON.stdout)"
            )
        }
    }

    @Test("SIGTERM during a slow download: it completes, the audit log verifies, the proxy exits 0")
    func sigtermDuringSlowDownload() async throws {
        try await ProxyFixture.run("sigterm-drain") { fixture in
            try await ProtocolEndToEndTests.withOrigin(.h2AndHTTP1, in: fixture) { origin in
                let size = 4 * 1_048_576
                let clients = fixture.clients
                // 1 MiB/s: about 4 s, well inside the 30 s drain timeout.
                async let download = clients.measuredCurl(
                    "https://localhost:\(origin.port)/download?bytes=\(size)", protocol: .http1,
                    arguments: ["--output", "/dev/null", "--limit-rate", "1M"], maxTime: 25, timeout: .seconds(30)
                )
                for _ in 0..<100 where origin.requests.isEmpty {
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await Task.sleep(for: .milliseconds(500))
                fixture.signalProxy(SIGTERM)
                let result = try await download
                let transfer = try #require(result.transfers.first, fixture.explain(result.run))
                #expect(result.run.exitCode == 0, fixture.explain(result.run))
                #expect(transfer.httpCode == 200)
                #expect(transfer.sizeDownload == size, "curl received \(transfer.sizeDownload) of \(size) bytes")

                let status = await fixture.proxy.waitForExit(timeout: .seconds(10))
                #expect(status == 0, "the proxy exited with \(status.map(String.init) ?? "nothing: still running")")
                let refusedAfter = try await clients.curl("https://localhost:\(origin.port)/late")
                #expect(refusedAfter.httpCode == 0, "the proxy still accepted a request after draining")

                let verify = try await fixture.runTokenproxy(["audit", "verify", fixture.proxy.auditLogPath])
                #expect(verify.exitCode == 0, fixture.explain(verify))
                fixture.check(verify.stdout.contains("intact"), "audit verify: \(verify.stdout)")
                let (records, _) = AuditRecord.read(from: fixture.proxy.auditLogPath)
                let downloaded = records.contains { $0.path == "/download" && $0.status == 200 }
                #expect(downloaded, "no audit record of the download")
            }
        }
    }
}

/// A value shared between a test and the load tasks it runs.
private final class SharedValue<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
