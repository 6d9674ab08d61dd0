import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Operating a running proxy the way a team would: its admin endpoint through the real `tokenproxy` CLI, its
/// configuration file rewritten in place, and signals.
extension ProxyFixture {
    /// The admin port `proxy` printed at startup (`serve --admin-listen 127.0.0.1:0`).
    func adminPort(of proxy: ProxyProcess? = nil) async throws -> Int {
        let stdoutPath = (proxy ?? self.proxy).stdoutPath
        for _ in 0..<100 {
            let output = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/admin endpoint on http://127\.0\.0\.1:([0-9]+)/#),
                let port = Int(match.1)
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LifecycleFixtureError(description: "the proxy did not print its admin endpoint")
    }

    /// Runs `tokenproxy COMMAND ARGS… --admin 127.0.0.1:PORT` against the running proxy's admin endpoint.
    func operate(_ arguments: [String], adminPort port: Int) async throws -> Clients.Run {
        try await runTokenproxy(arguments + ["--admin", "127.0.0.1:\(port)"])
    }

    /// Rewrites the running proxy's configuration file with `configuration` (atomically: written beside, renamed
    /// over), so a reload reads either the old file or the new one.
    func rewriteConfiguration(_ configuration: ProxyConfiguration) throws {
        let text = configuration.yaml(in: directory, upstreamBundle: certificates.authorityPath)
        let temporary = try directory.write(text, to: "tokenproxy.yaml.new")
        guard rename(temporary, proxy.configPath) == 0 else {
            let reason = String(cString: strerror(errno))
            throw LifecycleFixtureError(description: "cannot replace \(proxy.configPath): \(reason)")
        }
    }

    /// Sends `signal` to the running proxy.
    func signalProxy(_ signal: Int32) {
        kill(proxy.pid, signal)
    }

    struct LifecycleFixtureError: Error, CustomStringConvertible {
        var description: String
    }
}
