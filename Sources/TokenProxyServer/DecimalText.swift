/// Numbers as text for log lines, without Foundation's `String(format:)`, which parses its format string and goes
/// through `NSString` on every call (a measurable part of each request's cost when it ran once per request).
enum DecimalText {
    /// `value` rounded to one decimal: 12.34 → "12.3", 0.05 → "0.1", -1.25 → "-1.3" (half away from zero, as
    /// `%.1f` does for these magnitudes).
    static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return "\(value)" }
        let tenths = Int((abs(value) * 10).rounded())
        let sign = value < 0 && tenths != 0 ? "-" : ""
        return "\(sign)\(tenths / 10).\(tenths % 10)"
    }
}
