import Foundation
import Testing
import TokenProxyTestSupport
import TokenProxyCore

@testable import TokenProxyUsage

/// The record as the audit log writer encoded it before ``AuditRecordEncoder``: the event and its chain fields
/// through `JSONEncoder` (``UsageEvent/jsonEncoder()``), both containers writing into one object. The reference the
/// hand-written encoder must match byte for byte; it lives only here.
private struct JSONEncoderRecord: Encodable {
    let event: UsageEvent
    let seq: Int
    let prev: String

    private enum ChainKeys: String, CodingKey {
        case seq, prev
    }

    func encode(to encoder: any Encoder) throws {
        try event.encode(to: encoder)
        var container = encoder.container(keyedBy: ChainKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(prev, forKey: .prev)
    }
}

/// What encoding a record gave: its bytes, or a refusal.
private enum Outcome: Equatable, CustomStringConvertible {
    case bytes([UInt8])
    case refused

    var description: String {
        switch self {
        case .bytes(let bytes): String(decoding: bytes, as: UTF8.self).debugDescription
        case .refused: "refused"
        }
    }
}


@Suite("AuditRecordEncoder")
struct AuditRecordEncoderTests {
    private static let decisions: [UsageEvent.Decision] = [
        .injected, .tunnel, .forward, .denied, .error, .leak, .wouldDeny, .admin,
    ]

    /// Strings that need care: escapes, every control character alone and together, DEL, slashes, non-ASCII.
    private static let trickyStrings: [String] =
        [
            "", "\"", "\\", "\\\"", "\"\"", "\\\\", "a\"b\\c", "/", "//", "a/b/c", "https://example.test/v1/items?x=1",
            "\u{7F}", "a\u{7F}b", "é", "ß", "中文", "日本語のパス", "😀", "👩‍👩‍👧‍👦", "e\u{301}", "\u{80}", "\u{A0}",
            "\u{2028}\u{2029}", "\u{FEFF}", "\u{FFFD}", "\u{10FFFF}", "\u{1F}\u{20}\u{7E}\u{7F}\u{80}",
            "tab\there", "line\nbreak\r\n", "mixed \"q\" \\ / \t \u{0} \u{1B}[31m é 😀 end",
            String(repeating: "x", count: 300), String(repeating: "\"\\/\u{1}", count: 50),
            (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }.joined(),
        ] + (0..<0x20).flatMap { code in
            let control = String(UnicodeScalar(UInt8(code)))
            return [control, "a\(control)", "\(control)b", "a\(control)b\(control)"]
        }

    /// Durations as events carry them, before rounding to microseconds.
    private static let durations: [Double] = [
        0, -0.0, 0.1, 0.2, 0.3, 0.1 + 0.2, 1, 1.5, 12, 12.5, 100, 123.456, 999.9995, 0.001, 0.0005, 0.0004,
        -0.0004, -0.0005, -1.5, -123.456, 1e-7, .leastNonzeroMagnitude, .leastNormalMagnitude, 1.0 / 3, 2.0 / 3,
        12345678.9, 9_007_199_254_740_992, 9_007_199_254_740_994, 1e15, 1e16, 1e17, 123_456_789_012.345, 1e21, 1e22,
        1.79e305, -1e300,
        .nan, -.nan, .signalingNaN, .infinity, -.infinity,
    ]

    private static let integers: [Int] = [
        0, 1, -1, 9, 10, -10, 99, 100, 443, 65_535, 1_000_000_007, -1_234_567_890_123, Int(Int32.max),
        Int(Int32.min), Int.max, Int.max - 1, Int.min, Int.min + 1,
    ]

