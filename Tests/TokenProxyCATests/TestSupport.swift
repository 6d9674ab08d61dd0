import Foundation
import Testing

@testable import TokenProxyCA

/// A directory under the system temporary directory, unique to one test, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("tokenproxy-ca-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// `name` inside the directory.
    func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    /// Writes `text` to `name` and returns the path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        let target = file(name)
        try text.write(toFile: target, atomically: false, encoding: .utf8)
        return target
    }

    /// CA paths in a subdirectory that does not exist yet.
    func caPaths(_ name: String = "ca") -> CertificateAuthority.Paths {
        CertificateAuthority.Paths(directory: file(name))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh temporary directory and removes it afterwards.
func withTemporaryDirectory<Result>(_ body: (TemporaryDirectory) throws -> Result) throws -> Result {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try body(directory)
}

/// The permission bits of `path`.
func permissions(of path: String) throws -> Int {
    var info = stat()
    guard stat(path, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return Int(info.st_mode & 0o777)
}

/// What a command printed (stdout and stderr together) and how it exited.
struct CommandResult {
    var status: Int32
    var output: String
}

/// Runs the system `openssl` with `arguments`: an independent implementation to check our certificates against.
func openssl(_ arguments: [String]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["openssl"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read before waiting so a full pipe cannot block the child.
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// The `CAError` a throwing CA call raises, or `nil` if it succeeds (or throws anything else).
func caError<T>(_ body: () throws -> T) -> CAError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error as? CAError
    }
}
