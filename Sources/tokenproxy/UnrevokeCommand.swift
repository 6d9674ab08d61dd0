import ArgumentParser
import Foundation

/// `tokenproxy unrevoke`: puts revoked credentials back in service on the running proxy.
struct UnrevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unrevoke",
        abstract: "Put a revoked credential back in service on the running proxy."
    )

    @Argument(help: "The credentials to put back.")
    var names: [String] = []

    @Flag(help: "Lift every revocation.")
    var all = false

    @OptionGroup var admin: AdminOptions

    func validate() throws {
        guard all != !names.isEmpty else { throw ValidationError("name the credentials to unrevoke, or pass --all") }
    }

    func run() async throws {
        var items = names.map { URLQueryItem(name: "credential", value: $0) }
        if all { items = [URLQueryItem(name: "all", value: "1")] }
        let path = AdminOptions.path("/unrevoke", items)
        let answer = try await Self.failingCleanly(async: { try await admin.send(.POST, path) })
        RevokeCommand.printAnswer(answer)
    }
}
