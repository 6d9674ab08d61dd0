import ArgumentParser
import Foundation
import TokenProxyCore

/// `tokenproxy check`: validates the configuration and resolves every credential source, printing no value.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration and resolve every credential source without printing a value.",
        discussion: """
            Reports, as findings with file:line: configuration errors; each credential source (its size, never its \
            value); each rule host's DNS lookup (a warning when it fails: offline looks the same as a typo); \
            rules an earlier rule always matches first; credentials no rule uses; the CA's validity; clients and \
            the TLS listener; credentials that expire within 7 days or are not valid yet; with --stale DAYS, \
            configured credentials the usage store has not seen used for DAYS days (errors). Exit status 1 \
            when any finding is an error. --json prints {"errors", "warnings", "findings": [{"severity", "check", \
            "file", "line", "message"}]} for CI.
            """
    )

    /// The checks, in the order their findings are printed. A new kind of finding is one more entry here.
    static let sources: [any CheckSource] = [
        CredentialSourcesCheck(), RuleHostsResolveCheck(), ShadowedRulesCheck(), UnusedCredentialsCheck(),
        CAExpiryCheck(), ClientsCheck(), CredentialExpiryCheck(),
    ]

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("Fail (exit 1) naming configured credentials unused for DAYS days.", valueName: "DAYS"))
    var stale: Int?

    @Flag(help: "Print the findings as JSON (for CI) instead of lines.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print only warnings and errors.")
    var quiet = false

    @Flag(name: .customLong("no-dns"), help: "Do not look up rule hosts (offline, or hosts only a VPN resolves).")
    var noDNS = false

    func validate() throws {
        if let stale, stale < 1 { throw ValidationError("--stale takes a number of days, 1 or more; got \(stale)") }
    }

    func run() throws {
        let report: FindingReport
        do {
            let configuration = try options.load()
            let credentials = Result { () throws(ConfigurationErrors) -> CredentialStore in
                try CredentialStore(configuration: configuration)
            }
            let context = CheckContext(
                configuration: configuration, credentials: credentials, lookUpHosts: !noDNS, now: Date()
            )
            let sources = Self.sources + (stale.map { [StaleCredentialsCheck(days: $0)] } ?? [])
            var findings = sources.flatMap { $0.findings(in: context) }
            if let store = try? credentials.get() {
                findings.append(
                    CheckFinding(
                        .ok, check: "rules",
                        "rules: \(store.rules.rules.count) of \(configuration.rules.count) active"
                    )
                )
            }
            report = FindingReport(
                findings: findings,
                heading: [
                    "configuration: \(configuration.file ?? "built-in defaults")", "listen: \(configuration.listen)",
                ]
            )
        } catch let failure as CLIFailure {
            // The configuration itself does not load: that is the one finding (its text already names file:line).
            report = FindingReport(findings: [CheckFinding(.error, check: "configuration", failure.description)])
        }
        try Self.failingCleanly { try report.print(json: json, quiet: quiet) }
        if report.hasErrors { throw ExitCode.failure }
    }
}
