import Testing
import TokenProxyTestSupport

@testable import TokenProxyCore

@Suite("Byte-level search behind placeholder and leak scanning")
struct ByteSearchTests {
    /// The obvious search, to compare against.
    private func naiveContains(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    @Test("agrees with a naive search on random texts over a small alphabet (many near misses)")
    func agreesWithNaiveSearch() {
        var generator = SeededGenerator(seed: 9)
        let alphabet = Array("ab{}:".utf8)
        var found = 0
        for _ in 0..<3000 {
            let haystack = (0..<Int(generator.next() % 40)).map { _ in alphabet[Int(generator.next() % 5)] }
            let needle = (0..<Int(1 + generator.next() % 5)).map { _ in alphabet[Int(generator.next() % 5)] }
            let expected = naiveContains(needle, in: haystack)
            found += expected ? 1 : 0
            #expect(ByteSearch.contains(needle, in: String(decoding: haystack, as: UTF8.self)) == expected)
        }
        #expect(found > 300 && found < 2700)  // both outcomes were exercised
    }

    @Test("matches at the very start and end, and not past the end")
    func edges() {
        #expect(ByteSearch.contains(Array("{{tp".utf8), in: "{{tp:x}}"))
        #expect(ByteSearch.contains(Array("x}}".utf8), in: "{{tp:x}}"))
        #expect(!ByteSearch.contains(Array("x}}}".utf8), in: "{{tp:x}}"))
        #expect(!ByteSearch.contains(Array("a".utf8), in: ""))
        #expect(ByteSearch.contains(Array("é".utf8), in: "café"))
    }

    @Test("a Basic value is recognised from its bytes in any case, after blanks", arguments: [
        ("Basic dXNlcjpw", true), ("basic dXNlcjpw", true), ("  BASIC x", true), ("\tbAsIc x", true),
        ("Bearer x", false), ("Basicx", false), ("Basic", false), ("", false), ("Basi\u{0}c x", false),
    ])
    func basicPrefix(value: String, expected: Bool) {
        #expect(Placeholders.looksLikeBasic(value.utf8) == expected)
    }

    @Test("the leak detector finds values that share their first two bytes with others, at every offset")
    func leakDetectorSharedPrefixes() {
        let detector = LeakDetector(values: [
            ("one", Secret("canary-one-0001")), ("two", Secret("canary-two-0002")), ("other", Secret("zz-canary-003")),
        ])
        for (value, name) in [("canary-one-0001", "one"), ("canary-two-0002", "two"), ("zz-canary-003", "other")] {
            for padding in 0..<12 {
                let text = String(repeating: "c", count: padding) + value + String(repeating: "a", count: 11 - padding)
                #expect(detector.credential(in: text) == name)
            }
        }
        #expect(detector.credential(in: "canary-one-000 canary-two-000 zz-canary-00") == nil)
    }
}

