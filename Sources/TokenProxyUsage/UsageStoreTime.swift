import Foundation

/// How the usage store writes times, and how the report reads the times people type and shows times back.
///
/// The store keeps times as RFC 3339 UTC text with milliseconds (`2026-11-30T05:13:23.761Z`), the audit log's own
/// form: every value has the same width, so text order is time order (indexes and `MIN`/`MAX` work on it as they
/// would on numbers), and `sqlite3 state/usage.db 'SELECT * FROM requests'` reads without conversion.
public enum UsageStoreTime {
    private static let style = Date.ISO8601FormatStyle(
        includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!
    )
    private static let styleWithoutFraction = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)
    private static let dateOnly = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day()

    /// `date` in the store's form.
    public static func format(_ date: Date) -> String {
        date.formatted(style)
    }

    /// A time in the store's form (or any RFC 3339 date-time, with or without fractional seconds), or `nil`.
    public static func parse(_ text: String) -> Date? {
        if let date = try? style.parse(text) { return date }
        return try? styleWithoutFraction.parse(text)
    }

    /// The start of a `--since` window: an ISO 8601 date-time (`2026-11-30T05:00:00Z`), a date (`2026-11-30`, taken
    /// as midnight UTC), or a duration back from `now` (`90s`, `30m`, `24h`, `7d`, `2w`). `nil` if it is none of
    /// these.
    public static func since(parsing text: String, now: Date) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = duration(trimmed) { return now.addingTimeInterval(-seconds) }
        if let date = parse(trimmed) { return date }
        return try? dateOnly.parse(trimmed)
    }

    /// `text` as a duration in seconds (`90s`, `30m`, `24h`, `7d`, `2w`), or `nil`.
    static func duration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let count = Int(text.dropLast()), count >= 0, text.first?.isNumber == true else {
            return nil
        }
        let seconds: Int
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        case "w": seconds = 7 * 86_400
        default: return nil
        }
        let (total, overflow) = count.multipliedReportingOverflow(by: seconds)
        return overflow ? nil : TimeInterval(total)
    }

    /// How long before `now` `date` was, for people: `just now`, `42s ago`, `3m ago`, `5h ago`, `12d ago`, or
    /// `never` for `nil`.
    ///
    /// A time after `now` (another machine's clock, or this one stepped back) reads `just now` rather than a
    /// negative age.
    public static func relative(_ date: Date?, now: Date) -> String {
        guard let date else { return "never" }
        let seconds = Int(now.timeIntervalSince(date).rounded(.down))
        switch seconds {
        case ..<1: return "just now"
        case ..<60: return "\(seconds)s ago"
        case ..<3600: return "\(seconds / 60)m ago"
        case ..<86_400: return "\(seconds / 3600)h ago"
        default: return "\(seconds / 86_400)d ago"
        }
    }
}
