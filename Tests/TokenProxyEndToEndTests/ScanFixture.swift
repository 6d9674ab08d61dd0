import Foundation
import Testing

/// One `tokenproxy scan` end-to-end test's world: a scratch directory with a git repository, a canary credential
/// whose value the scan reads from its environment (as the proxy would), and the real `tokenproxy` binary and `git`.
///
/// The canary is planted in repository files on purpose (that is what the scan must find), so those files are exempt
/// from the leak check; every other file the test produces (scan output, git output) is checked at teardown, as
/// ``ProxyFixture`` does. Tests ask yes/no questions about the canary, so no expectation can print it.
final class ScanFixture {
    /// The test's scratch directory.
    let directory: TestDirectory
    /// The repository's work tree.
    let repository: String
    /// The configuration the scans read: one credential, `deploy`, from `TP_SCAN_CANARY`.
    let configPath: String

    /// The credential name the canary is configured under.
    static let credentialName = "deploy"
    private static let variable = "TP_SCAN_CANARY"
    private let canary: String
    /// Files that hold the canary on purpose (absolute paths).
    private var plantedFiles: Set<String> = []

    private init(directory: TestDirectory) throws {
        self.directory = directory
        repository = try directory.subdirectory("repo")
        _ = try directory.subdirectory("clients")
        _ = try directory.subdirectory("home")
        configPath = try directory.write(
            """
            credentials:
              \(Self.credentialName):
                source: env:\(Self.variable)
            rules:
              - host: api.example.com
                credential: \(Self.credentialName)
                inject: { header: Authorization, value: "Bearer {{secret}}" }

            """,
            to: "tokenproxy.yaml"
        )
        var generator = SystemRandomNumberGenerator()
        canary = "tpcanary-" + (0..<16).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16) }
            .map { $0.count == 1 ? "0" + $0 : $0 }.joined()
    }

    /// Runs `body` in a fresh fixture with an initialised repository, then checks for leaks and cleans up.
    static func run(
        _ label: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: (ScanFixture) async throws -> Void
    ) async throws {
        let fixture = try ScanFixture(directory: try TestDirectory(label: label))
        var failure: (any Error)?
        do {
            try await fixture.git(["init", "-q", "-b", "main"])
            try await body(fixture)
        } catch {
            failure = error
        }
        fixture.checkNoLeak(sourceLocation: sourceLocation)
        fixture.directory.remove()
        if let failure { throw failure }
    }

    // MARK: Planting

    /// Writes `text` to `relativePath` in the work tree, with the canary in place of every `{{canary}}`.
    func plant(_ text: String, at relativePath: String) throws {
        let contents = text.replacingOccurrences(of: "{{canary}}", with: canary)
        let path = try directory.write(contents, to: "repo/\(relativePath)")
        if text.contains("{{canary}}") { plantedFiles.insert(path) }
    }

    /// Writes `text` (no canary) to `relativePath` in the work tree.
    func write(_ text: String, at relativePath: String) throws {
        try directory.write(text, to: "repo/\(relativePath)")
    }

    /// A `git fast-import` stream of `count` commits on `main`, each changing one small file; commit `plantAt`
    /// adds `secret.env` holding the canary and commit `plantAt + 1` deletes it. Imported through a temporary file
    /// that is removed again, so the canary stays only in git's (compressed) objects.
    func importHistory(commits count: Int, plantAt: Int) async throws {
        var stream = ""
        stream.reserveCapacity(count * 200)
        for number in 1...count {
            let message = "commit \(number)\n"
            stream += "commit refs/heads/main\nmark :\(number)\n"
            stream += "committer Bench <bench@example.com> \(1_700_000_000 + number) +0000\n"
            stream += "data \(message.utf8.count)\n\(message)"
            if number > 1 { stream += "from :\(number - 1)\n" }
            let content = "entry \(number)\nvalue = \(number * 7919 % 100_003)\n"
            stream += "M 100644 inline src/file\(number % 64).txt\ndata \(content.utf8.count)\n\(content)"
            if number == plantAt {
                let secret = "# deploy settings\nDEPLOY_TOKEN=\(canary)\n"
                stream += "M 100644 inline config/secret.env\ndata \(secret.utf8.count)\n\(secret)"
            } else if number == plantAt + 1 {
                stream += "D config/secret.env\n"
            }
            stream += "\n"
        }
        let streamPath = try directory.write(stream, to: "history.fast-import")
        defer { try? FileManager.default.removeItem(atPath: streamPath) }
        try await git(["fast-import", "--quiet"], stdinPath: streamPath, timeout: .seconds(120))
        try await git(["reset", "-q", "--hard", "main"])
    }

    // MARK: Running

    /// Runs `git arguments…` in the repository with a clean environment; throws unless it exits 0.
    @discardableResult
    func git(
        _ arguments: [String], stdinPath: String? = nil, timeout: Duration = .seconds(30), expectSuccess: Bool = true
    ) async throws -> Clients.Run {
        let run = try await launch(
            executable: ChildProcess.which("git") ?? "/usr/bin/git", arguments: ["-C", repository] + arguments,
            stem: "git-\(arguments.first ?? "")", stdinPath: stdinPath, timeout: timeout
        )
        if expectSuccess, run.exitCode != 0 {
            throw ScanFixtureError.gitFailed(arguments.joined(separator: " "), run.stderr)
        }
        return run
    }

    /// Runs `tokenproxy scan arguments… --config <the test config>` from inside the repository, with the canary in
    /// its environment.
    func scan(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> Clients.Run {
        try await launch(
            executable: "/bin/sh",
            arguments: [
                "-c", #"cd "$1" && shift && exec "$@""#, "sh", repository, try ProxyProcess.binaryPath(), "scan",
            ] + arguments + ["--config", configPath],
            stem: "scan", timeout: timeout
        )
    }

    private func launch(
        executable: String, arguments: [String], stem: String, stdinPath: String? = nil, timeout: Duration
    ) async throws -> Clients.Run {
        let name = "clients/\(stem)-\(UUID().uuidString.prefix(8).lowercased())"
        let child = try ChildProcess(
            executable: executable, arguments: arguments,
            environment: ChildProcess.cleanEnvironment([
                Self.variable: canary, "HOME": directory.file("home"), "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_AUTHOR_NAME": "Scan Test", "GIT_AUTHOR_EMAIL": "scan@example.com",
                "GIT_COMMITTER_NAME": "Scan Test", "GIT_COMMITTER_EMAIL": "scan@example.com",
            ]),
            stdinPath: stdinPath, stdoutPath: directory.file("\(name).stdout"),
            stderrPath: directory.file("\(name).stderr")
        )
        let exitCode = await child.waitForExit(timeout: timeout)
        if exitCode == nil { await child.stop(grace: .seconds(2)) }
        return Clients.Run(
            exitCode: exitCode,
            stdout: (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        )
    }

    // MARK: Questions about the canary

    /// Whether `text` holds the canary or its random part.
    func containsCanary(_ text: String) -> Bool {
        text.contains(canary) || text.contains(String(canary.dropFirst("tpcanary-".count)))
    }

    /// The canary's length, which a configured-token preview shows.
    var canaryLength: Int { canary.utf8.count }

    private func checkNoLeak(sourceLocation: SourceLocation) {
        let needles = [Data(canary.utf8), Data(canary.dropFirst("tpcanary-".count).utf8)]
        for path in directory.allFiles() where !plantedFiles.contains(path) {
            guard let contents = FileManager.default.contents(atPath: path) else { continue }
            let relative = String(path.dropFirst(directory.path.count + 1))
            #expect(
                !needles.contains { contents.range(of: $0) != nil }, "the canary leaked into \(relative)",
                sourceLocation: sourceLocation
            )
        }
    }

    enum ScanFixtureError: Error, CustomStringConvertible {
        case gitFailed(String, String)

        var description: String {
            switch self {
            case .gitFailed(let command, let stderr): "git \(command) failed: \(stderr.suffix(800))"
            }
        }
    }
}
