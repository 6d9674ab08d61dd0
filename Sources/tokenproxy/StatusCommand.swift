import ArgumentParser
import Foundation

/// `tokenproxy status`: what the running proxy serves with, from its admin endpoint's `/status`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running proxy's credentials (active, revoked, expired…), rules and recorder health."
    )

    @Flag(help: "Print the admin endpoint's JSON document instead.")
    var json = false

    @OptionGroup var admin: AdminOptions

    func run() async throws {
        let body = try await Self.failingCleanly(async: { try await admin.send(.GET, "/status") })
        guard !json else {
            print(body, terminator: "")
            return
        }
        let document = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        let listen = document["listen"] as? String ?? "?"
        let uptime = document["uptime_seconds"] as? Int ?? 0
        print("tokenproxy \(document["version"] as? String ?? "?") on \(listen), up \(uptime) s")
        for credential in document["credentials"] as? [[String: Any]] ?? [] {
            print("credential " + Self.describe(credential))
        }
        print("rules: \((document["rules"] as? [Any])?.count ?? 0) active")
        if let recorder = document["recorder"] as? [String: Any] {
            let healthy = recorder["healthy"] as? Bool ?? false
            print("recorder: \(healthy ? "healthy" : "failing: \(recorder["failure"] as? String ?? "?")")")
        }
    }

    /// One credential's line: name, state and reason, window, rotation.
    static func describe(_ credential: [String: Any]) -> String {
        var line = "\(credential["name"] as? String ?? "?"): \(credential["state"] as? String ?? "active")"
        if let reason = credential["reason"] as? String, credential["state"] as? String == "revoked" {
            line += " (\(reason))"
        }
        if credential["loaded"] as? Bool == false { line += ", not loaded" }
        if let expires = credential["expires"] as? String { line += ", expires \(expires)" }
        if let notBefore = credential["not_before"] as? String { line += ", not before \(notBefore)" }
        if let previous = credential["previous"] as? String {
            line += ", previous value (\(previous)) used \(credential["previous_uses"] as? Int ?? 0) times"
            if let last = credential["previous_last_used"] as? String { line += ", last \(last)" }
        }
        if credential["rotation_due"] as? Bool == true { line += ", ROTATION DUE" }
        return line
    }
}
