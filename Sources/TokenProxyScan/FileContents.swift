import Foundation

/// Reads a file for scanning, within a size limit. Blocking.
enum FileContents {
    /// What reading gave.
    enum Outcome {
        /// The bytes.
        case bytes([UInt8])
        /// Larger than the limit; not read.
        case tooLarge
        /// Gone or not a regular file (a deleted file git still lists, a socket): nothing to scan.
        case missing
    }

    /// Reads `path` unless it is larger than `limit` bytes.
    static func read(_ path: String, limit: Int) throws(ScanError) -> Outcome {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return .missing }
        guard Int(info.st_size) <= limit else { return .tooLarge }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ScanError("cannot open \(path) for reading: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        do {
            let data = try handle.read(upToCount: limit + 1) ?? Data()
            return data.count > limit ? .tooLarge : .bytes(Array(data))
        } catch {
            throw ScanError("cannot read \(path): \(error.localizedDescription)")
        }
    }
}
