import Foundation
import Testing

@testable import TokenProxyServer

@Suite("DecimalText")
struct DecimalTextTests {
    // Values away from a halfway point: there `%.1f` rounds by the exact binary value, which may differ in the
    // last digit from rounding the decimal; a log line does not care.
    @Test("one decimal, as %.1f gives", arguments: [
        0.0, 0.04, 0.06, 1.0, 7.77, 9.96, 12.34, 0.149, 123_456.78, 3_600_000.0,
    ])
    func matchesFormat(value: Double) {
        #expect(DecimalText.oneDecimal(value) == String(format: "%.1f", value))
    }

    @Test("exact values")
    func exact() {
        #expect(DecimalText.oneDecimal(0) == "0.0")
        #expect(DecimalText.oneDecimal(12.34) == "12.3")
        #expect(DecimalText.oneDecimal(12.36) == "12.4")
        #expect(DecimalText.oneDecimal(9.96) == "10.0")
        #expect(DecimalText.oneDecimal(-2.26) == "-2.3")
        #expect(DecimalText.oneDecimal(-0.01) == "0.0")
        #expect(DecimalText.oneDecimal(.infinity) == "inf")
    }
}