    /// A typical event; the tests vary one part of it at a time.
    private static func event(
        time: Date = Date(timeIntervalSince1970: 1_704_164_645.5), client: String = "127.0.0.1:50000",
        method: String = "GET", host: String = "api.example.test", port: Int = 443, path: String? = "/v1/items/1",
        rule: Int? = 0, credential: String? = "example", fingerprint: String? = "fp-test-0001", status: Int = 200,
        bytesIn: Int = 12, bytesOut: Int = 3456, duration: Double = 12.5, decision: UsageEvent.Decision = .injected,
        reason: String? = nil
    ) -> UsageEvent {
        UsageEvent(
            time: time, client: client, method: method, host: host, port: port, path: path, rule: rule,
            credential: credential, status: status, bytesIn: bytesIn, bytesOut: bytesOut,
            durationMilliseconds: duration, decision: decision, reason: reason, fingerprint: fingerprint
        )
    }

    private static func reference(
        _ event: UsageEvent, seq: Int, prev: String, encoder: JSONEncoder = UsageEvent.jsonEncoder()
    ) -> Outcome {
        do {
            return .bytes(Array(try encoder.encode(JSONEncoderRecord(event: event, seq: seq, prev: prev))))
        } catch {
            return .refused
        }
    }

    private static func encoded(_ event: UsageEvent, seq: Int, prev: String) -> Outcome {
        var buffer: [UInt8] = []
        do {
            try AuditRecordEncoder.append(event, seq: seq, prev: prev, to: &buffer)
            return .bytes(buffer)
        } catch {
            #expect(buffer.isEmpty, "a refused record left bytes in the buffer")
            return .refused
        }
    }

    /// Expects the hand-written encoder to produce exactly JSONEncoder's bytes for the record (or to refuse it
    /// where JSONEncoder does).
    private static func expectSame(
        _ event: UsageEvent, seq: Int = 1, prev: String = AuditChain.genesisHash,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let expected = reference(event, seq: seq, prev: prev)
        let actual = encoded(event, seq: seq, prev: prev)
        #expect(actual == expected, sourceLocation: sourceLocation)
    }

