import ArgumentParser
import TokenProxyCore

/// `tokenproxy check`: validates the configuration and resolves every credential source, printing no value.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration and resolve every credential source without printing a value."
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("Fail (exit 1) naming configured credentials unused for DAYS days.", valueName: "DAYS"))
    var stale: Int?

    func run() throws {
        try Self.failingCleanly {
            let configuration = try options.load()
            let store = try CredentialStore(configuration: configuration)
            print("configuration: \(configuration.file ?? "built-in defaults")")
            print("listen: \(configuration.listen)")
            if let listenTLS = configuration.listenTLS {
                let mode = listenTLS.clientCAPath == nil ? "no client certificates" : "client certificates optional"
                print("listen_tls: \(listenTLS.listen) (\(mode))")
            }
            let listeners = [("listen", configuration.listen)]
                + (configuration.listenTLS.map { [("listen_tls.listen", $0.listen)] } ?? [])
            if let refusal = ListenerExposure.refusal(
                listeners: listeners, hasClients: !configuration.clients.isEmpty, insecureOpen: false
            ) {
                print("notice: without --insecure-open, serve stops with: \(refusal)")
            }
            for credential in configuration.credentials {
                let loaded = store.secret(named: credential.name)
                let state = loaded.map { "ok (\($0.count) bytes)" } ?? "absent (optional)"
                print("credential \(credential.name): \(credential.source) \(state)")
            }
            for notice in store.notices { print("notice: \(notice)") }
            print("rules: \(store.rules.rules.count) of \(configuration.rules.count) active")
            _ = try ClientAccess(configuration: configuration, resolver: SecretResolver())
            for client in configuration.clients {
                print("client \(client.name): \(client.summary)")
            }
            try Self.checkLifecycle(configuration, staleDays: stale)
        }
    }
}
