import NIOCore
import NIOHTTP1

/// Where the load goes: an `https://` origin, reached directly or through an HTTP proxy's `CONNECT`.
struct LoadTarget: Sendable {
    /// The origin's host (a name or an IP literal) and port, as the `CONNECT` line and `Host` header name them.
    var host: String
    var port: Int
    /// The request target of every `GET`.
    var path: String
    /// The proxy to `CONNECT` through, or `nil` for a direct connection.
    var proxy: (host: String, port: Int)?

    /// Parses `https://HOST:PORT/PATH` and an optional `HOST:PORT` proxy; the error names what is wrong.
    init(url: String, proxy: String?) throws(LoadError) {
        let prefix = "https://"
        guard url.hasPrefix(prefix) else { throw LoadError("--url must start with https://, got '\(url)'") }
        let rest = url.dropFirst(prefix.count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = try Self.hostPort(String(rest[..<slash]), defaultPort: 443, option: "--url")
        host = authority.host
        port = authority.port
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let proxy {
            self.proxy = try Self.hostPort(proxy, defaultPort: nil, option: "--proxy")
        }
    }

    /// The `Host` header / `CONNECT` authority form of the origin.
    var authority: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether the host is an IP literal, which TLS must not send as SNI.
    var hostIsIPLiteral: Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// The head of every keep-alive `GET`, built once.
    var requestHead: HTTPRequestHead {
        HTTPRequestHead(
            version: .http1_1, method: .GET, uri: path,
            headers: ["Host": authority, "User-Agent": "tokenproxy-loadgen"]
        )
    }

    /// The bytes of the `CONNECT` request sent to the proxy.
    func connectBytes(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(string: "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n\r\n")
    }

    private static func hostPort(_ text: String, defaultPort: Int?, option: String) throws(LoadError) -> (
        host: String, port: Int
    ) {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : nil
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw LoadError("\(option) needs a host, got '\(text)'") }
        let port: Int?
        if let portText { port = Int(portText) } else { port = defaultPort }
        guard let port, (1...65535).contains(port) else {
            throw LoadError("\(option) needs HOST:PORT with a port from 1 to 65535, got '\(text)'")
        }
        return (String(host), port)
    }
}

/// A bad argument or a setup failure, with a message that names it.
struct LoadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
