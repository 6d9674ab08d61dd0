import NIOCore
import NIOEmbedded
import Testing
import TokenProxyTestSupport

@testable import TokenProxyServer

@Suite("HTTP/2 frame aligner")
struct HTTP2FrameAlignerTests {
    /// A frame of `length` payload bytes, each byte `fill`, on stream 1.
    private static func frame(length: Int, fill: UInt8) -> [UInt8] {
        let header: [UInt8] = [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 0, 0, 0, 0, 0, 1]
        return header + [UInt8](repeating: fill, count: length)
    }

    /// A stream of frames of varied sizes (0 to 16 KiB), optionally after the client preface.
    private static func stream(frames count: Int, preface: Bool) -> [UInt8] {
        var bytes: [UInt8] = preface ? Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) : []
        var generator = SeededGenerator(seed: 7)
        for index in 0..<count {
            let length = index % 5 == 0 ? 0 : Int.random(in: 1...(1 << 14), using: &generator)
            bytes += frame(length: length, fill: UInt8(index & 0xff))
        }
        return bytes
    }

    /// Feeds `input` in pieces cut at `cuts` and returns each chunk the aligner passed on.
    private static func feed(_ input: [UInt8], cuts: [Int], isServer: Bool) throws -> [[UInt8]] {
        let channel = EmbeddedChannel(handler: HTTP2FrameAligner(isServer: isServer))
        var start = 0
        for cut in cuts.sorted() + [input.count] where cut > start {
            try channel.writeInbound(channel.allocator.buffer(bytes: input[start..<cut]))
            start = cut
        }
        var chunks: [[UInt8]] = []
        while var buffer = try channel.readInbound(as: ByteBuffer.self) {
            chunks.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
        }
        _ = try channel.finish()
        return chunks
    }

    /// Whether `bytes` (after `prefaceLength` bytes) is a whole number of frames.
    private static func endsOnFrameBoundary(_ bytes: [UInt8], prefaceLength: Int) -> Bool {
        var offset = prefaceLength
        while offset + 9 <= bytes.count {
            offset += 9 + (Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]))
        }
        return offset == bytes.count
    }

    @Test("every chunk passed on ends on a frame boundary and nothing is lost or reordered", arguments: [false, true])
    func chunksEndOnFrameBoundaries(isServer: Bool) throws {
        let input = Self.stream(frames: 200, preface: isServer)
        var generator = SeededGenerator(seed: 42)
        // Cuts everywhere a TLS record boundary could fall, including inside headers and right after them.
        let cuts = (0..<400).map { _ in Int.random(in: 1..<input.count, using: &generator) }
        let chunks = try Self.feed(input, cuts: cuts, isServer: isServer)

        #expect(chunks.flatMap { $0 } == input)
        var seen: [UInt8] = []
        for chunk in chunks {
            seen += chunk
            let prefaceLength = isServer ? min(24, seen.count) : 0
            #expect(
                Self.endsOnFrameBoundary(seen, prefaceLength: prefaceLength),
                "a chunk ended inside a frame after \(seen.count) bytes"
            )
        }
    }

    @Test("a frame split into single bytes arrives whole")
    func byteByByte() throws {
        let input = Self.frame(length: 300, fill: 9) + Self.frame(length: 0, fill: 0)
        let chunks = try Self.feed(input, cuts: Array(1..<input.count), isServer: false)
        #expect(chunks == [Self.frame(length: 300, fill: 9), Self.frame(length: 0, fill: 0)])
    }

    @Test("an oversized frame header is passed straight on for the HTTP/2 handler to refuse")
    func oversizedFramePassesThrough() throws {
        let small = Self.frame(length: 10, fill: 1)
        let oversized: [UInt8] = [0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 2, count: 100)
        let input = small + oversized
        let chunks = try Self.feed(input, cuts: [5, 25], isServer: false)

        #expect(chunks.flatMap { $0 } == input)
        #expect(chunks.first == small, "the whole frame before the oversized one is passed on by itself")
        let held = input.count - chunks.flatMap { $0 }.count
        #expect(held == 0, "bytes of an oversized frame were held back")
    }
}

