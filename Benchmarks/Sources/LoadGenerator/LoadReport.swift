import Foundation

/// The JSON the driver script reads: counts over the measured window, rates, and latency percentiles in ms.
struct LoadReport: Encodable {
    struct Latency: Encodable {
        var p50: Double
        var p99: Double
        var p999: Double
        var max: Double
    }

    var target: String
    var proxied: Bool
    var mode: String
    var connections: Int
    var seconds: Double
    var requests: Int
    var errors: Int
    var connectionsOpened: Int
    var requestsPerSecond: Double
    var bytes: Int
    var bytesPerSecond: Double
    var latencyMs: Latency
    /// Responses and body bytes over the whole run, warm-up included.
    var allRequests: Int
    var allBytes: Int

    init(target: LoadTarget, mode: ClientSlot.Mode, connections: Int, seconds: Double, statistics: LoopStatistics) {
        self.target = target.authority + target.path
        proxied = target.proxy != nil
        self.mode = mode.rawValue
        self.connections = connections
        self.seconds = seconds
        requests = statistics.requests
        errors = statistics.errors
        connectionsOpened = statistics.connectionsOpened
        requestsPerSecond = Double(statistics.requests) / seconds
        bytes = statistics.bodyBytes
        bytesPerSecond = Double(statistics.bodyBytes) / seconds
        allRequests = statistics.allRequests
        allBytes = statistics.allBodyBytes
        let histogram = statistics.latency
        func milliseconds(_ nanoseconds: UInt64) -> Double {
            statistics.requests == 0 ? 0 : Double(nanoseconds) / 1e6
        }
        latencyMs = Latency(
            p50: milliseconds(histogram.valueAtPercentile(50)),
            p99: milliseconds(histogram.valueAtPercentile(99)),
            p999: milliseconds(histogram.valueAtPercentile(99.9)),
            max: milliseconds(histogram.max)
        )
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
