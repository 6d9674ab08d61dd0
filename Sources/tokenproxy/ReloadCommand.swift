import ArgumentParser

/// `tokenproxy reload`: makes the running proxy read its configuration and every source again.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload the running proxy's configuration and credential sources (like SIGHUP).",
        discussion: """
            The new configuration is validated completely, and every source read, before it replaces the old one; \
            requests in flight finish with the configuration they started with. An invalid configuration is \
            rejected with the same file:line errors as at startup (exit 1), and the old one keeps serving. \
            listen, admin.listen, ca, upstream, audit and timeouts take effect on restart.
            """
    )

    @OptionGroup var admin: AdminOptions

    func run() async throws {
        let answer = try await Self.failingCleanly(async: { try await admin.send(.POST, "/reload") })
        print(answer, terminator: "")
    }
}
