import ArgumentParser

/// `tokenproxy`: a local TLS-terminating proxy that attaches API tokens to outbound requests by host rule.
@main
struct TokenProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenproxy",
        abstract: "Holds API tokens in memory and attaches them to outbound requests by host rule.",
        discussion: """
            Application code never sees a token: point HTTPS_PROXY at tokenproxy, trust its CA, and it adds the \
            token to requests for the hosts its rules name. Hosts without a rule are tunnelled untouched.
            """,
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, CheckCommand.self, UsageCommand.self, AuditCommand.self, CACommand.self, SealCommand.self,
            ScanCommand.self,
            ReloadCommand.self, RevokeCommand.self, UnrevokeCommand.self, StatusCommand.self,
            RunCommand.self, EnvCommand.self, DoctorCommand.self,
        ],
        defaultSubcommand: nil
    )
}
