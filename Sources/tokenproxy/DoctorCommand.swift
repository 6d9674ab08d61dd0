import ArgumentParser
import Foundation
import TokenProxyCA

/// `tokenproxy doctor`: checks that this shell's programs will go through the proxy and trust it.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this environment: proxy variables, CA trust of curl/python/node/git, proxy reachable, clock.",
        discussion: """
            Run it in the shell (or container) your programs run in. It looks at the variables each runtime reads \
            (HTTPS_PROXY; CURL_CA_BUNDLE/SSL_CERT_FILE for curl, REQUESTS_CA_BUNDLE for Python requests, \
            NODE_EXTRA_CA_CERTS for Node, GIT_SSL_CAINFO for git, else the system store) and checks that the file \
            they name holds this proxy's CA; it connects to the proxy but sends no request. Prints what to fix; \
            exit status 1 when something is wrong.
            """
    )

    @OptionGroup var location: CACommand.Location

    @Flag(help: "Print the findings as JSON instead of lines.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print only what is wrong.")
    var quiet = false

    func run() throws {
        let report = try Self.failingCleanly { () throws -> FindingReport in
            let paths = try location.paths()
            guard CertificateAuthority.exists(at: paths) else {
                throw CLIFailure(
                    "no CA in \(absolutePath(paths.directory)); start 'tokenproxy serve' once (it creates one), or "
                        + "pass the proxy's CA directory with --dir"
                )
            }
            let checks = DoctorChecks(
                environment: ProcessInfo.processInfo.environment,
                authority: try CertificateAuthority.load(paths: paths),
                now: Date()
            )
            return FindingReport(
                findings: checks.findings(), heading: ["proxy CA: \(absolutePath(paths.certificate))"]
            )
        }
        try Self.failingCleanly { try report.print(json: json, quiet: quiet) }
        if report.hasErrors { throw ExitCode.failure }
    }
}
