import ArgumentParser
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import TokenProxyCore
import TokenProxyServer

/// `tokenproxy run -- CMD ARGS…`: runs one command with the proxy in front of it, then stops the proxy.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command through the proxy, started for it on a free loopback port.",
        discussion: """
            Starts the proxy on 127.0.0.1 (a free port; no admin endpoint), then runs CMD with HTTPS_PROXY, \
            HTTP_PROXY, NO_PROXY (loopback) and the CA variables of curl, Python, git, Node and the AWS CLI set, plus \
            VAR=<placeholder> for every credential with 'env_placeholder: VAR'. Variables that credential sources \
            read (env:NAME) are removed from CMD's environment, so it never sees a token. SIGINT, SIGTERM, SIGHUP \
            and SIGQUIT go to CMD; when CMD exits the proxy drains and tokenproxy exits with CMD's status (128 + the \
            signal if it was killed).

            With --attach HOST:PORT no proxy is started: CMD uses the one already running there.

            Example: GITHUB_TOKEN=… tokenproxy run -- curl https://api.github.com/user
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(
        help: ArgumentHelp(
            "Use the proxy already listening at HOST:PORT instead of starting one.", valueName: "HOST:PORT"))
    var attach: String?

    @Option(name: .long, help: "Proxy log level on stderr: trace, debug, info (one line per request), warning, error.")
    var logLevel: Logger.Level = .warning

    @Option(name: .long, help: "Proxy log format on stderr: human or json.")
    var logFormat: LogFormat = .human

    @Flag(name: .shortAndLong, help: "Print nothing of tokenproxy's own but errors.")
    var quiet = false

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after '--'.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else {
            throw ValidationError(
                "give the command after '--', for example: tokenproxy run -- curl https://api.github.com/user")
        }
    }

    func run() async throws {
        let configuration = try Self.failingCleanly { try options.load() }
        if let attach {
            let address = try Self.failingCleanly { try Self.parseAttach(attach) }
            let trust = try Self.failingCleanly { try ClientTrustFiles(configuration: configuration) }
            let status = try Self.failingCleanly {
                try ProxyReachability.require(address)
                return try Self.start(command, proxy: address, trust: trust, configuration: configuration, secrets: [])
            }
            throw ExitCode(await status())
        }
        try Self.failingCleanly { try ProcessHardening.disableCoreDumps() }
        LogFormat.bootstrap(logFormat, level: quiet ? .error : logLevel)
        let logger = Logger(label: "tokenproxy")
        var proxyConfiguration = configuration
        proxyConfiguration.adminListen = nil  // one proxy per command: no admin port to collide with `serve`'s
        let bound = AsyncStream<SocketAddress>.makeStream()
        let assembly = try Self.failingCleanly {
            try ProxyAssembly.make(
                configuration: proxyConfiguration, listen: HostPort(host: "127.0.0.1", port: 0), logger: logger,
                requestLogFormat: logFormat.requestFormat,
                reloadsOnHangup: false  // SIGHUP goes to the command
            ) { address in
                bound.continuation.yield(address)
                bound.continuation.finish()
            }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: assembly.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [],
                logger: logger
            )
        )
        let status: Int32 = try await withThrowingTaskGroup(of: Int32?.self) { tasks in
            tasks.addTask {
                // Ends the wait for the address below, also when the proxy fails before it listens.
                defer { bound.continuation.finish() }
                try await group.run()
                return nil
            }
            var address: SocketAddress?
            for await value in bound.stream { address = value }
            guard let port = address?.port else {
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                throw ExitCode.failure
            }
            let proxy = HostPort(host: "127.0.0.1", port: port)
            let waitForChild: () async -> Int32
            do {
                let trust = try ClientTrustFiles(authority: assembly.authority)
                if !quiet {
                    printError(Self.summary(proxy: proxy, assembly: assembly))
                    assembly.credentials.notices.forEach { printError("tokenproxy: notice: \($0)") }
                }
                waitForChild = try Self.start(
                    command, proxy: proxy, trust: trust, configuration: configuration,
                    secrets: assembly.credentials.secretValues
                )
            } catch {
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                _ = try Self.failingCleanly { () throws -> Int in throw error }
                throw ExitCode.failure
            }
            let status = await waitForChild()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return status
        }
        throw ExitCode(status)
    }

    /// Spawns `argv` in the client environment and returns a function that forwards signals until it exits.
    private static func start(
        _ argv: [String], proxy: HostPort, trust: ClientTrustFiles, configuration: ProxyConfiguration,
        secrets: [Secret]
    ) throws -> () async -> Int32 {
        let client = try trust.clientEnvironment(proxy: proxy, credentials: configuration.credentials)
        let environment = client.applied(
            to: ProcessInfo.processInfo.environment, credentials: configuration.credentials, secrets: secrets
        )
        let child = try ChildCommand(argv: argv, environment: environment)
        let forwarding = child.forwardSignals()
        return {
            let status = await child.exitStatus()
            forwarding.forEach { $0.cancel() }
            return status
        }
    }

    /// One line for stderr: where the proxy is and what it injects.
    private static func summary(proxy: HostPort, assembly: ProxyAssembly) -> String {
        let rules = assembly.credentials.rules.rules
        let described = rules.prefix(4).map { "\($0.host) ← \($0.credential)" }.joined(separator: ", ")
        let more = rules.count > 4 ? ", +\(rules.count - 4) more" : ""
        let what = rules.isEmpty ? "no rule active: every host is tunnelled untouched" : described + more
        return "tokenproxy: proxy on \(proxy) (\(what))"
    }

    /// Parses `--attach HOST:PORT`.
    static func parseAttach(_ text: String) throws -> HostPort {
        guard let address = HostPort(parsing: text), address.port > 0 else {
            throw CLIFailure("--attach takes HOST:PORT of a running proxy, for example 127.0.0.1:8080; got '\(text)'")
        }
        return address
    }
}
