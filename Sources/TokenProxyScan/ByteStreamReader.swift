import Foundation

/// Reads a child's output from a file descriptor in large chunks, handing out lines and exact byte counts: how
/// `git cat-file --batch` and friends are parsed without reading a whole history into memory.
final class ByteStreamReader {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    private static let chunkSize = 256 * 1024

    /// Reads from `descriptor`, which the caller keeps open while reading.
    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// The next line without its `\n` (or the rest, if the stream ends without one); `nil` at the end.
    /// Throws when a line is longer than `limit`.
    func readLine(limit: Int = 1024 * 1024) throws(ScanError) -> [UInt8]? {
        // Relative to `start`, so it stays right when `fill` moves the unread bytes to the front.
        var searchedCount = 0
        while true {
            if let newline = buffer[(start + searchedCount)...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                return line
            }
            searchedCount = buffer.count - start
            guard searchedCount <= limit else { throw ScanError("git printed a line longer than \(limit) bytes") }
            guard try fill() else {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
        }
    }

    /// Everything up to the end of the stream; throws when that is more than `limit` bytes.
    func readToEnd(limit: Int) throws(ScanError) -> [UInt8] {
        while try fill() {
            guard buffer.count - start <= limit else { throw ScanError("git printed more than \(limit) bytes") }
        }
        let bytes = Array(buffer[start...])
        start = buffer.count
        return bytes
    }

    /// Exactly `count` bytes; throws when the stream ends first.
    func read(count: Int) throws(ScanError) -> [UInt8] {
        while buffer.count - start < count {
            guard try fill() else { throw ScanError("git's output ended in the middle of an object") }
        }
        let bytes = Array(buffer[start..<(start + count)])
        start += count
        return bytes
    }

    /// Skips exactly `count` bytes without keeping them (an object too large to scan).
    func skip(count: Int) throws(ScanError) {
        var remaining = count
        while remaining > 0 {
            if start == buffer.count {
                guard try fill() else { throw ScanError("git's output ended in the middle of an object") }
            }
            let taken = min(remaining, buffer.count - start)
            start += taken
            remaining -= taken
        }
    }

    /// Appends the next chunk; `false` at the end of the stream.
    private func fill() throws(ScanError) -> Bool {
        guard !atEnd else { return false }
        if start > 0, start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let oldCount = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Self.chunkSize))
        var received = 0
        while true {
            received = buffer.withUnsafeMutableBytes { raw in
                Foundation.read(descriptor, raw.baseAddress! + oldCount, Self.chunkSize)
            }
            if received < 0 && errno == EINTR { continue }
            break
        }
        buffer.removeSubrange((oldCount + max(received, 0))...)
        guard received >= 0 else { throw ScanError("cannot read git's output: \(String(cString: strerror(errno)))") }
        if received == 0 { atEnd = true }
        return received > 0
    }
}
