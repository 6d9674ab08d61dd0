import Foundation
import Testing

/// End-to-end tests of `tokenproxy scan` with the real binary and real `git`: a configured token (the canary, given to
/// the scan's configuration through the environment) and well-known token shapes planted in files, in the index and
/// deep in history are found; no output holds a value; `--json` and `--sarif` parse (python3); the pre-commit hook
/// refuses a commit holding a token.
@Suite("tokenproxy scan end to end", .serialized, .timeLimit(.minutes(10)))
struct ScanEndToEndTests {
    /// Shapes planted beside the canary, built at run time so this repository holds no token shape itself.
    static func plantedShapes() -> (text: String, values: [String]) {
        let github = "ghp_" + random(36)
        let awsKeyID = "AKIA" + random(16, upperDigits: true)
        let awsSecret = random(20) + "/" + random(19)
        let stripe = "sk_" + "live_" + random(30)
        let anthropic = "sk-" + "ant-api03-" + random(60)
        let pemBody = random(64)
        let text = """
            GITHUB = "\(github)"
            aws_access_key_id = \(awsKeyID)
            aws_secret_access_key = \(awsSecret)
            STRIPE = '\(stripe)'
            ANTHROPIC = '\(anthropic)'
            -----BEGIN \("PRIVATE KEY")-----
            \(pemBody)
            -----END PRIVATE KEY-----

            """
        return (text, [github, awsKeyID, awsSecret, stripe, anthropic, pemBody])
    }

    static func random(_ count: Int, upperDigits: Bool = false) -> String {
        let alphabet = Array(
            upperDigits ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" : "ABCDEFGHJKLMNPQRSTabcdefghijkmnpqrst23456789"
        )
        var text = String((0..<count).map { _ in alphabet.randomElement()! })
        // Keep every class present so mixed-alphabet rules see a mix.
        let head = text.startIndex..<text.index(text.startIndex, offsetBy: 3)
        text.replaceSubrange(head, with: upperDigits ? "A7Z" : "Aa7")
        return text
    }

    /// Whether `output` holds any planted value past its (shown) 4-character prefix.
    static func leaksShape(_ output: String, _ values: [String]) -> Bool {
        values.contains { output.contains(String($0.dropFirst(4))) }
    }

    @Test("files: the configured token and each shape are found with file:line; .gitignore'd files are skipped; exit 1")
    func files() async throws {
        try await ScanFixture.run("scan-files") { fixture in
            let shapes = Self.plantedShapes()
            try fixture.plant("# app\nDEPLOY_TOKEN={{canary}}\n", at: "config/app.env")
            try fixture.write(shapes.text, at: "src/settings.py")
            try fixture.write("ignored.env\n", at: ".gitignore")
            try fixture.write("GITHUB_TOKEN=ghp_\(Self.random(36))\n", at: "ignored.env")
            try await fixture.git(["add", "config", "src", ".gitignore"])

            let run = try await fixture.scan([])
            #expect(run.exitCode == 1, "\(run) \(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            let configured = "config/app.env:2: configured-token credential deploy (\(fixture.canaryLength) chars)"
            #expect(lines.contains(configured))
            for (line, kind) in [
                (1, "github-token"), (2, "aws-access-key-id"), (3, "aws-secret-access-key"), (4, "stripe-live-key"),
                (5, "anthropic-api-key"), (6, "private-key"),
            ] {
                #expect(lines.contains { $0.hasPrefix("src/settings.py:\(line): \(kind) ") }, "\(kind) in \(lines)")
            }
            #expect(!run.stdout.contains("ignored.env"), "a .gitignore'd file was scanned")
            #expect(lines.count == 7, "\(lines)")
            #expect(!fixture.containsCanary(run.stdout + run.stderr))
            #expect(!Self.leaksShape(run.stdout + run.stderr, shapes.values))
            #expect(run.stderr.contains("looking for 1 configured token (deploy)"))

            try fixture.write("nothing to see\n", at: "config/app.env")
            try fixture.write("print('hello')\n", at: "src/settings.py")
            let clean = try await fixture.scan([])
            #expect(clean.exitCode == 0, "\(clean) \(clean.stdout)")
            #expect(clean.stdout.isEmpty)
        }
    }

