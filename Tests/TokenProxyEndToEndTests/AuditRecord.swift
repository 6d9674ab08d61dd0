import Foundation

/// One line of the proxy's JSON-lines audit log, parsed leniently so that a wrong field fails one expectation
/// instead of the whole read.
struct AuditRecord: Sendable, CustomStringConvertible {
    /// The keys every record must carry (values may be `null` where the contract allows it).
    static let requiredKeys: Set<String> = [
        "time", "client", "method", "host", "port", "path", "rule", "credential", "status", "bytes_in", "bytes_out",
        "duration_ms", "decision", "reason",
    ]

    /// The keys present in the line.
    let keys: Set<String>
    let time: String?
    let client: String?
    let method: String?
    let host: String?
    let port: Int?
    let path: String?
    let rule: Int?
    let credential: String?
    let status: Int?
    let bytesIn: Int?
    let bytesOut: Int?
    let durationMs: Double?
    let decision: String?
    let reason: String?

    /// The 1-based line number in the log.
    let line: Int

    /// Parses one line, or returns `nil` if it is not a JSON object.
    init?(line: Int, text: String) {
        guard
            let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
            let fields = object as? [String: Any]
        else { return nil }
        self.line = line
        keys = Set(fields.keys)
        time = fields["time"] as? String
        client = fields["client"] as? String
        method = fields["method"] as? String
        host = fields["host"] as? String
        port = Self.integer(fields["port"])
        path = fields["path"] as? String
        rule = Self.integer(fields["rule"])
        credential = fields["credential"] as? String
        status = Self.integer(fields["status"])
        bytesIn = Self.integer(fields["bytes_in"])
        bytesOut = Self.integer(fields["bytes_out"])
        durationMs = (fields["duration_ms"] as? NSNumber)?.doubleValue
        decision = fields["decision"] as? String
        reason = fields["reason"] as? String
    }

    /// A one-line summary for failure messages, without the free-text `reason`: Swift Testing prints values with
    /// this description unredacted, so it carries only short structured fields. ``detailedDescription`` adds the
    /// reason, for messages that are redacted first.
    var description: String {
        let port = port.map(String.init) ?? "-"
        let status = status.map(String.init) ?? "-"
        let rule = rule.map(String.init) ?? "-"
        return "#\(line) \(method ?? "-") \(host ?? "-"):\(port)\(path ?? "") status=\(status) "
            + "decision=\(decision ?? "-") rule=\(rule) credential=\(credential ?? "-")"
    }

    /// ``description`` plus the reason; redact before printing.
    var detailedDescription: String {
        "\(description) reason=\(reason ?? "-")"
    }

    private static func integer(_ value: Any?) -> Int? {
        if let integer = value as? Int { return integer }
        return (value as? NSNumber)?.intValue
    }
}

extension AuditRecord {
    /// The parsed records of the log at `path` and the line numbers that were not JSON objects.
    static func read(from path: String) -> (records: [AuditRecord], malformedLines: [Int]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return ([], []) }
        var records: [AuditRecord] = []
        var malformed: [Int] = []
        // A line still being written has no trailing newline yet; only complete lines count.
        let completeText = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        for (offset, line) in completeText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if let record = AuditRecord(line: offset + 1, text: trimmed) {
                records.append(record)
            } else {
                malformed.append(offset + 1)
            }
        }
        return (records, malformed)
    }

    /// Polls the log at `path` until `isSatisfied` holds for its records or `timeout` passes, then returns the
    /// records as last read. The proxy writes the log asynchronously, so a record may trail the response.
    static func wait(
        for path: String,
        timeout: Duration = .seconds(5),
        until isSatisfied: ([AuditRecord]) -> Bool
    ) async -> [AuditRecord] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let records = read(from: path).records
            if isSatisfied(records) || ContinuousClock.now >= deadline {
                return records
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
