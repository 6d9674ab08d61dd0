import Foundation

/// One thing the proxy did with a client's request, as written to the audit log.
///
/// It names the credential, never its value, and carries the path without its query string, because query
/// strings often hold keys of their own.
public struct UsageEvent: Sendable, Codable, Equatable {
    /// What the proxy decided for a request.
    public enum Decision: String, Sendable, Codable {
        /// Intercepted and forwarded with a credential attached.
        case injected
        /// Passed through as an opaque TCP tunnel (no rule for the host).
        case tunnel
        /// Forwarded without a credential (intercepted or plain HTTP, no rule applied).
        case forward
        /// Refused by the proxy (Host/SNI mismatch, bad request).
        case denied
        /// Failed: the upstream was unreachable, its certificate was bad, or the exchange broke.
        case error
        /// Refused because the client sent the real value of a configured credential (the reason names which).
        case leak
        /// Allowed by `policy.egress: monitor`, but `allowlist` would have refused it (the reason says why).
        case wouldDeny = "would_deny"
        /// An operator's action on the running proxy (`RELOAD`, `REVOKE`, `UNREVOKE` in `method`), or a lifecycle
        /// warning (`ROTATE`); `reason` says what was done.
        case admin
    }

    /// When the request started.
    public var time: Date
    /// The client's address, `ip:port`.
    public var client: String
    /// The request method (`CONNECT` for tunnels).
    public var method: String
    /// The destination host.
    public var host: String
    /// The destination port.
    public var port: Int
    /// The request path without its query string (`nil` for tunnels).
    public var path: String?
    /// The index of the rule that applied, if any.
    public var rule: Int?
    /// The name of the credential attached, if any.
    public var credential: String?
    /// The keyed fingerprint of the value attached (see ``CredentialFingerprinter``), if any.
    public var fingerprint: String?
    /// The HTTP status sent to the client (200 for an established tunnel).
    public var status: Int
    /// Bytes received from the client (request body, or tunnel bytes client→server).
    public var bytesIn: Int
    /// Bytes sent to the client (response body, or tunnel bytes server→client).
    public var bytesOut: Int
    /// Milliseconds from the request head to the end of the response (or of the tunnel).
    public var durationMilliseconds: Double
    /// What the proxy did.
    public var decision: Decision
    /// Why, for refusals and errors; never contains a secret.
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case time, client, method, host, port, path, rule, credential, fingerprint, status
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case durationMilliseconds = "duration_ms"
        case decision, reason
    }

    /// Creates an event.
    public init(
        time: Date, client: String, method: String, host: String, port: Int, path: String?, rule: Int?,
        credential: String?, status: Int, bytesIn: Int, bytesOut: Int, durationMilliseconds: Double,
        decision: Decision, reason: String?, fingerprint: String? = nil
    ) {
        self.fingerprint = fingerprint
        self.time = time
        self.client = client
        self.method = method
        self.host = host
        self.port = port
        self.path = path
        self.rule = rule
        self.credential = credential
        self.status = status
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.durationMilliseconds = durationMilliseconds
        self.decision = decision
        self.reason = reason
    }

    /// The path of a request target with any query string and fragment removed.
    public static func pathWithoutQuery(_ target: String) -> String {
        let end = target.firstIndex { $0 == "?" || $0 == "#" } ?? target.endIndex
        return String(target[..<end])
    }

    /// The duration as records carry it: rounded to whole microseconds, and 0 for a non-finite duration (a clock
    /// gone wrong), which JSON cannot hold and which must not cost the record.
    ///
    /// A duration so large that the rounding overflows (beyond about 1.8e305 ms) is recorded as 0 too: an event that
    /// cannot be encoded would fail its whole batch, and the retries of that batch with it.
    public var recordedDurationMilliseconds: Double {
        let rounded = (durationMilliseconds * 1000).rounded() / 1000
        return rounded.isFinite ? rounded : 0
    }

    // Encode absent optionals as explicit nulls so every record has the same keys.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time, forKey: .time)
        try container.encode(client, forKey: .client)
        try container.encode(method, forKey: .method)
        try container.encode(host, forKey: .host)
        try container.encode(port, forKey: .port)
        try container.encode(path, forKey: .path)
        try container.encode(rule, forKey: .rule)
        try container.encode(credential, forKey: .credential)
        try container.encode(fingerprint, forKey: .fingerprint)
        try container.encode(status, forKey: .status)
        try container.encode(bytesIn, forKey: .bytesIn)
        try container.encode(bytesOut, forKey: .bytesOut)
        try container.encode(recordedDurationMilliseconds, forKey: .durationMilliseconds)
        try container.encode(decision, forKey: .decision)
        try container.encode(reason, forKey: .reason)
    }
}
