/// Whether `serve` may open its listeners: a listener other machines can reach hands every configured token to
/// anyone who reaches it, unless clients must authenticate.
public enum ListenerExposure {
    /// Why `serve` must refuse to start, or `nil` when it may.
    ///
    /// - Parameters:
    ///   - listeners: each proxy listener with the setting that named it (`listen`, `listen_tls.listen`, `--listen`).
    ///   - hasClients: whether `clients:` are configured (every request then authenticates).
    ///   - insecureOpen: `--insecure-open`: the operator vouches for the network.
    public static func refusal(
        listeners: [(setting: String, address: HostPort)], hasClients: Bool, insecureOpen: Bool
    ) -> String? {
        guard !hasClients, !insecureOpen else { return nil }
        guard let exposed = listeners.first(where: { !$0.address.isLoopback }) else { return nil }
        return "refusing to listen on \(exposed.address) (\(exposed.setting)): it is not a loopback address and no "
            + "clients: are configured, so every machine that can reach it could use every token; configure clients: "
            + "(keys or client certificates), listen on 127.0.0.1, or pass --insecure-open if the network itself is "
            + "trusted"
    }
}
