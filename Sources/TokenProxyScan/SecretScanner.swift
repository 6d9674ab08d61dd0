/// Runs a scan: lists what to read (files, the index or the history), reads it within the size limit, finds secrets
/// with a ``ContentScanner`` and drops the allowlisted ones. Blocking (file I/O and git subprocesses): call it from a
/// command-line tool or a thread of its own, never from an event loop.
public struct SecretScanner: Sendable {
    /// What to scan.
    public enum Mode: Sendable, Hashable {
        /// The files under each path (`.gitignore` respected inside a git work tree).
        case files([String])
        /// The blobs in the index of the repository containing the directory.
        case staged(repository: String)
        /// Every blob reachable in the history of the repository containing the directory, each once.
        case history(repository: String)
    }

    /// Files and blobs larger than this are not read (generated data and archives, not config).
    public static let defaultSizeLimit = 4 * 1024 * 1024

    /// Finds secrets in each text.
    public var scanner: ContentScanner
    /// Known false positives.
    public var allowlist: ScanAllowlist
    /// The largest file or blob read, in bytes.
    public var sizeLimit: Int

    /// Creates a scanner.
    public init(
        scanner: ContentScanner, allowlist: ScanAllowlist = ScanAllowlist(), sizeLimit: Int = defaultSizeLimit
    ) {
        self.scanner = scanner
        self.allowlist = allowlist
        self.sizeLimit = sizeLimit
    }

    /// Scans what `mode` names.
    public func run(_ mode: Mode) throws(ScanError) -> ScanResult {
        var result = ScanResult()
        switch mode {
        case .files(let paths):
            for root in paths.isEmpty ? ["."] : paths {
                for path in try WorkingTreeFiles.list(root) {
                    switch try FileContents.read(path, limit: sizeLimit) {
                    case .bytes(let bytes): scan(bytes, path: path, blob: nil, into: &result)
                    case .tooLarge: result.skippedLarge += 1
                    case .missing: continue
                    }
                }
            }
        case .staged(let directory):
            let repository = try GitBlobStream.topLevel(of: directory)
            try GitBlobStream.staged(in: repository, sizeLimit: sizeLimit) { blob throws(ScanError) in
                scan(blob, into: &result)
            }
        case .history(let directory):
            let repository = try GitBlobStream.topLevel(of: directory)
            try GitBlobStream.history(in: repository, sizeLimit: sizeLimit) { blob throws(ScanError) in
                scan(blob, into: &result)
            }
            let introductions = try BlobIntroductions.find(Set(result.findings.compactMap(\.blob)), in: repository)
            for index in result.findings.indices {
                guard let blob = result.findings[index].blob, let introduction = introductions[blob] else { continue }
                result.findings[index].commit = introduction.commit
                result.findings[index].path = introduction.path
            }
        }
        // Last, so that history findings are matched under the path their commit gave them.
        let found = result.findings
        result.findings = found.filter { !allowlist.allows($0) }
        result.allowed = found.count - result.findings.count
        return result
    }

    private func scan(_ blob: GitBlobStream.Blob, into result: inout ScanResult) {
        guard let contents = blob.contents else {
            result.skippedLarge += 1
            return
        }
        scan(contents, path: blob.path, blob: blob.id, into: &result)
    }

    private func scan(_ bytes: [UInt8], path: String, blob: String?, into result: inout ScanResult) {
        guard !ContentScanner.isBinary(bytes) else {
            result.skippedBinary += 1
            return
        }
        result.scanned += 1
        for hit in scanner.scan(bytes) {
            result.findings.append(
                Finding(
                    path: path.hasPrefix("./") ? String(path.dropFirst(2)) : path, line: hit.line, kind: hit.kind,
                    credential: hit.credential, preview: hit.preview, fingerprint: hit.fingerprint, blob: blob
                )
            )
        }
    }
}

/// What a scan found and how much it read.
public struct ScanResult: Sendable, Hashable, Codable {
    /// The findings not allowlisted, in the order found.
    public var findings: [Finding] = []
    /// How many findings the allowlist suppressed.
    public var allowed = 0
    /// How many files or blobs were scanned.
    public var scanned = 0
    /// How many were skipped as binary.
    public var skippedBinary = 0
    /// How many were skipped as larger than the size limit.
    public var skippedLarge = 0

    /// An empty result.
    public init() {}
}
