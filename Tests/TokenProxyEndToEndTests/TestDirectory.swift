import Foundation

/// A unique scratch directory for one end-to-end test, removed again when the test is done.
///
/// Everything a test produces lives here: certificates, the proxy's config and CA, its audit log and the captured
/// output of every subprocess. Keeping it all in one tree lets the canary check scan every byte a test wrote.
struct TestDirectory: Sendable {
    /// The directory itself.
    let url: URL

    /// The directory's absolute path, for command lines and config files.
    var path: String { url.path }

    /// Creates a fresh directory under the system temp directory.
    ///
    /// - Parameter label: a short, readable hint included in the name, to find a kept directory while debugging.
    init(label: String) throws {
        let name = "tokenproxy-e2e-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The absolute path of `relativePath` inside the directory (not created).
    func file(_ relativePath: String) -> String {
        url.appendingPathComponent(relativePath).path
    }

    /// Creates (if needed) a subdirectory and returns its absolute path.
    func subdirectory(_ name: String) throws -> String {
        let sub = url.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        return sub.path
    }

    /// Writes `contents` to `relativePath` and returns the absolute path.
    @discardableResult
    func write(_ contents: String, to relativePath: String) throws -> String {
        try write(Data(contents.utf8), to: relativePath)
    }

    /// Writes `data` to `relativePath` and returns the absolute path.
    @discardableResult
    func write(_ data: Data, to relativePath: String) throws -> String {
        let target = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try data.write(to: target)
        return target.path
    }

    /// Every regular file below the directory, as absolute paths.
    func allFiles() -> [String] {
        guard
            let enumerator = FileManager.default.enumerator(
                at: url,
                includingPropertiesForKeys: [.isRegularFileKey]
            )
        else { return [] }
        var files: [String] = []
        for case let fileURL as URL in enumerator {
            let values = try? fileURL.resourceValues(forKeys: [.isRegularFileKey])
            if values?.isRegularFile == true {
                files.append(fileURL.path)
            }
        }
        return files.sorted()
    }

    /// Deletes the directory and everything in it.
    ///
    /// Set `TOKENPROXY_E2E_KEEP=1` to keep it for a post-mortem; the path is printed instead.
    func remove() {
        if ProcessInfo.processInfo.environment["TOKENPROXY_E2E_KEEP"] == "1" {
            print("tokenproxy e2e: kept \(path)")
            return
        }
        try? FileManager.default.removeItem(at: url)
    }
}
