import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// swift-log's standard line (`<time> <level> <label>: <metadata> [<source>] <message>`, as its `StreamLogHandler`
/// writes it), written through ``StderrLineWriter`` so a request's log line never makes an event loop wait for
/// stderr, and with the time formatted once a second instead of once a line.
struct HumanLogHandler: StoredMetadataLogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        var effective = metadata
        if let explicit = event.metadata { effective.merge(explicit) { _, new in new } }
        if let error = event.error {
            effective["error.message"] = "\(error)"
            effective["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = LocalTimestamp.current()
        line += " \(event.level)"
        if !label.isEmpty { line += " \(label)" }
        line += ":"
        if !effective.isEmpty {
            line += " " + effective.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        line += " [\(event.source)] \(event.message)\n"
        StderrLineWriter.shared.write(line)
    }
}

/// The local time as `%Y-%m-%dT%H:%M:%S%z`, formatted at most once per second.
enum LocalTimestamp {
    private static let cache = Mutex<(second: time_t, text: String)>((-1, ""))

    static func current() -> String {
        let now = time(nil)
        if let cached = cache.withLock({ $0.second == now ? $0.text : nil }) { return cached }
        var local = tm()
        var seconds = now
        guard localtime_r(&seconds, &local) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        let text = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cache.withLock { $0 = (now, text) }
        return text
    }
}
