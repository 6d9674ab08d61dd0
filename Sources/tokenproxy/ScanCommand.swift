import ArgumentParser
import Foundation
import TokenProxyCore
import TokenProxyScan

/// `tokenproxy scan`: finds configured tokens (by fingerprint) and well-known token shapes in files, the git index or
/// the git history. Exit 0 when clean, 1 when something is found, 2 when the scan could not run.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find configured tokens and well-known token shapes in files, the git index or the git history.",
        discussion: """
            Configured tokens are found by comparing keyed fingerprints (a random key per run), so the scan never \
            holds or prints a value; findings show a redacted preview. Well-known shapes: GitHub, AWS key pairs, \
            Slack, Stripe live keys, OpenAI and Anthropic keys, PEM private keys, and high-entropy values assigned \
            to *_TOKEN, *_KEY, *_SECRET or *PASSWORD* names.

            Known false positives go in an allowlist (default .tokenproxy-scan-allow): a finding's fingerprint, \
            path:line, or a glob, one per line.

            Exit status: 0 nothing found, 1 something found, 2 the scan could not run (usage, config, git).
            """
    )

    @Argument(
        parsing: .allUnrecognized,
        help: "Files or directories to scan (default: .). With --staged, --history or --install-hook: the repository."
    )
    var paths: [String] = []

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Scan the blobs staged in the git index (what the next commit holds), as a pre-commit hook does.")
    var staged = false

    @Flag(help: "Scan every blob reachable in the git history, each once, naming the commit that introduced it.")
    var history = false

    @Flag(help: "Print the findings as JSON.")
    var json = false

    @Flag(help: "Print the findings as SARIF 2.1.0, for GitHub code scanning.")
    var sarif = false

    @Option(help: "Allowlist of known false positives (default: .tokenproxy-scan-allow when present).")
    var allowlist: String?

    @Flag(help: "Install a git pre-commit hook that runs 'tokenproxy scan --staged'.")
    var installHook = false

    @Flag(help: "With --install-hook: replace a pre-commit hook tokenproxy did not write (it is kept as a backup).")
    var force = false

    /// The exit status for a scan that could not run.
    static let errorStatus: Int32 = 2

    func run() throws {
        let status: Int32
        do {
            status = try execute()
        } catch let error as ScanError {
            printError("tokenproxy: error: \(error.description)")
            throw ExitCode(Self.errorStatus)
        } catch let error as CLIFailure {
            printError("tokenproxy: error: \(error.description)")
            throw ExitCode(Self.errorStatus)
        } catch let error as ConfigurationErrors {
            for item in error.errors { printError("tokenproxy: error: \(item)") }
            throw ExitCode(Self.errorStatus)
        }
        if status != 0 { throw ExitCode(status) }
    }

    private func execute() throws -> Int32 {
        let mode = try validatedMode()
        if installHook { return try installPreCommitHook(mode) }
        let scanner = try contentScanner()
        let result = try SecretScanner(scanner: scanner, allowlist: try loadAllowlist(mode)).run(mode)
        if json {
            print(try ScanReport.json(result), terminator: "")
        } else if sarif {
            let version = TokenProxyCommand.configuration.version
            print(try SARIFReport.document(result, version: version), terminator: "")
        } else {
            print(ScanReport.text(result), terminator: "")
        }
        printError("tokenproxy scan: " + ScanReport.summary(result))
        return result.findings.isEmpty ? 0 : 1
    }

    /// The mode the flags ask for; usage mistakes are errors (exit 2).
    private func validatedMode() throws(ScanError) -> SecretScanner.Mode {
        if let unknown = paths.first(where: { $0.hasPrefix("-") }) {
            throw ScanError("unknown option '\(unknown)'; see 'tokenproxy scan --help'")
        }
        if staged && history { throw ScanError("--staged and --history cannot be combined; pick one") }
        if json && sarif { throw ScanError("--json and --sarif cannot be combined; pick one") }
        if force && !installHook { throw ScanError("--force only applies to --install-hook") }
        if installHook && (staged || history || json || sarif) {
            throw ScanError("--install-hook installs the hook and scans nothing; run it without other flags")
        }
        guard staged || history || installHook else { return .files(paths) }
        guard paths.count <= 1 else {
            throw ScanError("with --staged, --history or --install-hook, give at most one PATH: the repository")
        }
        let repository = paths.first ?? "."
        return history ? .history(repository: repository) : .staged(repository: repository)
    }

    /// Resolves the configured credentials, keeps only their fingerprints and lengths, and drops the values.
    private func contentScanner() throws -> ContentScanner {
        let configuration = try options.load()
        let store = try CredentialStore(configuration: configuration)
        let tokens = ConfiguredTokens(store: store)
        let absent = store.notices.count
        var line = "tokenproxy scan: looking for \(tokens.names.count) configured token"
        line += tokens.names.count == 1 ? "" : "s"
        if !tokens.names.isEmpty { line += " (\(tokens.names.joined(separator: ", ")))" }
        if absent > 0 { line += "; \(absent) optional credential\(absent == 1 ? " is" : "s are") absent" }
        printError(line)
        for notice in tokens.notices { printError("notice: \(notice)") }
        return ContentScanner(configured: tokens, placeholders: store.placeholders)
    }

    private func loadAllowlist(_ mode: SecretScanner.Mode) throws(ScanError) -> ScanAllowlist {
        if let allowlist { return try ScanAllowlist(contentsOf: allowlist) }
        let path = ScanAllowlist.defaultPath(for: mode)
        guard FileManager.default.fileExists(atPath: path) else { return ScanAllowlist() }
        return try ScanAllowlist(contentsOf: path)
    }

    private func installPreCommitHook(_ mode: SecretScanner.Mode) throws(ScanError) -> Int32 {
        guard case .staged(let repository) = mode else { return Self.errorStatus }
        var arguments: [String] = []
        if let config = options.config { arguments += ["--config", Self.absolute(config)] }
        if let allowlist { arguments += ["--allowlist", Self.absolute(allowlist)] }
        let outcome = try PreCommitHook.install(
            in: repository, executable: Self.executablePath(), arguments: arguments, force: force
        )
        switch outcome {
        case .created(let path): print("installed \(path): each commit now runs 'tokenproxy scan --staged'")
        case .updated(let path): print("updated \(path)")
        case .replaced(let path, let backup): print("replaced \(path); the previous hook is \(backup)")
        }
        return 0
    }

    /// This binary's absolute path, for the hook to call.
    private static func executablePath() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        return absolute(CommandLine.arguments[0])
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
