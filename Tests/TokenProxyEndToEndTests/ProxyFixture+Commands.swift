import Foundation
import Testing

/// Running other `tokenproxy` commands (`run`, `env`, `doctor`, `ca …`) beside the fixture's `serve`.
extension ProxyFixture {
    /// A copy of the proxy's config for a second proxy (`tokenproxy run`): same CA, rules and upstream trust, but
    /// its own audit log and usage store, since the running `serve` holds the lock on the fixture's.
    func secondProxyConfiguration(label: String = "run") throws -> String {
        let text = try String(contentsOfFile: proxy.configPath, encoding: .utf8)
        let adjusted =
            text
            .replacingOccurrences(of: directory.file("audit.jsonl"), with: directory.file("\(label)-audit.jsonl"))
            .replacingOccurrences(of: directory.file("usage.db"), with: directory.file("\(label)-usage.db"))
        return try directory.write(adjusted, to: "\(label).yaml")
    }

    /// Starts `tokenproxy ARGUMENTS` with the proxy's environment plus `extra`; output goes under `clients/`.
    func startTokenproxy(_ arguments: [String], environment extra: [String: String] = [:]) throws -> ChildProcess {
        let stem = "clients/tokenproxy-\(arguments.first ?? "")-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try directory.subdirectory("clients")
        return try ChildProcess(
            executable: try ProxyProcess.binaryPath(),
            arguments: arguments,
            environment: ChildProcess.cleanEnvironment(proxyEnvironment.merging(extra) { _, new in new }),
            stdoutPath: directory.file("\(stem).stdout"),
            stderrPath: directory.file("\(stem).stderr")
        )
    }

    /// Runs `tokenproxy ARGUMENTS` to the end (killed after `timeout`) with the proxy's environment plus `extra`.
    func runTokenproxy(
        _ arguments: [String], environment extra: [String: String], timeout: Duration = .seconds(60)
    ) async throws -> Clients.Run {
        let child = try startTokenproxy(arguments, environment: extra)
        let exitCode = await child.waitForExit(timeout: timeout)
        if exitCode == nil {
            await child.stop(grace: .seconds(2))
        }
        return Clients.Run(
            exitCode: exitCode,
            stdout: (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        )
    }

    /// Waits (up to `timeout`) until the file at `path` exists and is not empty.
    func waitForFile(_ path: String, timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: path), !data.isEmpty { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// The one way tests reach a loopback origin through `tokenproxy run`: its NO_PROXY lists loopback names (local
/// services are reached directly), so the command unsets it first with `env -u`, as a user would for a local server.
enum ThroughProxy {
    /// `env -u NO_PROXY -u no_proxy` + `command`.
    static func command(_ command: [String]) -> [String] {
        ["env", "-u", "NO_PROXY", "-u", "no_proxy"] + command
    }
}
