import NIOCore
import NIOHTTP1
import TokenProxyCore

/// Public doors into the per-request path, for the micro-benchmarks in `Benchmarks/` (a separate package, which
/// sees only public API). Each calls the same internal functions ``ExchangeHandler`` calls, in the same order, so a
/// benchmark measures the code that runs for real; nothing here is used by the proxy itself.
public enum HotPathProbe {
    /// Attaches `rule`'s credential to `head` as ``RequestRewriter`` does for a request; returns whether it attached.
    public static func inject(
        _ rule: Rule, secret: Secret, placeholders: Placeholders, head: inout HTTPRequestHead
    ) -> Bool {
        var body: ByteBuffer?
        return RequestRewriter.apply(
            rule, material: .secret(secret), placeholders: placeholders, head: &head, body: &body
        ).attached
    }

    /// The head work for one request read inside an intercepted tunnel to `authority`: target check, hop-by-hop
    /// removal, framing, rule plan and, when `store` holds the rule's credential, injection. Returns the head that
    /// would go upstream, or `nil` when the proxy would refuse the request.
    public static func prepareIntercepted(
        _ head: HTTPRequestHead, authority: HostPort, store: CredentialStore, limits: ProxyLimits
    ) -> HTTPRequestHead? {
        guard let target = try? RequestTarget.intercepted(head, authority: authority, serverNameMismatch: nil) else {
            return nil
        }
        var headers = head.headers
        let wasChunked = headers.isChunkedTransferEncoding
        headers.removeHopByHopHeaders()
        MessageFraming.frameRequest(&headers, wasChunked: wasChunked)
        var draft = HTTPRequestHead(version: .http1_1, method: head.method, uri: target.originForm, headers: headers)
        guard case .proceed(let plan) = ExchangePlan.make(for: draft, target: target, store: store, limits: limits)
        else { return nil }
        if let rule = plan.rule, let secret = store.secret(named: rule.credential) {
            _ = inject(rule, secret: secret, placeholders: store.placeholders, head: &draft)
        }
        return draft
    }
}
