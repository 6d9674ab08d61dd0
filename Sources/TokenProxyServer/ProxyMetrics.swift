import Metrics
import NIOCore
import TokenProxyCore

/// The proxy's metrics, through swift-metrics (Prometheus text at the admin endpoint's `/metrics`).
///
/// Labels carry credential *names*, hosts, decisions and statuses; never a value. The handles used per request are
/// cached (``MetricHandleCache``): asking the factory for them on every request was a measurable part of its cost.
enum ProxyMetrics {
    private struct RequestKey: Hashable, Sendable {
        var credential: String
        var host: String
        var decision: UsageEvent.Decision
        var status: Int
    }

    private static let requests = MetricHandleCache<RequestKey, Counter>()
    private static let durations = MetricHandleCache<UsageEvent.Decision, Timer>()
    private static let upstreamLatencies = MetricHandleCache<String, Timer>()
    private static let activeConnections = Meter(label: "tokenproxy_active_connections")

    /// One finished request (or tunnel), by credential, host, decision and status.
    static func record(_ event: UsageEvent) {
        let key = RequestKey(
            credential: event.credential ?? "", host: event.host, decision: event.decision, status: event.status
        )
        requests.handle(for: key) {
            Counter(
                label: "tokenproxy_requests_total",
                dimensions: [
                    ("credential", key.credential), ("host", key.host), ("decision", key.decision.rawValue),
                    ("status", String(key.status)),
                ]
            )
        }.increment()
        if event.method != "CONNECT" && event.method != "REFRESH" {
            durations.handle(for: event.decision) {
                Timer(label: "tokenproxy_request_duration_seconds", dimensions: [("decision", event.decision.rawValue)])
            }.recordNanoseconds(Int64(max(0, event.durationMilliseconds) * 1_000_000))
        }
        if event.reason?.hasPrefix("leak attempt") == true {
            Counter(label: "tokenproxy_leak_attempts_total", dimensions: [("host", event.host)]).increment()
        }
    }

    /// A request carried the real value of a credential and was refused.
    static func leak(credential: String, host: String) {
        Counter(label: "tokenproxy_leaks_total", dimensions: [("credential", credential), ("host", host)]).increment()
    }

    /// Time from sending a request upstream to the start of its response.
    static func upstreamLatency(_ latency: TimeAmount, host: String) {
        upstreamLatencies.handle(for: host) {
            Timer(label: "tokenproxy_upstream_latency_seconds", dimensions: [("host", host)])
        }.recordNanoseconds(latency.nanoseconds)
    }

    /// A client connection was accepted (+1) or closed (-1).
    static func clientConnections(_ delta: Int) {
        if delta > 0 {
            activeConnections.increment(by: Double(delta))
        } else {
            activeConnections.decrement(by: Double(-delta))
        }
    }

    /// Values read at scrape time: leaf cache and recorder state.
    static func refresh(runtime: ProxyRuntime) {
        let cache = runtime.interceptionContexts.statistics
        Gauge(label: "tokenproxy_leaf_cache_hits").record(cache.hits)
        Gauge(label: "tokenproxy_leaf_cache_misses").record(cache.misses)
        Gauge(label: "tokenproxy_leaf_cache_entries").record(cache.entries)
        if let recorder = runtime.recorder {
            Gauge(label: "tokenproxy_recorder_queue_depth").record(recorder.queueDepth)
            Gauge(label: "tokenproxy_recorder_dropped_events").record(recorder.droppedCount)
            Gauge(label: "tokenproxy_recorder_failed_events").record(recorder.failedCount)
            Gauge(label: "tokenproxy_recorder_healthy").record(recorder.currentFailure == nil ? 1 : 0)
        }
    }
}
