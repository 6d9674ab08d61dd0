import ArgumentParser
import Foundation

/// `tokenproxy revoke`: takes credentials out of service on the running proxy, at once and until unrevoked.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Take a credential out of service on the running proxy, until 'tokenproxy unrevoke'.",
        discussion: """
            Every request that starts afterwards and would use it gets 403 'credential revoked' and an audit \
            record; nothing is sent upstream. The revocation is kept in the state store (audit.store) and survives \
            reloads and restarts. --all is the incident kill switch: every configured credential.
            """
    )

    @Argument(help: "The credentials to revoke.")
    var names: [String] = []

    @Flag(help: "Revoke every configured credential.")
    var all = false

    @Option(help: ArgumentHelp("Why (recorded, and shown to refused clients).", valueName: "TEXT"))
    var reason: String?

    @OptionGroup var admin: AdminOptions

    func validate() throws {
        guard all != !names.isEmpty else { throw ValidationError("name the credentials to revoke, or pass --all") }
    }

    func run() async throws {
        var items = names.map { URLQueryItem(name: "credential", value: $0) }
        if all { items = [URLQueryItem(name: "all", value: "1")] }
        if let reason { items.append(URLQueryItem(name: "reason", value: reason)) }
        let path = AdminOptions.path("/revoke", items)
        let answer = try await Self.failingCleanly(async: { try await admin.send(.POST, path) })
        Self.printAnswer(answer)
    }

    /// Prints the admin endpoint's lines: warnings to stderr, the rest to stdout.
    static func printAnswer(_ answer: String) {
        for line in answer.split(separator: "\n") {
            if line.hasPrefix("warning:") {
                printError("tokenproxy: \(line)")
            } else {
                print(line)
            }
        }
    }
}
