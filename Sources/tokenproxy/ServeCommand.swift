import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import NIOCore
import ServiceLifecycle
import TokenProxyCore
import TokenProxyServer

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `tokenproxy serve`: runs the proxy until SIGINT or SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the proxy.",
        discussion: "Creates the CA on first run, then prints the listen address and the export lines clients need."
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Listen address HOST:PORT; overrides the configuration. Port 0 picks one. A non-loopback address needs "
                + "clients: in the configuration, or --insecure-open."
        )
    )
    var listen: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: "Admin endpoint HOST:PORT (loopback only); overrides admin.listen. Port 0 picks one.")
    var adminListen: String?

    @Option(name: .long, help: "Log format on stderr: human (one line per request) or json (one object per line).")
    var logFormat: LogFormat = .human

    @Flag(name: .long, help: "Keep core dumps enabled (for debugging only: a core file would hold the tokens).")
    var allowCoreDumps = false

    @Flag(
        name: .long,
        help: "Listen on a non-loopback address without clients: (anyone who reaches the port can use every token)."
    )
    var insecureOpen = false

    func run() async throws {
        if !allowCoreDumps {
            try Self.failingCleanly { try ProcessHardening.disableCoreDumps() }
        }
        let configuration = try Self.failingCleanly { try options.load() }
        let address = try Self.failingCleanly { () throws -> HostPort in
            guard let listen else { return configuration.listen }
            do throws(ConfigurationError) {
                return try ConfigurationLoader.parseListenOverride(listen)
            } catch {
                throw CLIFailure(error.description)
            }
        }
        try Self.failingCleanly {
            if let refusal = ListenerExposure.refusal(
                listeners: [(listen == nil ? "listen" : "--listen", address)]
                    + (configuration.listenTLS.map { [("listen_tls.listen", $0.listen)] } ?? []),
                hasClients: !configuration.clients.isEmpty, insecureOpen: insecureOpen
            ) {
                throw CLIFailure(refusal)
            }
        }
        LogFormat.bootstrap(logFormat, level: logLevel)
        let adminAddress = try Self.failingCleanly { () throws -> HostPort? in
            guard let adminListen else { return nil }
            do throws(ConfigurationError) {
                return try ConfigurationLoader.parseListen(adminListen, at: SourceLocation(file: "--admin-listen"))
            } catch {
                throw CLIFailure(error.description)
            }
        }
        let logger = Logger(label: "tokenproxy")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let announcement = StartupAnnouncement()
        let assembly = try Self.failingCleanly {
            try ProxyAssembly.make(
                configuration: configuration, listen: address, logger: logger, adminListen: adminAddress,
                metricsRegistry: registry, onAdminListening: { announcement.adminListening(on: $0) },
                onTLSListening: { announcement.tlsListening(on: $0) },
                requestLogFormat: logFormat.requestFormat
            ) { bound in
                announcement.listening(on: bound)
            }
        }
        announcement.prepare(configuration: configuration, assembly: assembly)

        let group = ServiceGroup(
            configuration: .init(
                services: assembly.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}

extension ConfigurationLoader {
    /// Parses a `--listen` value with the same rules as the `listen:` setting.
    static func parseListenOverride(_ text: String) throws(ConfigurationError) -> HostPort {
        try parseAddress(text, at: SourceLocation(file: "--listen"))
    }
}
