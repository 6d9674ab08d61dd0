import Foundation

/// The files a plain `tokenproxy scan PATH` reads: what git would track under PATH (tracked and untracked files,
/// without the ignored ones) inside a git work tree; every regular file elsewhere, skipping `.git` and `.build*`.
enum WorkingTreeFiles {
    /// The files under `path` (or `path` itself when it is a file), as the scan names them. Blocking.
    static func list(_ path: String) throws(ScanError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ScanError("\(path) does not exist")
        }
        guard isDirectory.boolValue else { return [path] }
        let relative = isInsideWorkTree(path) ? try gitListed(path) : walked(path)
        return relative.map { join(path, $0) }.sorted()
    }

    /// Whether `directory` is inside a git work tree (false when git is missing or says no).
    static func isInsideWorkTree(_ directory: String) -> Bool {
        (try? GitProcess.text(["rev-parse", "--is-inside-work-tree"], in: directory)) == "true"
    }

    /// `git ls-files --cached --others --exclude-standard`: tracked and untracked, `.gitignore` respected.
    private static func gitListed(_ directory: String) throws(ScanError) -> [String] {
        let output = try GitProcess.capture(
            ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate"], in: directory
        )
        return output.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every regular file below `directory` (symbolic links are not followed), skipping `.git` and `.build*`.
    private static func walked(_ directory: String) -> [String] {
        let root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        let keys: [URLResourceKey] = [.isDirectoryKey, .isRegularFileKey]
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: keys) else {
            return []
        }
        var files: [String] = []
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in enumerator {
            let values = try? url.resourceValues(forKeys: Set(keys))
            let name = url.lastPathComponent
            if values?.isDirectory == true {
                if name == ".git" || name.hasPrefix(".build") { enumerator.skipDescendants() }
                continue
            }
            guard values?.isRegularFile == true, url.path.hasPrefix(prefix) else { continue }
            files.append(String(url.path.dropFirst(prefix.count)))
        }
        return files
    }

    /// `directory/relative`, without a leading `./` when the directory is `.`.
    private static func join(_ directory: String, _ relative: String) -> String {
        if directory == "." || directory == "./" { return relative }
        return directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
    }
}
