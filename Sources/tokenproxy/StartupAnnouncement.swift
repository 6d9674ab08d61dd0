import Foundation
import NIOCore
import Synchronization
import TokenProxyCore
import TokenProxyServer

/// Prints what a user needs once the proxy is listening: the address, the CA, the active rules and the export lines.
final class StartupAnnouncement: Sendable {
    private let prepared = Mutex<[String]?>(nil)
    private let bound = Mutex<SocketAddress?>(nil)

    /// Records what to say; printed once the listener is bound (whichever of the two happens last prints).
    func prepare(configuration: ProxyConfiguration, assembly: ProxyAssembly) {
        var lines: [String] = []
        let caPath = absolute(assembly.authority.paths.certificate)
        lines.append(
            "CA certificate: \(caPath)" + (assembly.createdAuthority ? " (created now)" : "")
                + " SHA-256 \(assembly.authority.fingerprint.prefix(23))…"
        )
        let rules = assembly.credentials.rules.rules
        if rules.isEmpty {
            lines.append("rules: none active; every CONNECT is tunnelled untouched")
        } else {
            lines.append("rules: \(rules.count) active")
            for rule in rules {
                let port = rule.port.map { ":\($0)" } ?? ""
                let path = rule.path?.description ?? ""
                lines.append("  \(rule.host)\(port)\(path) ← \(rule.credential) (\(rule.injection.summary))")
            }
        }
        for notice in assembly.credentials.notices {
            lines.append("notice: \(notice)")
        }
        if let log = configuration.auditLogPath {
            lines.append("usage log: \(absolute(log))")
        }
        let bundle = assembly.trustBundlePath.map(absolute) ?? caPath
        lines.append("Point your clients at it:")
        lines.append("  export HTTPS_PROXY=http://ADDRESS HTTP_PROXY=http://ADDRESS")
        lines.append(
            "  export SSL_CERT_FILE=\(bundle) REQUESTS_CA_BUNDLE=\(bundle) CURL_CA_BUNDLE=\(bundle) "
                + "GIT_SSL_CAINFO=\(bundle) NODE_EXTRA_CA_CERTS=\(caPath)"
        )
        prepared.withLock { $0 = lines }
        printIfReady()
    }

    /// Records the bound address.
    func listening(on address: SocketAddress) {
        bound.withLock { $0 = address }
        printIfReady()
    }

    /// Says where the admin endpoint listens (it may bind before or after the proxy).
    func adminListening(on address: SocketAddress) {
        let host = address.ipAddress ?? "127.0.0.1"
        let authority = (host.contains(":") ? "[\(host)]" : host) + ":\(address.port ?? 0)"
        FileHandle.standardOutput.write(
            Data("admin endpoint on http://\(authority) (/healthz /readyz /metrics /status)\n".utf8)
        )
    }

    /// Says where the TLS listener (`listen_tls:`) listens; clients use it as an `https://` proxy URL.
    func tlsListening(on address: SocketAddress) {
        let host = address.ipAddress ?? "127.0.0.1"
        let authority = (host.contains(":") ? "[\(host)]" : host) + ":\(address.port ?? 0)"
        FileHandle.standardOutput.write(Data("TLS proxy listener on https://\(authority)\n".utf8))
    }

    private func printIfReady() {
        guard let address = bound.withLock({ $0 }) else { return }
        guard let lines = prepared.withLock({ value -> [String]? in
            defer { value = nil }
            return value
        }) else { return }
        let host = address.ipAddress ?? "127.0.0.1"
        let authority = (host.contains(":") ? "[\(host)]" : host) + ":\(address.port ?? 0)"
        var text = "tokenproxy listening on \(authority)\n"
        for line in lines {
            text += line.replacingOccurrences(of: "ADDRESS", with: authority) + "\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
