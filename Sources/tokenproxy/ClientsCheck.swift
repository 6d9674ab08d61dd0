import Foundation
import TokenProxyCore

/// `check`'s view of who may use the proxy: the TLS listener, each client, whether every client key resolves, and
/// whether `serve` would refuse an exposed listener without clients.
struct ClientsCheck: CheckSource {
    func findings(in context: CheckContext) -> [CheckFinding] {
        let configuration = context.configuration
        var findings: [CheckFinding] = []
        if let listenTLS = configuration.listenTLS {
            let mode = listenTLS.clientCAPath == nil ? "no client certificates" : "client certificates optional"
            findings.append(CheckFinding(.ok, check: "listen", "listen_tls: \(listenTLS.listen) (\(mode))"))
        }
        let listeners = [("listen", configuration.listen)]
            + (configuration.listenTLS.map { [("listen_tls.listen", $0.listen)] } ?? [])
        if let refusal = ListenerExposure.refusal(
            listeners: listeners, hasClients: !configuration.clients.isEmpty, insecureOpen: false
        ) {
            findings.append(
                CheckFinding(.warning, check: "listen", "without --insecure-open, serve stops with: \(refusal)")
            )
        }
        do {
            _ = try ClientAccess(configuration: configuration, resolver: SecretResolver())
        } catch {
            findings.append(CheckFinding(.error, check: "client", "\(error)"))
            return findings
        }
        for client in configuration.clients {
            findings.append(CheckFinding(.ok, check: "client", "client \(client.name): \(client.summary)"))
        }
        return findings
    }
}
