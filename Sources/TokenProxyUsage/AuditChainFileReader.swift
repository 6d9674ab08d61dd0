import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads an audit log file line by line, from the start, in blocks: a log may be far larger than memory.
struct AuditChainFileReader {
    /// One line of the file.
    struct Line {
        /// The 1-based line number.
        var number: Int
        /// The bytes of the line without its newline.
        var bytes: Data
        /// Whether the line ends with a newline; only the last line of a file can lack one.
        var isTerminated: Bool
    }

    /// Why a file could not be read.
    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    /// A record is a few hundred bytes; a "line" this long means the file is not an audit log, and reading it whole
    /// would only exhaust memory.
    static let maximumLineLength = 16 << 20

    private static let blockSize = 64 << 10

    let path: String
    private let descriptor: Int32
    /// Bytes read but not yet returned are `buffer[start..<end]`; the rest is room to read into.
    private var buffer = [UInt8](repeating: 0, count: 2 * Self.blockSize)
    private var start = 0
    private var end = 0
    private var atEnd = false
    private var lineNumber = 0

    /// Opens `path` for reading.
    init(path: String) throws(ReadError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ReadError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Closes the file.
    func close() {
        _ = systemClose(descriptor)
    }

    /// The next line, or `nil` at the end of the file.
    mutating func next() throws(ReadError) -> Line? {
        while true {
            // Raw memory rather than collection algorithms: this loop runs once per record of logs of any size.
            let (start, end) = (self.start, self.end)
            let found = buffer.withUnsafeBytes { bytes -> (line: Data, next: Int)? in
                let base = bytes.baseAddress! + start
                guard let newline = memchr(base, Int32(UInt8(ascii: "\n")), end - start) else { return nil }
                let length = UnsafeRawPointer(newline) - base
                return (Data(bytes: base, count: length), start + length + 1)
            }
            if let found {
                self.start = found.next
                lineNumber += 1
                return Line(number: lineNumber, bytes: found.line, isTerminated: true)
            }
            if atEnd {
                guard start < end else { return nil }
                let line = buffer.withUnsafeBytes { Data(bytes: $0.baseAddress! + start, count: end - start) }
                self.start = end
                lineNumber += 1
                return Line(number: lineNumber, bytes: line, isTerminated: false)
            }
            guard end - start <= Self.maximumLineLength else {
                throw ReadError(
                    description: "line \(lineNumber + 1) of \(path) is longer than 16 MiB: this is not an audit log"
                )
            }
            try fill()
        }
    }

    /// Reads the next block after the unconsumed bytes, moving them to the front (or growing the buffer) for room.
    private mutating func fill() throws(ReadError) {
        let pending = end - start
        if start > 0 {
            let (from, count) = (start, pending)
            buffer.withUnsafeMutableBytes { bytes in
                if count > 0 { memmove(bytes.baseAddress!, bytes.baseAddress! + from, count) }
            }
            start = 0
            end = pending
        }
        if buffer.count - end < Self.blockSize {
            // Only a line longer than a block gets here; such lines are rare, and bounded by maximumLineLength.
            buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count))
        }
        let offset = end
        let count = buffer.withUnsafeMutableBytes { bytes in
            readRetrying(descriptor, bytes.baseAddress! + offset, Self.blockSize)
        }
        guard count >= 0 else {
            throw ReadError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        end += count
        if count == 0 { atEnd = true }
    }
}

/// `read(2)`, retried on `EINTR`; returns the byte count, or -1 with `errno` set.
private func readRetrying(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    while true {
        let result = read(descriptor, buffer, count)
        if result < 0 && errno == EINTR { continue }
        return result
    }
}

// `close(2)`, `write(2)` and `fsync(2)` under names of their own, for types with methods named like them.

/// `close(2)`.
func systemClose(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}

/// `write(2)`.
func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    write(descriptor, bytes.baseAddress, bytes.count)
}

/// `fsync(2)`.
func systemFsync(_ descriptor: Int32) -> Int32 {
    fsync(descriptor)
}
