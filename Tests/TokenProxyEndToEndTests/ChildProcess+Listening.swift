import Foundation

extension ChildProcess {
    /// Waits until the child prints `listening on PORT` on standard output and returns the port, or `nil` when the
    /// child exits or `timeout` passes first (the caller stops it and reports its standard error).
    func awaitListeningPort(timeout: Duration = .seconds(15)) async -> Int? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let output = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/listening on ([0-9]+)/#), let port = Int(match.1) {
                return port
            }
            if !isRunning || ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