    private static func text(_ append: (inout [UInt8]) -> Void) -> String {
        var buffer: [UInt8] = []
        append(&buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    // MARK: Fixed cases

    @Test("a typical record is the literal line JSONEncoder wrote")
    func typicalRecord() throws {
        let event = Self.event()
        let expected = """
            {"bytes_in":12,"bytes_out":3456,"client":"127.0.0.1:50000","credential":"example",\
            "decision":"injected","duration_ms":12.5,"fingerprint":"fp-test-0001","host":"api.example.test",\
            "method":"GET","path":"/v1/items/1","port":443,"prev":"\(AuditChain.genesisHash)","reason":null,\
            "rule":0,"seq":1,"status":200,"time":"2024-01-02T03:04:05.500Z"}
            """
        #expect(Self.encoded(event, seq: 1, prev: AuditChain.genesisHash) == .bytes(Array(expected.utf8)))
        #expect(Self.reference(event, seq: 1, prev: AuditChain.genesisHash) == .bytes(Array(expected.utf8)))
    }

    @Test("every decision, with each optional field present and absent", arguments: decisions)
    func decisionsAndOptionals(decision: UsageEvent.Decision) {
        for mask in 0..<32 {
            let event = Self.event(
                path: mask & 1 == 0 ? nil : "/v1/items/7", rule: mask & 2 == 0 ? nil : 3,
                credential: mask & 4 == 0 ? nil : "example", fingerprint: mask & 8 == 0 ? nil : "fp-test-0002",
                decision: decision, reason: mask & 16 == 0 ? nil : "refused: no rule for the host"
            )
            Self.expectSame(event, seq: mask + 1)
        }
    }

    @Test("strings are escaped as JSONEncoder escapes them, in every string field", arguments: trickyStrings)
    func strings(value: String) {
        Self.expectSame(Self.event(client: value))
        Self.expectSame(Self.event(method: value))
        Self.expectSame(Self.event(host: value))
        Self.expectSame(Self.event(path: value))
        Self.expectSame(Self.event(credential: value))
        Self.expectSame(Self.event(fingerprint: value))
        Self.expectSame(Self.event(reason: value))
        Self.expectSame(Self.event(), prev: value)
        Self.expectSame(
            Self.event(
                client: value, method: value, host: value, path: value, credential: value, fingerprint: value,
                reason: value
            ),
            prev: value
        )
    }

    @Test("escapes: the short forms, \\u00xx in lowercase hex, and /, DEL and non-ASCII as they are")
    func escapeForms() {
        func escaped(_ value: String) -> String { Self.text { AuditRecordEncoder.appendString(value, to: &$0) } }
        #expect(escaped("a\"b\\c") == #""a\"b\\c""#)
        #expect(escaped("\u{8}\u{C}\n\r\t") == #""\b\f\n\r\t""#)
        #expect(escaped("\u{0}\u{1}\u{A0}") == "\"\\u0000\\u0001\u{A0}\"")
        #expect(escaped("\u{B}\u{E}\u{1A}\u{1B}\u{1F}") == #""\u000b\u000e\u001a\u001b\u001f""#)
        #expect(escaped("/a/b") == #""/a/b""#)
        #expect(escaped("\u{7F}") == "\"\u{7F}\"")
        #expect(escaped("é中😀") == "\"é中😀\"")
        #expect(escaped("") == #""""#)
    }

    @Test("integers at their limits, in every integer field and in seq")
    func integers() {
        for value in Self.integers {
            #expect(Self.text { AuditRecordEncoder.appendInteger(value, to: &$0) } == value.description)
            Self.expectSame(Self.event(port: value))
            Self.expectSame(Self.event(rule: value))
            Self.expectSame(Self.event(status: value))
            Self.expectSame(Self.event(bytesIn: value))
            Self.expectSame(Self.event(bytesOut: value))
            Self.expectSame(Self.event(), seq: value)
        }
    }

    @Test("durations are written as JSONEncoder writes them; a non-finite one as 0")
    func durations() {
        // Not a parameterized test: swift-testing would have to encode the NaNs and infinities as arguments.
        for duration in Self.durations {
            Self.expectSame(Self.event(duration: duration))
            // The printing itself, also for values the rounding to microseconds never lets through.
            let printed = Self.text { AuditRecordEncoder.appendDouble(duration, to: &$0) }
            if duration.isFinite {
                var reference = duration.description
                if reference.hasSuffix(".0") { reference.removeLast(2) }
                #expect(printed == reference)
                #expect(Double(printed) == duration, "\(printed) does not read back as \(duration)")
            }
        }
    }

    @Test("the form of printed doubles: no .0 on whole numbers, shortest digits, exponents as JSONEncoder has them")
    func doubleForms() {
        let expected: [(Double, String)] = [
            (0, "0"), (-0.0, "-0"), (12, "12"), (12.5, "12.5"), (0.1, "0.1"), (0.001, "0.001"), (123.456, "123.456"),
            (12345678.9, "12345678.9"), (1e-7, "1e-07"), (1e15, "1000000000000000"), (1e16, "1e+16"),
            (1e21, "1e+21"), (0.1 + 0.2, "0.30000000000000004"), (.leastNonzeroMagnitude, "5e-324"),
        ]
        for (value, text) in expected {
            #expect(Self.text { AuditRecordEncoder.appendDouble(value, to: &$0) } == text)
            // JSONEncoder's own form, where the rounding to microseconds leaves the value as it is.
            let event = Self.event(duration: value)
            if event.recordedDurationMilliseconds.bitPattern == value.bitPattern {
                guard case .bytes(let bytes) = Self.reference(event, seq: 1, prev: "") else {
                    Issue.record("JSONEncoder refused duration \(value)")
                    continue
                }
                let record = String(decoding: bytes, as: UTF8.self)
                #expect(record.contains("\"duration_ms\":\(text),"), "\(record)")
            }
        }
        #expect(Self.event(duration: .nan).recordedDurationMilliseconds == 0)
        #expect(Self.event(duration: 1e-7).recordedDurationMilliseconds == 0)
        #expect(Self.event(duration: 1.23456).recordedDurationMilliseconds == 1.235)
    }

    @Test("a duration whose rounding overflows is recorded as 0, by both encoders, instead of failing the batch")
    func overflowingDuration() throws {
        for duration in [1e306, -1e306, Double.greatestFiniteMagnitude, -Double.greatestFiniteMagnitude] {
            let event = Self.event(duration: duration)
            #expect(event.recordedDurationMilliseconds == 0)
            var buffer: [UInt8] = []
            try AuditRecordEncoder.append(event, seq: 1, prev: AuditChain.genesisHash, to: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self).contains("\"duration_ms\":0,"))
            #expect(Self.reference(event, seq: 1, prev: AuditChain.genesisHash) == .bytes(buffer))
        }
    }

    @Test("records append after what the buffer already holds")
    func appendsToBuffer() throws {
        var buffer: [UInt8] = []
        var expected: [UInt8] = []
        for number in 0..<5 {
            let event = Self.event(path: "/v1/items/\(number)", bytesIn: number)
            try AuditRecordEncoder.append(event, seq: number + 1, prev: "p\(number)", to: &buffer)
            buffer.append(UInt8(ascii: "\n"))
            guard case .bytes(let line) = Self.reference(event, seq: number + 1, prev: "p\(number)") else {
                Issue.record("JSONEncoder refused a plain event")
                return
            }
            expected += line + [UInt8(ascii: "\n")]
        }
        #expect(buffer == expected)
    }

    // MARK: Random events

    @Test("random events (seeded) encode exactly as JSONEncoder encodes them")
    func randomEvents() {
        let seed: UInt64 = 0x7E57_A0D1_7C4A_1B2E
        var random = SeededGenerator(seed: seed)
        let encoder = UsageEvent.jsonEncoder()
        var mismatches = 0
        var refused = 0
        let count = 4000
        for index in 0..<count {
            let event = Self.randomEvent(&random)
            let seq =
                random.next() % 4 == 0
                ? Int(truncatingIfNeeded: random.next()) : Int.random(in: 1...1_000_000, using: &random)
            let prev = random.next() % 4 == 0 ? Self.randomString(&random) : Self.randomHex(&random)
            let expected = Self.reference(event, seq: seq, prev: prev, encoder: encoder)
            let actual = Self.encoded(event, seq: seq, prev: prev)
            if expected == .refused { refused += 1 }
            if actual != expected {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("seed \(seed), event \(index): expected \(expected), got \(actual)")
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(count) random records differ from JSONEncoder's")
        // Every duration, however odd, is recorded (as 0 when it cannot be written): nothing is refused.
        #expect(refused == 0, "\(refused) refused")
    }

    private static func randomEvent(_ random: inout SeededGenerator) -> UsageEvent {
        func optional<T>(_ value: T, _ random: inout SeededGenerator) -> T? {
            random.next() % 3 == 0 ? nil : value
        }
        return UsageEvent(
            time: Date(timeIntervalSince1970: Double.random(in: -2e9...4e9, using: &random)),
            client: randomString(&random), method: randomString(&random), host: randomString(&random),
            port: randomInteger(&random), path: optional(randomString(&random), &random),
            rule: optional(randomInteger(&random), &random), credential: optional(randomString(&random), &random),
            status: randomInteger(&random), bytesIn: randomInteger(&random), bytesOut: randomInteger(&random),
            durationMilliseconds: randomDuration(&random), decision: decisions[Int(random.next() % 8)],
            reason: optional(randomString(&random), &random), fingerprint: optional(randomString(&random), &random)
        )
    }

    /// 0 to 24 scalars drawn from printable ASCII, control characters and DEL, the characters JSON escapes, and
    /// non-ASCII of every UTF-8 length.
    private static func randomString(_ random: inout SeededGenerator) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int(random.next() % 25) {
            let value: UInt32
            switch random.next() % 10 {
            case 0..<4: value = UInt32.random(in: 0x20...0x7E, using: &random)
            case 4: value = UInt32.random(in: 0x00...0x1F, using: &random)
            case 5: value = [0x7F, 0x08, 0x0C, 0x0A, 0x0D, 0x09][Int(random.next() % 6)]
            case 6: value = [0x22, 0x5C, 0x2F][Int(random.next() % 3)]
            case 7: value = UInt32.random(in: 0x80...0x7FF, using: &random)
            case 8:
                let candidate = UInt32.random(in: 0x800...0xFFFF, using: &random)
                value = (0xD800...0xDFFF).contains(candidate) ? 0xFFFD : candidate
            default: value = UInt32.random(in: 0x1_0000...0x10_FFFF, using: &random)
            }
            scalars.append(Unicode.Scalar(value)!)
        }
        return String(scalars)
    }

    private static func randomHex(_ random: inout SeededGenerator) -> String {
        String((0..<64).map { _ in "0123456789abcdef".randomElement(using: &random)! })
    }

    private static func randomInteger(_ random: inout SeededGenerator) -> Int {
        switch random.next() % 4 {
        case 0: Int(truncatingIfNeeded: random.next())
        case 1: Int.random(in: -1000...1000, using: &random)
        default: Int.random(in: 0...100_000_000, using: &random)
        }
    }

    private static func randomDuration(_ random: inout SeededGenerator) -> Double {
        switch random.next() % 8 {
        case 0: Double(bitPattern: random.next())  // anything: NaNs, infinities, subnormals, huge
        case 1: Double.random(in: 0..<1, using: &random)
        case 2: Double(Int.random(in: 0...100_000, using: &random)) / 1000
        case 3: Double(Int.random(in: 0...10_000, using: &random))
        case 4: Double.random(in: -1e6...1e6, using: &random)
        case 5: Double.random(in: 0..<1e-3, using: &random)
        case 6:
            // The special values, and (1e306 and beyond) ones whose rounding overflows, which are recorded as 0.
            [0, -0.0, .nan, .infinity, -.infinity, 1e21, 1e-7, 12345678.9, 1e306, -.greatestFiniteMagnitude][
                Int(random.next() % 10)
            ]
        default: Double.random(in: 0..<60_000, using: &random)
        }
    }

    // MARK: Through the writer

    @Test("a log written by AuditLogWriter is byte for byte the JSONEncoder records, chained")
    func writerOutput() throws {
        let scratch = try AuditLogScratch()
        var random = SeededGenerator(seed: 42)
        var events = Self.trickyStrings.prefix(40).enumerated().map { index, value in
            Self.event(
                client: value, path: index % 2 == 0 ? value : nil, credential: index % 3 == 0 ? nil : value,
                duration: Self.durations[index % Self.durations.count], decision: Self.decisions[index % 8],
                reason: value
            )
        }
        events += (0..<200).map { _ in Self.randomEvent(&random) }.filter { event in
            Self.reference(event, seq: 1, prev: AuditChain.genesisHash) != .refused
        }
        let writer = try AuditLogWriter(path: scratch.path)
        try writer.write(Array(events[..<17]))
        try writer.write(Array(events[17...]))
        writer.close()

        var expected = Data()
        var prev = AuditChain.genesisHash
        for (index, event) in events.enumerated() {
            guard case .bytes(let line) = Self.reference(event, seq: index + 1, prev: prev) else {
                Issue.record("JSONEncoder refused event \(index)")
                return
            }
            expected.append(contentsOf: line)
            expected.append(UInt8(ascii: "\n"))
            prev = AuditChain.hash(ofLine: line)
        }
        let written = try Data(contentsOf: URL(fileURLWithPath: scratch.path))
        #expect(written == expected)
        #expect(writer.lastHash == prev)
        #expect(writer.lastSeq == events.count)
        try scratch.expectIntact(records: events.count)
    }

    @Test("hash(ofLine:into:) writes the digits hash(ofLine:) returns")
    func hashInto() {
        for line in ["", "abc", "{\"seq\":1}", String(repeating: "é", count: 1000)] {
            var hex = [UInt8](repeating: 0, count: 64)
            Array(line.utf8).withUnsafeBytes { AuditChain.hash(ofLine: $0, into: &hex) }
            #expect(String(decoding: hex, as: UTF8.self) == AuditChain.hash(ofLine: Data(line.utf8)))
        }
    }
}
