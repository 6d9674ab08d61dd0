import Foundation

/// Streams git blobs through one `git cat-file --batch` process: the blobs of the index (`--staged`) or every blob
/// reachable from any ref (`--history`, each blob once, as `git rev-list --objects --all` lists them).
///
/// The requests go to cat-file through a temporary file (object id and path per line, the path coming back as
/// `%(rest)`), so no pipe is ever written and read by the same thread.
enum GitBlobStream {
    /// One blob as cat-file delivered it.
    struct Blob {
        /// The object id.
        var id: String
        /// The path it was listed under (for history: one path it had; the introducing commit's path is looked up
        /// later, for blobs with findings only).
        var path: String
        /// Its contents, or `nil` when it is larger than the size limit.
        var contents: [UInt8]?
    }

    /// The top directory of the work tree containing `directory`.
    static func topLevel(of directory: String) throws(ScanError) -> String {
        do {
            return try GitProcess.text(["rev-parse", "--show-toplevel"], in: directory)
        } catch {
            throw ScanError("\(directory) is not inside a git work tree (\(error.description))")
        }
    }

    /// Calls `body` with every blob staged in the index of the repository at `repository`.
    static func staged(
        in repository: String, sizeLimit: Int, _ body: (Blob) throws(ScanError) -> Void
    ) throws(ScanError) {
        let listing = try GitProcess.capture(["ls-files", "-s", "-z"], in: repository)
        let requests = try RequestFile()
        for entry in listing.split(separator: 0) {
            // <mode> SP <object> SP <stage> TAB <path>
            guard let tab = entry.firstIndex(of: 0x09) else { continue }
            let fields = entry[..<tab].split(separator: 0x20)
            guard fields.count == 3, fields[0].elementsEqual("100644".utf8) || fields[0].elementsEqual("100755".utf8)
            else { continue }  // symbolic links and submodules hold no file contents
            try requests.append(id: fields[1], path: entry[(tab + 1)...])
        }
        try stream(requests, in: repository, sizeLimit: sizeLimit, body)
    }

    /// Calls `body` with every blob reachable from any ref of the repository at `repository`, each once.
    static func history(
        in repository: String, sizeLimit: Int, _ body: (Blob) throws(ScanError) -> Void
    ) throws(ScanError) {
        let requests = try RequestFile()
        let listing = try GitProcess(["rev-list", "--objects", "--all", "--filter=object:type=blob"], in: repository)
        while let line = try listing.output.readLine() {
            // Commits come as a bare id; blobs as "<id> <path>".
            guard let space = line.firstIndex(of: 0x20) else { continue }
            try requests.append(id: line[..<space], path: line[(space + 1)...])
        }
        try listing.finish()
        try stream(requests, in: repository, sizeLimit: sizeLimit, body)
    }

    private static func stream(
        _ requests: RequestFile, in repository: String, sizeLimit: Int, _ body: (Blob) throws(ScanError) -> Void
    ) throws(ScanError) {
        try requests.close()
        let batch = try GitProcess(
            ["cat-file", "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)"], in: repository,
            stdinPath: requests.path
        )
        do {
            while let header = try batch.output.readLine() {
                let fields = header.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
                guard fields.count >= 3, let size = Int(String(decoding: fields[2], as: UTF8.self)) else {
                    continue  // "<id> missing": not in this clone
                }
                let id = String(decoding: fields[0], as: UTF8.self)
                let path = fields.count > 3 ? String(decoding: fields[3], as: UTF8.self) : ""
                let isBlob = fields[1].elementsEqual("blob".utf8)
                var contents: [UInt8]?
                if isBlob && size <= sizeLimit {
                    contents = try batch.output.read(count: size)
                } else {
                    try batch.output.skip(count: size)
                }
                _ = try batch.output.read(count: 1)  // the newline after the contents
                if isBlob { try body(Blob(id: id, path: path, contents: contents)) }
            }
        } catch {
            batch.stop()
            throw error
        }
        try batch.finish()
    }

    /// The temporary file of cat-file requests, removed when done.
    private final class RequestFile {
        let path: String
        private let handle: FileHandle
        private var pending: [UInt8] = []

        init() throws(ScanError) {
            path = FileManager.default.temporaryDirectory
                .appendingPathComponent("tokenproxy-scan-\(UUID().uuidString).requests").path
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = FileHandle(forWritingAtPath: path)
            else { throw ScanError("cannot create a temporary file in \(NSTemporaryDirectory())") }
            self.handle = handle
        }

        deinit {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: path)
        }

        /// Adds the request `<id> <path>`.
        func append(id: some Collection<UInt8>, path requestPath: some Collection<UInt8>) throws(ScanError) {
            pending += id
            pending.append(0x20)
            // A path with a line break would split the request; cat-file then reports only the part before it.
            pending += requestPath.map { $0 == 0x0A ? 0x3F : $0 }
            pending.append(0x0A)
            if pending.count >= 1 << 20 { try flush() }
        }

        func close() throws(ScanError) {
            try flush()
            try? handle.close()
        }

        private func flush() throws(ScanError) {
            do {
                try handle.write(contentsOf: pending)
            } catch {
                throw ScanError("cannot write \(path): \(error.localizedDescription)")
            }
            pending.removeAll(keepingCapacity: true)
        }
    }
}
