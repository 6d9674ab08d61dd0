import Foundation
import Testing

/// End-to-end tests of the usage store and `tokenproxy usage`: a real proxy writes `usage.db` while serving real
/// requests, and the real binary reports from it, during the proxy's run and after it stopped.
///
/// As everywhere in the end-to-end tests, text the proxy produced is checked through `fixture.check`/`checkEqual`
/// (redacted) rather than `#expect`, and the fixture's teardown scans every file, the store included, for the
/// canaries.
@Suite("tokenproxy usage end to end", .serialized, .timeLimit(.minutes(2)))
struct UsageReportEndToEndTests {
    /// The credential that is configured, with a real value, but never used.
    static let dormant = "dormant"

    /// The usual `e2e` credential and rule for `localhost`, plus `dormant` (its own canary, no rule).
    static var configuration: ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.credentialsYAML = """
              \(ProxyConfiguration.credentialName):
                source: env:\(ProxyConfiguration.credentialVariable)
              \(dormant):
                source: env:TP_E2E_DORMANT_TOKEN
            """
        configuration.secretVariables["TP_E2E_DORMANT_TOKEN"] = dormant
        configuration.usageStore = "usage.db"
        return configuration
    }

    /// One element of `tokenproxy usage --json`.
    struct Row: Decodable {
        struct Host: Decodable {
            let host: String
            let requests: Int
            let lastUsed: String

            enum CodingKeys: String, CodingKey {
                case host, requests
                case lastUsed = "last_used"
            }
        }

        let credential: String
        let requests: Int
        let errors: Int
        let bytesIn: Int
        let bytesOut: Int
        let firstUsed: String?
        let lastUsed: String?
        let lastClient: String?
        let hosts: [Host]
        let clients: [String]

        enum CodingKeys: String, CodingKey {
            case credential, requests, errors, hosts, clients
            case bytesIn = "bytes_in"
            case bytesOut = "bytes_out"
            case firstUsed = "first_used"
            case lastUsed = "last_used"
            case lastClient = "last_client"
        }
    }

    @Test("requests through the proxy are in usage.db; 'usage' reports them as JSON and a table, and lists the unused")
    func reportsProxiedRequests() async throws {
        try await ProxyFixture.run("usage-report", configuration: Self.configuration) { fixture in
            let configPath = fixture.proxy.configPath
            let storePath = fixture.directory.file("usage.db")

            // Nothing at a path: a notice, and every configured credential as never used.
            let missingPath = fixture.directory.file("nothing/usage.db")
            let missing = try await fixture.runTokenproxy(["usage", "--config", configPath, "--db", missingPath])
            #expect(missing.exitCode == 0, fixture.explain(missing))
            fixture.check(
                missing.stderr.contains("no usage recorded yet at \(missingPath)"),
                "no 'no usage recorded yet' notice: \(missing.stderr.suffix(500))"
            )
            fixture.check(
                Self.line(of: ProxyConfiguration.credentialName, in: missing.stdout)?
                    .contains(#/^e2e\s+0\s+0\s+never\s+-\s+-$/#) == true,
                "e2e is not listed as never used:\n\(missing.stdout)"
            )
            #expect(!FileManager.default.fileExists(atPath: missingPath), "usage created the store it reads")

            let origin = try await fixture.startOrigin(.valid)
            let urls = (1...3).map { "https://localhost:\(origin.port)/v1/usage/\($0)?api_key=abc" }
            let result = try await fixture.clients.curl(urls)
            #expect(result.run.exitCode == 0, fixture.explain(result.run))
            #expect(result.transfers.map(\.httpCode) == [200, 200, 200])
            let requests = origin.requests
            #expect(requests.count == 3)
            for request in requests {
                fixture.expectInjected(request)
            }

            // While the proxy runs (and holds the store open), another process reads it.
            var live: [Row] = []
            let deadline = ContinuousClock.now + .seconds(10)
            repeat {
                let run = try await fixture.runTokenproxy(["usage", "--config", configPath, "--json"])
                guard run.exitCode == 0 else {
                    Issue.record("usage failed while the proxy ran: \(fixture.explain(run))")
                    break
                }
                live = Self.decode(run.stdout)
                if live.first(where: { $0.credential == ProxyConfiguration.credentialName })?.requests == 3 { break }
                try await Task.sleep(for: .milliseconds(200))
            } while ContinuousClock.now < deadline
            #expect(
                live.first { $0.credential == ProxyConfiguration.credentialName }?.requests == 3,
                "the running proxy's store never showed 3 requests for e2e"
            )

            // Stopped: the store is complete and closed.
            let graceful = await fixture.proxy.stop()
            #expect(graceful == true)
            #expect(FileManager.default.fileExists(atPath: storePath), "no usage store at the configured path")
            let mode = (try? FileManager.default.attributesOfItem(atPath: storePath))?[.posixPermissions] as? Int
            #expect(mode == 0o600)

            let json = try await fixture.runTokenproxy(["usage", "--config", configPath, "--json"])
            #expect(json.exitCode == 0, fixture.explain(json))
            let rows = Self.decode(json.stdout)
            fixture.checkEqual(
                rows.map(\.credential), [ProxyConfiguration.credentialName, Self.dormant], "credentials reported"
            )
            let used = try #require(rows.first { $0.credential == ProxyConfiguration.credentialName })
            #expect(used.requests == 3)
            #expect(used.errors == 0)
            #expect(used.bytesOut > 0)
            fixture.checkEqual(used.hosts.map(\.host), ["localhost"], "hosts")
            #expect(used.hosts.map(\.requests) == [3])
            fixture.checkEqual(used.clients, ["127.0.0.1"], "clients")
            fixture.check(used.lastClient?.hasPrefix("127.0.0.1:") == true, "last client: \(used.lastClient ?? "nil")")
            fixture.check(used.firstUsed != nil && used.lastUsed != nil, "first/last used missing")
            let unused = try #require(rows.first { $0.credential == Self.dormant })
            #expect(unused.requests == 0)
            #expect(unused.lastUsed == nil)
            #expect(unused.hosts.isEmpty)

            // The store agrees with the audit log.
            let records = await fixture.auditRecords { records in
                records.filter { $0.credential == ProxyConfiguration.credentialName }.count >= 3
            }
            #expect(records.filter { $0.credential == ProxyConfiguration.credentialName }.count == 3)

            let table = try await fixture.runTokenproxy(["usage", "--config", configPath])
            #expect(table.exitCode == 0, fixture.explain(table))
            fixture.check(
                table.stdout.hasPrefix("CREDENTIAL") && table.stdout.contains("LAST USED"),
                "no table header:\n\(table.stdout)"
            )
            fixture.check(
                Self.line(of: ProxyConfiguration.credentialName, in: table.stdout)?
                    .contains(#/^e2e\s+3\s+0\s+(just now|\d+[smh] ago)\s+localhost \(3\)\s+127\.0\.0\.1$/#) == true,
                "the e2e row is not '3 requests, 0 errors, localhost (3), 127.0.0.1':\n\(table.stdout)"
            )
            fixture.check(
                Self.line(of: Self.dormant, in: table.stdout)?.contains(#/^dormant\s+0\s+0\s+never\s+-\s+-$/#) == true,
                "the dormant row is not 'never':\n\(table.stdout)"
            )

            let window = try await fixture.runTokenproxy(
                ["usage", "--config", configPath, "--json", "--since", "1h", "--credential", "e2e"]
            )
            #expect(window.exitCode == 0, fixture.explain(window))
            #expect(Self.decode(window.stdout).map(\.requests) == [3])

            let stale = try await fixture.runTokenproxy(["usage", "--config", configPath, "--stale", "30"])
            #expect(stale.exitCode == 0, fixture.explain(stale))
            fixture.check(
                Self.line(of: Self.dormant, in: stale.stdout)?.contains(#/^dormant\s+never$/#) == true,
                "dormant is not listed as stale:\n\(stale.stdout)"
            )
            fixture.check(
                Self.line(of: ProxyConfiguration.credentialName, in: stale.stdout) == nil,
                "e2e, used just now, is listed as stale:\n\(stale.stdout)"
            )

            // No canary anywhere: the outputs, and the store (the teardown scans every file again).
            let runs = [missing, json, table, window, stale]
            let outputs = runs.map { $0.stdout + $0.stderr }
            for label in [ProxyConfiguration.credentialName, Self.dormant] {
                #expect(!outputs.contains { fixture.contains($0, canary: label) }, "a credential value in usage output")
                let store = FileManager.default.contents(atPath: storePath) ?? Data()
                #expect(!store.isEmpty)
                #expect(
                    !fixture.contains(String(decoding: store, as: UTF8.self), canary: label),
                    "a credential value in usage.db"
                )
            }
        }
    }

    @Test("a bad --since, --stale 0 and an unknown --credential are one-line errors with exit status 1")
    func refusesBadArguments() async throws {
        try await ProxyFixture.run("usage-errors", configuration: Self.configuration) { fixture in
            let configPath = fixture.proxy.configPath
            let cases: [([String], String)] = [
                (["--since", "yesterday"], "--since takes a date"),
                (["--stale", "0"], "--stale takes a number of days"),
                (["--stale", "30", "--since", "1h"], "cannot be combined"),
                (["--credential", "nobody"], "no credential named 'nobody'"),
            ]
            for (arguments, message) in cases {
                let run = try await fixture.runTokenproxy(["usage", "--config", configPath] + arguments)
                #expect(run.exitCode == 1, "\(arguments): \(fixture.explain(run))")
                let reported = run.stderr.split(separator: "\n").contains {
                    $0.hasPrefix("tokenproxy: error: ") && $0.contains(message)
                }
                fixture.check(
                    reported, "\(arguments): no one-line error about '\(message)': \(run.stderr.suffix(500))"
                )
            }
        }
    }

    /// The rows of `usage --json` output, or none (with an issue recorded) if it is not such an array.
    private static func decode(_ text: String) -> [Row] {
        do {
            return try JSONDecoder().decode([Row].self, from: Data(text.utf8))
        } catch {
            Issue.record("usage --json printed no array of rows: \(error)")
            return []
        }
    }

    /// The line of a table that starts with `credential` and a space, if any.
    private static func line(of credential: String, in table: String) -> Substring? {
        table.split(separator: "\n").first { $0.hasPrefix(credential + " ") }
    }
}
