/// Which commit first added each of some blobs, and under which path: for `--history` findings, looked up only when
/// there are findings, in one pass over `git log --all --reverse --raw` that stops once every blob is placed.
enum BlobIntroductions {
    /// Where a blob first appeared.
    struct Introduction: Hashable {
        var commit: String
        var path: String
    }

    /// The first commit (oldest first, across all refs) whose diff adds or changes a file to each of `blobs`.
    /// Blobs only a merge introduced are not placed (merges show no diff here).
    static func find(_ blobs: Set<String>, in repository: String) throws(ScanError) -> [String: Introduction] {
        guard !blobs.isEmpty else { return [:] }
        let log = try GitProcess(
            ["-c", "core.quotePath=false", "log", "--all", "--reverse", "--raw", "--no-abbrev", "--no-renames",
             "--format=%H"],
            in: repository
        )
        var found: [String: Introduction] = [:]
        var commit = ""
        while let line = try log.output.readLine() {
            if line.first == UInt8(ascii: ":") {
                // :<old mode> <new mode> <old id> <new id> <status>\t<path>
                guard let tab = line.firstIndex(of: 0x09) else { continue }
                let fields = line[..<tab].split(separator: 0x20)
                guard fields.count >= 4 else { continue }
                let id = String(decoding: fields[3], as: UTF8.self)
                if blobs.contains(id), found[id] == nil {
                    found[id] = Introduction(commit: commit, path: String(decoding: line[(tab + 1)...], as: UTF8.self))
                    if found.count == blobs.count { break }
                }
            } else if !line.isEmpty {
                commit = String(decoding: line, as: UTF8.self)
            }
        }
        if found.count == blobs.count {
            log.stop()
        } else {
            try log.finish()
        }
        return found
    }
}