    @Test("--staged: a token only in the index is found and the hook refuses the commit; a work tree scan misses it")
    func staged() async throws {
        try await ScanFixture.run("scan-staged") { fixture in
            try fixture.write("base\n", at: "README")
            try await fixture.git(["add", "README"])
            try await fixture.git(["commit", "-q", "-m", "base"])
            try fixture.plant("a: 1\nDEPLOY_TOKEN={{canary}}\n", at: "deploy.env")
            try await fixture.git(["add", "deploy.env"])
            try fixture.write("a: 1\nDEPLOY_TOKEN=\n", at: "deploy.env")

            let staged = try await fixture.scan(["--staged"])
            #expect(staged.exitCode == 1, "\(staged) \(staged.stderr)")
            #expect(staged.stdout.contains("deploy.env:2: configured-token credential deploy"), "\(staged.stdout)")
            let workTree = try await fixture.scan([])
            #expect(workTree.exitCode == 0, "\(workTree.stdout)")

            let install = try await fixture.scan(["--install-hook"])
            #expect(install.exitCode == 0, "\(install) \(install.stderr)")
            let refused = try await fixture.git(["commit", "-q", "-m", "add deploy"], expectSuccess: false)
            #expect(refused.exitCode != 0, "the pre-commit hook let a commit with a token through")
            // git sends a hook's stdout to its own stderr.
            let hookOutput = refused.stdout + refused.stderr
            #expect(hookOutput.contains("deploy.env:2: configured-token credential deploy"), "\(hookOutput)")
            #expect(!fixture.containsCanary(staged.stdout + staged.stderr + refused.stdout + refused.stderr))

            // Unstaging the token lets the commit through the same hook.
            try await fixture.git(["add", "deploy.env"])
            try await fixture.git(["commit", "-q", "-m", "add deploy without token"])

            // A hook tokenproxy did not write is not replaced without --force.
            let hookPath = fixture.repository + "/.git/hooks/pre-commit"
            try "#!/bin/sh\nexit 0\n".write(toFile: hookPath, atomically: true, encoding: .utf8)
            let foreign = try await fixture.scan(["--install-hook"])
            #expect(foreign.exitCode == 2)
            #expect(foreign.stderr.contains("--force"), "\(foreign.stderr)")
            let forced = try await fixture.scan(["--install-hook", "--force"])
            #expect(forced.exitCode == 0, "\(forced.stderr)")
            #expect(FileManager.default.fileExists(atPath: hookPath + ".backup"))
        }
    }

