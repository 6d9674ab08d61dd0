import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The end of an audit log file, read backwards: where its last complete line ends, and that line.
struct AuditChainFileTail {
    /// The length of the file up to and including its last newline: everything after it is an incomplete line.
    var completeLength: Int
    /// The last complete line without its newline, or `nil` if the file has no complete line.
    var lastLine: Data?

    private static let blockSize = 64 << 10

    /// Reads the tail of the open file `descriptor`, which is `size` bytes long.
    ///
    /// Reads backwards in blocks and stops at the newline before the last complete line, so opening a large log is
    /// as cheap as opening a small one. Gives up if the last line, or the incomplete bytes after it, run past
    /// ``AuditChainFileReader/maximumLineLength``: such a file is not an audit log.
    static func read(descriptor: Int32, size: Int, path: String) throws -> AuditChainFileTail {
        var tail: [UInt8] = []  // the bytes from `start` to the end of the file
        var start = size
        var lastNewline: Int?
        var newlineBefore: Int?
        scan: while start > 0 {
            let count = min(blockSize, start)
            var block = [UInt8](repeating: 0, count: count)
            let read = block.withUnsafeMutableBytes { preadFully(descriptor, $0.baseAddress!, count, start - count) }
            guard read == count else {
                throw RecorderError(
                    description: "cannot read the end of audit log \(path): "
                        + (read < 0 ? String(cString: strerror(errno)) : "it shrank while being read")
                )
            }
            tail.insert(contentsOf: block, at: 0)
            start -= count
            for index in stride(from: count - 1, through: 0, by: -1) where block[index] == UInt8(ascii: "\n") {
                if lastNewline == nil {
                    lastNewline = start + index
                } else {
                    newlineBefore = start + index
                    break scan
                }
            }
            let unresolved = lastNewline.map { $0 - start } ?? (size - start)
            if unresolved > AuditChainFileReader.maximumLineLength + blockSize {
                throw RecorderError(
                    description: "audit log \(path) ends with more than 16 MiB without a line break: "
                        + "this is not an audit log; check it with 'tokenproxy audit verify' and move it aside"
                )
            }
        }
        guard let lastNewline else { return AuditChainFileTail(completeLength: 0, lastLine: nil) }
        let lineStart = (newlineBefore ?? -1) + 1
        let line = Data(tail[(lineStart - start)..<(lastNewline - start)])
        return AuditChainFileTail(completeLength: lastNewline + 1, lastLine: line)
    }
}

/// `pread(2)` until `count` bytes or the end of the file; returns the byte count, or -1 with `errno` set.
private func preadFully(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int) -> Int {
    var done = 0
    while done < count {
        let result = pread(descriptor, buffer + done, count - done, off_t(offset + done))
        if result < 0 && errno == EINTR { continue }
        if result < 0 { return -1 }
        if result == 0 { break }
        done += result
    }
    return done
}
