import Histogram

/// What the connections of one event loop measured. Touched only on that loop, so it needs no lock; the loops'
/// statistics are merged once the run is over.
final class LoopStatistics: @unchecked Sendable {
    /// Latencies in nanoseconds, up to a minute.
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var requests = 0
    var errors = 0
    var bodyBytes = 0
    var connectionsOpened = 0
    /// Every response and body byte, warm-up and tail included: what a proxy's CPU time over the whole run covers.
    var allRequests = 0
    var allBodyBytes = 0

    /// Adds `other` into this one (call after the run, off the loops).
    func merge(_ other: LoopStatistics) {
        latency.add(other.latency)
        requests += other.requests
        errors += other.errors
        bodyBytes += other.bodyBytes
        connectionsOpened += other.connectionsOpened
        allRequests += other.allRequests
        allBodyBytes += other.allBodyBytes
    }
}