    @Test("--history: a token committed then deleted is found with the commit that added it; --json and --sarif parse")
    func history() async throws {
        try await ScanFixture.run("scan-history") { fixture in
            let shapes = Self.plantedShapes()
            try fixture.write("base\n", at: "README")
            try await fixture.git(["add", "README"])
            try await fixture.git(["commit", "-q", "-m", "base"])
            try fixture.plant("x = 1\ny = 2\nDEPLOY_TOKEN={{canary}}\n", at: "old/secret.env")
            try fixture.write(shapes.text, at: "old/settings.py")
            try await fixture.git(["add", "old"])
            try await fixture.git(["commit", "-q", "-m", "add settings"])
            let introducing = try await fixture.git(["rev-parse", "HEAD"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try await fixture.git(["rm", "-q", "-r", "old"])
            try await fixture.git(["commit", "-q", "-m", "remove settings"])
            for number in 1...5 {
                try fixture.write("change \(number)\n", at: "README")
                try await fixture.git(["commit", "-q", "-am", "change \(number)"])
            }

            let current = try await fixture.scan([])
            #expect(current.exitCode == 0, "\(current.stdout)")
            let history = try await fixture.scan(["--history"])
            #expect(history.exitCode == 1, "\(history) \(history.stderr)")
            let short = String(introducing.prefix(12))
            #expect(
                history.stdout.contains("\(short):old/secret.env:3: configured-token credential deploy"),
                "\(history.stdout)"
            )
            #expect(history.stdout.contains("\(short):old/settings.py:1: github-token"), "\(history.stdout)")
            #expect(!fixture.containsCanary(history.stdout + history.stderr))
            #expect(!Self.leaksShape(history.stdout + history.stderr, shapes.values))

            let json = try await fixture.scan(["--history", "--json"])
            #expect(json.exitCode == 1)
            let jsonCheck = try await Self.python(
                """
                import json, sys
                report = json.load(sys.stdin)
                kinds = sorted(f["kind"] for f in report["findings"])
                found = [f for f in report["findings"] if f["kind"] == "configured-token"]
                assert found and found[0]["credential"] == "deploy", found
                assert found[0]["commit"] == sys.argv[1] and found[0]["line"] == 3, found
                print(" ".join(kinds))
                """,
                input: json.stdout, arguments: [introducing], in: fixture
            )
            #expect(jsonCheck.exitCode == 0, "\(jsonCheck.stderr)")
            #expect(jsonCheck.stdout.contains("configured-token") && jsonCheck.stdout.contains("private-key"))

            let sarif = try await fixture.scan(["--history", "--sarif"])
            #expect(sarif.exitCode == 1)
            let sarifCheck = try await Self.python(
                """
                import json, sys
                log = json.load(sys.stdin)
                assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
                run = log["runs"][0]
                rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
                for result in run["results"]:
                    assert rules[result["ruleIndex"]] == result["ruleId"]
                    location = result["locations"][0]["physicalLocation"]
                    assert location["region"]["startLine"] >= 1 and location["artifactLocation"]["uri"]
                    assert result["partialFingerprints"] and result["message"]["text"]
                print(len(run["results"]))
                """,
                input: sarif.stdout, arguments: [], in: fixture
            )
            #expect(sarifCheck.exitCode == 0, "\(sarifCheck.stderr)")
            #expect(Int(sarifCheck.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 7)
            for output in [json.stdout, sarif.stdout] {
                #expect(!fixture.containsCanary(output))
                #expect(!Self.leaksShape(output, shapes.values))
            }
        }
    }

    @Test("the allowlist file suppresses listed findings; usage mistakes exit 2")
    func allowlistAndUsage() async throws {
        try await ScanFixture.run("scan-allowlist") { fixture in
            try fixture.write("GITHUB_TOKEN=ghp_\(Self.random(36))\n", at: "fixtures/fake.env")
            try fixture.plant("DEPLOY_TOKEN={{canary}}\n", at: "app.env")
            try fixture.write("fixtures/**   # fake tokens for tests\n", at: ".tokenproxy-scan-allow")
            let run = try await fixture.scan([])
            #expect(run.exitCode == 1)
            #expect(!run.stdout.contains("fixtures/fake.env"))
            #expect(run.stdout.contains("app.env:1: configured-token"))
            #expect(run.stderr.contains("1 allowlisted"), "\(run.stderr)")

            try fixture.write("fixtures/**\napp.env:1\n", at: ".tokenproxy-scan-allow")
            #expect(try await fixture.scan([]).exitCode == 0)

            try fixture.write("hmac-sha256:nothex\n", at: ".tokenproxy-scan-allow")
            let bad = try await fixture.scan([])
            #expect(bad.exitCode == 2)
            #expect(bad.stderr.contains(".tokenproxy-scan-allow:1:"), "\(bad.stderr)")

            for arguments in [["--staged", "--history"], ["--json", "--sarif"], ["--bogus"], ["missing-path"]] {
                let usage = try await fixture.scan(arguments)
                #expect(usage.exitCode == 2, "\(arguments): \(usage)")
                #expect(usage.stderr.contains("tokenproxy: error:"), "\(arguments): \(usage.stderr)")
            }
        }
    }

    @Test("history of 10,000 commits (git fast-import): the scan completes and finds a token added deep in history")
    func largeHistory() async throws {
        try await ScanFixture.run("scan-10k") { fixture in
            try await fixture.importHistory(commits: 10_000, plantAt: 150)
            let planted = try await fixture.git(["rev-list", "--reverse", "main"]).stdout.split(separator: "\n")
            #expect(planted.count == 10_000)
            let introducing = String(planted.dropFirst(149).first ?? "")
            let started = ContinuousClock.now
            // A generous bound: this is a correctness test on a shared machine; the timed target (60 s) is in
            // Benchmarks/scan-history.sh.
            let run = try await fixture.scan(["--history"], timeout: .seconds(300))
            let elapsed = ContinuousClock.now - started
            #expect(run.exitCode == 1, "\(run) \(run.stderr)")
            let expected = "\(introducing.prefix(12)):config/secret.env:2: configured-token credential deploy"
            #expect(run.stdout.contains(expected), "\(run.stdout)")
            #expect(run.stdout.split(separator: "\n").count == 1, "\(run.stdout)")
            #expect(!fixture.containsCanary(run.stdout + run.stderr))
            print("scan --history over 10,000 commits took \(elapsed)")
        }
    }

    /// Runs `python3 -c script arguments…` with `input` on stdin.
    static func python(
        _ script: String, input: String, arguments: [String], in fixture: ScanFixture
    ) async throws -> Clients.Run {
        let inputPath = try fixture.directory.write(input, to: "clients/python-input-\(UUID().uuidString.prefix(8))")
        let child = try ChildProcess(
            executable: ChildProcess.which("python3") ?? "/usr/bin/python3", arguments: ["-c", script] + arguments,
            environment: ChildProcess.cleanEnvironment(), stdinPath: inputPath,
            stdoutPath: inputPath + ".stdout", stderrPath: inputPath + ".stderr"
        )
        let exitCode = await child.waitForExit(timeout: .seconds(30))
        if exitCode == nil { await child.stop(grace: .seconds(2)) }
        return Clients.Run(
            exitCode: exitCode,
            stdout: (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        )
    }
}
