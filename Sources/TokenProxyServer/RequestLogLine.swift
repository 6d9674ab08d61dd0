import Logging
import TokenProxyCore

/// How the proxy logs each request: as a line for a person, or as JSON fields for a log collector.
public enum RequestLogFormat: String, Sendable, CaseIterable {
    /// `GET api.github.com:443 /user 200 53.1ms github injected`.
    case human
    /// The same fields as structured log metadata (the CLI's JSON log handler prints them as one object).
    case json
}

/// The one formatter of a request's log line, for both formats: the same fields, names only, never a header value
/// or a query string (the event's path has none), so no token can reach the log.
enum RequestLogLine {
    /// The text: method, host:port, path, status, duration, credential (or `-`), decision, and the reason if any.
    static func text(_ event: UsageEvent) -> String {
        var text = "\(event.method) \(event.host):\(event.port) \(event.path ?? "-") \(event.status) "
        text += "\(DecimalText.oneDecimal(event.durationMilliseconds))ms \(event.credential ?? "-") "
        text += event.decision.rawValue
        if let reason = event.reason { text += " (\(reason))" }
        return text
    }

    /// The same fields, for structured handlers (built only when the JSON format asks for them).
    static func metadata(_ event: UsageEvent) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "method": .string(event.method), "host": .string(event.host), "port": .stringConvertible(event.port),
            "status": .stringConvertible(event.status),
            "duration_ms": .stringConvertible((event.durationMilliseconds * 10).rounded() / 10),
            "decision": .string(event.decision.rawValue), "client": .string(event.client),
            "bytes_in": .stringConvertible(event.bytesIn), "bytes_out": .stringConvertible(event.bytesOut),
        ]
        if let path = event.path { metadata["path"] = .string(path) }
        if let credential = event.credential { metadata["credential"] = .string(credential) }
        if let reason = event.reason { metadata["reason"] = .string(reason) }
        return metadata
    }
}
