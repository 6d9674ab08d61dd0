import Foundation
import TokenProxyCore

/// Appends usage events to a JSON-lines file, one object per line.
public final class AuditLogWriter: UsageSink {
    public let name: String
    private let path: String
    private let handle: FileHandle
    private let encoder: JSONEncoder

    /// Opens (creating if needed, mode 0600, in a directory created 0700) `path` for appending.
    public init(path: String) throws {
        self.path = path
        self.name = "audit log \(path)"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RecorderError(
                description: "cannot open audit log \(path) for appending: \(String(cString: strerror(errno)))"
            )
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        encoder = UsageEvent.jsonEncoder()
    }

    public func write(_ events: [UsageEvent]) throws {
        var data = Data()
        for event in events {
            data.append(try encoder.encode(event))
            data.append(UInt8(ascii: "\n"))
        }
        try handle.write(contentsOf: data)
    }

    public func flush(final: Bool) throws {
        if final { try handle.synchronize() }
    }

    public func close() {
        try? handle.close()
    }
}

extension UsageEvent {
    /// The encoder for records: sorted keys, RFC 3339 UTC timestamps with milliseconds.
    public static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(
                date.formatted(
                    Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!)
                )
            )
        }
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }
}
