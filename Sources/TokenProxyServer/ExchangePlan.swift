import Foundation
import NIOHTTP1
import TokenProxyCore

/// What the proxy will do with one request, decided from its head before anything is sent: which rule applies,
/// whether the body must be buffered, or why the request is refused.
struct ExchangePlan {
    /// The rule whose credential will be attached, if any.
    var rule: Rule?
    /// When set, the whole body is buffered (up to this many bytes) before the request is sent.
    var bodyLimit: Int?
    /// A `require: true` rule covering the destination, checked again once the request is complete (a placeholder
    /// may still arrive in the body).
    var requiringRule: Rule?

    enum Decision {
        case proceed(ExchangePlan)
        case refuse(HTTPResponseStatus, String)
    }

    /// Plans `head` (hop-by-hop headers already removed) to `target` under `store`.
    static func make(
        for head: HTTPRequestHead, target: RequestTarget, store: CredentialStore, limits: ProxyLimits
    ) -> Decision {
        var rule = store.rules.firstMatch(
            host: target.host, port: target.port, path: target.path, method: head.method.rawValue
        )
        if let matched = rule, !target.endpoint.usesTLS, !matched.allowPlaintext {
            rule = nil  // a credential goes over plain HTTP only where the rule says so
        }
        if let rule, let revoked = store.lifecycle.refusal(for: rule.credential, at: Date()) {
            return .refuse(.forbidden, revoked)  // revoked, expired or not yet valid: nothing is dialled
        }
        let mentioned = RequestRewriter.placeholdersMentioned(in: head, placeholders: store.placeholders)
        if let foreign = mentioned.subtracting(rule.map { [$0.credential] } ?? []).sorted().first {
            return .refuse(.forbidden, leakRefusal(foreign, target: target))
        }
        if let rule, case .awsSigV4 = rule.injection,
            head.headers["x-amz-content-sha256"].first == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        {
            // Each chunk of such a body is signed with a key chained from the client's (dummy) signature; the proxy
            // does not re-sign chunks, and forwarding them would only fail at the server with a confusing error.
            return .refuse(
                .notImplemented,
                "signed-chunk uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) cannot be re-signed by tokenproxy; "
                    + "use unsigned payloads over HTTPS (the AWS CLI and SDKs' default for S3 over HTTPS)"
            )
        }
        let bodyLimit = rule.flatMap { RequestRewriter.bodyBufferLimit(for: $0, head: head, limits: limits) }
        let requiring = store.rules.requiringRule(host: target.host, port: target.port)
        if let requiring {
            let attaches: Bool
            if let rule {
                if case .placeholder = rule.injection {
                    // Without a placeholder in the head it can still come in a body the rule reads.
                    attaches = mentioned.contains(rule.credential) || bodyLimit != nil
                } else {
                    attaches = true
                }
            } else {
                attaches = false
            }
            if !attaches { return .refuse(.forbidden, requireRefusal(requiring, host: target.host)) }
        }
        return .proceed(ExchangePlan(rule: rule, bodyLimit: bodyLimit, requiringRule: requiring))
    }

    /// Why a request to a `require: true` destination is refused.
    static func requireRefusal(_ requiring: Rule, host: String) -> String {
        "requests to \(host) must use credential '\(requiring.credential)' through tokenproxy "
            + "(rules[\(requiring.index)] has require: true), and this one would not get it"
    }

    /// The reason to refuse a request carrying another credential's placeholder.
    static func leakRefusal(_ foreign: String, target: RequestTarget) -> String {
        "leak attempt: the placeholder of credential '\(foreign)' is not allowed for \(target.host)\(target.path); "
            + "the request was not forwarded"
    }
}

/// A request waiting to be sent: its head without the credential yet, and what it waits for.
struct Preparation {
    var head: HTTPRequestHead
    var plan: ExchangePlan
    var target: RequestTarget
    var store: CredentialStore
    var rule: Rule? { plan.rule }
    var bodyLimit: Int? { plan.bodyLimit }
    /// The whole body, when `bodyLimit` is set.
    var body: ByteBuffer?
    /// Body parts read meanwhile (client reads are held, so at most one read's worth), when `bodyLimit` is not set.
    var parts: [HTTPClientRequestPart] = []
    var requestEnded = false
    var material: InjectableMaterial?
    var materialReady = false
    var upstreamReady = false
    /// An HTTP/2 request without a length: whether it has a body is known at its first DATA or end.
    var awaitingFraming = false
    /// How many bytes at the start of the body are held and searched for credential values (0: none).
    var leakScanLimit = 0
    /// The start of the body held for that search.
    var scanned = ByteBuffer()

    init(head: HTTPRequestHead, plan: ExchangePlan, target: RequestTarget, store: CredentialStore) {
        self.head = head
        self.plan = plan
        self.target = target
        self.store = store
    }

    /// Everything the request waits for is here.
    var isReady: Bool {
        materialReady && upstreamReady && !awaitingFraming && (bodyLimit == nil || requestEnded) && !awaitingLeakScan
    }
}

import NIOCore
