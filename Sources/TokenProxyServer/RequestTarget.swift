import NIOHTTP1
import TokenProxyCore

/// Where one request goes and how it is rewritten, or why the proxy refuses it.
struct RequestTarget {
    /// The upstream to send it to.
    var endpoint: UpstreamEndpoint
    /// The host and port rules are matched against (normalised host).
    var host: String
    var port: Int
    /// The origin-form target (`/path?query`) sent upstream.
    var originForm: String
    /// The `Host` header to send, when it must be rewritten (absolute-form requests).
    var hostHeader: String?

    /// The path without its query string, as recorded and matched by rules.
    var path: String { UsageEvent.pathWithoutQuery(originForm) }

    /// A request the proxy answers itself.
    struct Refusal: Error {
        var status: HTTPResponseStatus
        var reason: String
    }

    /// Resolves a request read inside an intercepted CONNECT tunnel to `authority`.
    ///
    /// The request may only go where the tunnel goes: its `Host` (and an absolute-form target, if used) must name
    /// the CONNECT host and port, and the TLS server name the client sent must too. Otherwise a client could ask for
    /// `api.github.com` in CONNECT and aim the injected token at another host in `Host`.
    ///
    /// `connectHost` (`HostPattern.normalize(authority.host)`) and `authorityText` (`authority.description`) are
    /// passed when the caller has them already: a session computes them once for all its requests.
    static func intercepted(
        _ head: HTTPRequestHead, authority: HostPort, serverNameMismatch: String?, connectHost: String? = nil,
        authorityText: String? = nil
    ) throws(Refusal) -> RequestTarget {
        let connectHost = connectHost ?? HostPattern.normalize(authority.host)
        if let serverName = serverNameMismatch {
            throw Refusal(
                status: .misdirectedRequest,
                reason: "TLS server name '\(serverName)' does not match the CONNECT target \(authority)"
            )
        }
        var originForm = head.uri
        if !originForm.hasPrefix("/") {
            guard let absolute = AbsoluteTarget(head.uri), absolute.scheme == "https" else {
                throw Refusal(status: .badRequest, reason: "request target '\(head.uri.prefix(100))' is not a path")
            }
            guard HostPattern.normalize(absolute.authority.host) == connectHost, absolute.authority.port == authority.port
            else {
                throw Refusal(
                    status: .misdirectedRequest,
                    reason: "request URL names \(absolute.authority), not the CONNECT target \(authority)"
                )
            }
            originForm = absolute.originForm
        }
        let hosts = head.headers["host"]
        guard hosts.count == 1 else {
            throw Refusal(status: .badRequest, reason: "a request needs exactly one Host header, got \(hosts.count)")
        }
        try checkHostHeader(
            hosts[0], authority: authority, connectHost: connectHost,
            usualSpelling: authorityText ?? authority.description
        )
        return RequestTarget(
            endpoint: UpstreamEndpoint(host: authority.host, port: authority.port, usesTLS: true),
            host: connectHost, port: authority.port, originForm: originForm, hostHeader: nil
        )
    }

    /// Refuses a `Host` value that does not name the CONNECT target. `usualSpelling` is the target as `host:port`:
    /// what clients nearly always send, accepted without parsing.
    private static func checkHostHeader(
        _ value: String, authority: HostPort, connectHost: String, usualSpelling: String
    ) throws(Refusal) {
        if value == usualSpelling || (authority.port == 443 && value == authority.host) { return }
        guard let hostHeader = HostPort(parsing: value, defaultPort: 443) else {
            throw Refusal(status: .badRequest, reason: "Host header '\(value.prefix(100))' is not HOST[:PORT]")
        }
        guard HostPattern.normalize(hostHeader.host) == connectHost, hostHeader.port == authority.port else {
            throw Refusal(
                status: .misdirectedRequest,
                reason: "Host header '\(value.prefix(100))' does not match the CONNECT target \(authority)"
            )
        }
    }

    /// Resolves an absolute-form `http://` request sent to the proxy directly.
    static func forwardProxy(_ head: HTTPRequestHead) throws(Refusal) -> RequestTarget {
        guard let absolute = AbsoluteTarget(head.uri) else {
            throw Refusal(
                status: .badRequest,
                reason: "this is a proxy: send CONNECT host:port, or a request with an absolute http:// URL"
            )
        }
        guard absolute.scheme == "http" else {
            throw Refusal(status: .badRequest, reason: "\(absolute.scheme):// URLs must be tunnelled with CONNECT")
        }
        let host = HostPattern.normalize(absolute.authority.host)
        return RequestTarget(
            endpoint: UpstreamEndpoint(host: host, port: absolute.authority.port, usesTLS: false),
            host: host, port: absolute.authority.port,
            originForm: absolute.originForm, hostHeader: absolute.authorityText
        )
    }
}

/// An absolute-form request target: `scheme://authority/path?query`.
struct AbsoluteTarget {
    var scheme: String
    var authority: HostPort
    var authorityText: String
    var originForm: String

    /// Parses `http://` and `https://` URLs. User info (`user:pass@`) is dropped: it has no business in a proxied
    /// request, and what stands after it is the host the client actually reaches.
    init?(_ uri: String) {
        guard let separator = uri.range(of: "://") else { return nil }
        let scheme = uri[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = uri[separator.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authorityText = rest[..<authorityEnd]
        if let at = authorityText.lastIndex(of: "@") {
            authorityText = authorityText[authorityText.index(after: at)...]
        }
        guard let authority = HostPort(parsing: authorityText, defaultPort: scheme == "https" ? 443 : 80),
            authority.port > 0
        else { return nil }
        var path = String(rest[authorityEnd...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        self.scheme = scheme
        self.authority = authority
        self.authorityText = String(authorityText)
        self.originForm = path
    }
}
