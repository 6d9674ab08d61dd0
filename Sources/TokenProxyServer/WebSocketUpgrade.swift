import NIOHTTP1

/// Recognises an HTTP/1.1 request to switch to the WebSocket protocol (RFC 6455 §4.1).
enum WebSocketUpgrade {
    /// The `Upgrade` value to send on when `head` asks for WebSocket with `Connection: upgrade`; otherwise `nil`.
    static func requested(by head: HTTPRequestHead) -> String? {
        guard head.version.major == 1, head.version.minor >= 1 else { return nil }
        let connection = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        guard connection.contains("upgrade") else { return nil }
        guard let upgrade = head.headers["upgrade"].first, upgrade.lowercased().contains("websocket") else {
            return nil
        }
        return upgrade
    }
}
