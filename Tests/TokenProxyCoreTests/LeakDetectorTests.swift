import Foundation
import Testing

@testable import TokenProxyCore

@Suite("LeakDetector and ResponseScrubber")
struct LeakDetectorTests {
    private let detector = LeakDetector(values: [
        ("github", Secret("ghp_canaryvalue0123456789")), ("stripe", Secret("sk_live_abcdefgh")),
        ("tiny", Secret("short")),
    ])

    @Test("finds any configured value in text: as written, percent-encoded, or inside Basic", arguments: [
        ("Bearer ghp_canaryvalue0123456789", "github"), ("token=sk_live_abcdefgh&x=1", "stripe"),
        ("%67hp_canaryvalue0123456789", "github"),
        ("Basic " + "dXNlcjpza19saXZlX2FiY2RlZmdo", "stripe"),  // user:sk_live_abcdefgh
        ("xxsk_live_abcdefghxx", "stripe"),
    ])
    func finds(text: String, credential: String) {
        #expect(detector.credential(in: text) == credential)
    }

    @Test("does not report partial values, other text or values shorter than the minimum", arguments: [
        "ghp_canaryvalue012345678", "sk_live_abcdefg", "short", "nothing here", "", "{{tokenproxy:github}}",
    ])
    func ignores(text: String) {
        #expect(detector.credential(in: text) == nil)
    }

    @Test("finds a value at the very start and end of raw bytes")
    func bytes() {
        for text in ["sk_live_abcdefgh", "aaaa" + "sk_live_abcdefgh", "sk_live_abcdefgh" + "bbbb"] {
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBytes { detector.credential(in: $0) } == "stripe")
        }
        #expect(LeakDetector(values: []).isEmpty)
    }

    @Test("the scrubber replaces a value split across any chunk boundary")
    func scrubberAcrossChunks() {
        let value = "sk_live_abcdefgh"
        let body = "{\"echo\":\"" + value + "\",\"again\":\"" + value + "\",\"partial\":\"sk_live_abc\"}"
        let bytes = Array(body.utf8)
        for split in 0...bytes.count {
            var scrubber = ResponseScrubber(value: Secret(value), replacement: "{{tokenproxy:stripe}}")
            var output = bytes[..<split].withUnsafeBytes { scrubber.scrub($0) }
            output += bytes[split...].withUnsafeBytes { scrubber.scrub($0) }
            output += scrubber.finish()
            let text = String(decoding: output, as: UTF8.self)
            #expect(!text.contains(value), "split at \(split)")
            #expect(text.contains("\"partial\":\"sk_live_abc\""), "split at \(split)")
            #expect(text.components(separatedBy: "{{tokenproxy:stripe}}").count == 3, "split at \(split)")
            #expect(scrubber.replacements == 2)
        }
    }

    @Test("the scrubber works byte by byte and on header text")
    func scrubberByteByByte() {
        let value = "ghp_canaryvalue0123456789"
        var scrubber = ResponseScrubber(value: Secret(value), replacement: "[x]")
        var output: [UInt8] = []
        for byte in Array(("a" + value + "b" + value).utf8) {
            output += [byte].withUnsafeBytes { scrubber.scrub($0) }
        }
        output += scrubber.finish()
        #expect(String(decoding: output, as: UTF8.self) == "a[x]b[x]")
        #expect(scrubber.scrub(text: "Bearer " + value) == "Bearer [x]")
    }
}
