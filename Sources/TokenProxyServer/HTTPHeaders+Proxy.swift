import NIOHTTP1
import TokenProxyCore

extension HTTPHeaders {
    /// Headers that describe one hop, never the message (RFC 9110 §7.6.1), plus the proxy's own.
    /// `Proxy-Authorization` is here so a client's proxy credentials never travel on to an origin.
    static let hopByHopNames: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te",
        "trailer", "transfer-encoding", "upgrade",
    ]

    /// Removes hop-by-hop headers and every header the `Connection` header nominates.
    mutating func removeHopByHopHeaders() {
        let nominated = self[canonicalForm: "connection"].map { $0.lowercased() }
        for name in nominated where !name.isEmpty {
            remove(name: String(name))
        }
        for name in Self.hopByHopNames {
            remove(name: name)
        }
    }

    /// Sets `name` to `value`, removing every value the client sent for it (any capitalisation) first, so a client
    /// can neither pre-empt nor double an injected header.
    mutating func replaceAll(name: String, with value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Whether the message body is chunked (the last transfer coding is `chunked`).
    var isChunkedTransferEncoding: Bool {
        guard let last = self[canonicalForm: "transfer-encoding"].last else { return false }
        return last.lowercased() == "chunked"
    }
}
