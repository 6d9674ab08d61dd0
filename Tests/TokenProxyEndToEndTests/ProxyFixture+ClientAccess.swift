import Foundation
import Testing

extension ProxyFixture {
    /// The port of the proxy's TLS listener (`listen_tls:`), read from its startup output (waits up to 10 s).
    func tlsListenerPort() async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let output = (try? String(contentsOfFile: proxy.stdoutPath, encoding: .utf8)) ?? ""
            if let match = output.firstMatch(of: #/TLS proxy listener on https://127\.0\.0\.1:([0-9]+)/#),
                let port = Int(match.1)
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClientAccessTestError.noTLSListenerLine
    }

    /// Expects that `value` (a client key: not a token, so the fixture's canary scan does not know it) appears in no
    /// file the proxy wrote: its output, the audit log and the usage store.
    func expectNotWritten(_ value: String, what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let needle = Data(value.utf8)
        let proxyFiles = [proxy.stdoutPath, proxy.stderrPath, proxy.auditLogPath]
            + directory.allFiles().filter { $0.hasSuffix(".db") || $0.hasSuffix(".db-wal") }
        for path in proxyFiles {
            guard let contents = FileManager.default.contents(atPath: path) else { continue }
            #expect(
                contents.range(of: needle) == nil, "\(what) was written to \(path)", sourceLocation: sourceLocation
            )
        }
    }

    enum ClientAccessTestError: Error, CustomStringConvertible {
        case noTLSListenerLine

        var description: String { "tokenproxy printed no 'TLS proxy listener on https://127.0.0.1:PORT' line" }
    }
}
