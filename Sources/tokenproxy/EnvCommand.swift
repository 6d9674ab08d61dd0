import ArgumentParser
import Foundation
import TokenProxyCore

/// `tokenproxy env`: prints the variables `tokenproxy run` would set, for a shell to evaluate.
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print the variables that point a shell's programs at a running proxy.",
        discussion: """
            Prints HTTPS_PROXY, HTTP_PROXY, NO_PROXY (each also in lower case), the CA variables of curl, Python, \
            git, Node and the AWS CLI, and VAR=<placeholder> for each credential with 'env_placeholder: VAR'. No \
            value printed is a secret. Writes the CA bundle (system roots + proxy CA) beside the CA first.

            Examples: eval "$(tokenproxy env)" | tokenproxy env --fish | source | \
            tokenproxy env --powershell | Invoke-Expression
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("The proxy's address (default: listen from the configuration).", valueName: "HOST:PORT"))
    var attach: String?

    @Flag(help: "Print fish 'set -gx' lines.")
    var fish = false

    @Flag(help: "Print PowerShell '$env:NAME = …' lines.")
    var powershell = false

    func validate() throws {
        if fish && powershell { throw ValidationError("choose one of --fish and --powershell") }
    }

    func run() throws {
        try Self.failingCleanly {
            let configuration = try options.load()
            let proxy = try attach.map(RunCommand.parseAttach) ?? configuration.listen
            let trust = try ClientTrustFiles(configuration: configuration)
            let client = try trust.clientEnvironment(proxy: proxy, credentials: configuration.credentials)
            let syntax: ShellSyntax = fish ? .fish : powershell ? .powershell : .posix
            for variable in client.variables {
                print(syntax.assignment(variable.name, variable.value))
            }
        }
    }
}
