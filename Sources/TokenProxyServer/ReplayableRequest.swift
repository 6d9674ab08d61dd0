import NIOHTTP1
import TokenProxyCore

/// A request kept so that it can be sent once more with its credential's previous value (`previous:`), when the
/// origin answers 401 to the current one: during a rotation window a service may not have accepted the new token
/// yet, and the old one still works.
///
/// Only requests that can be sent again exactly qualify: a single-token credential with a previous value, no
/// WebSocket upgrade, and either no body or a body buffered whole (a streamed body has already gone by).
struct ReplayableRequest {
    /// The request as it was before the credential was attached, with its buffered body or its (empty) parts.
    let preparation: Preparation
    /// The value to attach the second time.
    let previous: Secret

    /// The replay for `ready` (about to be sent), or `nil` when it does not qualify.
    static func make(_ ready: Preparation, isUpgrade: Bool) -> ReplayableRequest? {
        guard !isUpgrade, ready.requestEnded, let rule = ready.rule, case .secret(let sent)? = ready.material,
            let previous = ready.store.previousValues[rule.credential], previous != sent
        else { return nil }
        if ready.bodyLimit == nil {
            let bodiless = ready.parts.allSatisfy { part in
                if case .end = part { return true }
                return false
            }
            guard bodiless else { return nil }
        }
        return ReplayableRequest(preparation: ready, previous: previous)
    }

    /// The request again, ready to go once an upstream connection is: the previous value at hand.
    var retry: Preparation {
        var again = preparation
        again.material = .secret(previous)
        again.materialReady = true
        again.upstreamReady = false
        return again
    }

    /// Whether `part` is the answer that makes the proxy try the previous value.
    static func asksForReplay(_ part: HTTPClientResponsePart) -> Bool {
        if case .head(let head) = part { return head.status == .unauthorized }
        return false
    }

    /// The reason recorded for a request that went out with the previous value.
    static func reason(credential: String) -> String {
        UsageEvent.previousValueReason(credential: credential)
    }
}
