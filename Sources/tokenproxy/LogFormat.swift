import ArgumentParser
import Foundation
import Logging
import TokenProxyServer

/// `--log-format human|json`: how the proxy's log lines on stderr look.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// swift-log's standard lines: time, level, label, metadata, source, message.
    case human
    /// One JSON object per line: time, level, label, message, and each request's fields.
    case json

    /// The matching request line format.
    var requestFormat: RequestLogFormat {
        switch self {
        case .human: .human
        case .json: .json
        }
    }

    /// Sets up the process-wide logging system once, writing to stderr.
    static func bootstrap(_ format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .human:
                var handler = HumanLogHandler(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

/// Writes each log entry as one JSON object on stderr, metadata as top-level keys (numbers as numbers).
struct JSONLogHandler: StoredMetadataLogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        let explicit = event.metadata
        var object: [String: Any] = [
            "time": Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            "level": level.rawValue, "label": label, "message": message.description,
        ]
        for (key, value) in self.metadata.merging(explicit ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = Self.json(value)
        }
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: options) else { return }
        StderrLineWriter.shared.write(String(decoding: data, as: UTF8.self) + "\n")
    }

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let convertible):
            if let number = convertible as? Int { return number }
            if let number = convertible as? Double { return number }
            return convertible.description
        case .array(let values): return values.map(json)
        case .dictionary(let values): return values.mapValues(json)
        }
    }
}

/// A log handler whose metadata is the stored `metadata` dictionary, as both of ours keep it.
protocol StoredMetadataLogHandler: LogHandler {
    var metadata: Logger.Metadata { get set }
}

extension StoredMetadataLogHandler {
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}
