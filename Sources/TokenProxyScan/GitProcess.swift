import Foundation

/// One `git` child process: its stdout streamed through a ``ByteStreamReader``, its stderr kept (bounded) in a
/// temporary file for the error message, its stdin a file or `/dev/null`.
///
/// Files rather than pipes for stdin and stderr, so git can never block on a pipe nobody reads while the scan waits
/// for its stdout. The environment is inherited: in a pre-commit hook, `GIT_INDEX_FILE` must reach git.
final class GitProcess {
    /// Its stdout.
    let output: ByteStreamReader
    private let process: Process
    private let stdout: Pipe
    private let stderrPath: String
    /// `git` and its arguments, for messages.
    let description: String
    /// How much of git's stderr an error message quotes.
    private static let stderrLimit = 4096

    /// Starts `git -C directory arguments…`.
    init(_ arguments: [String], in directory: String, stdinPath: String? = nil) throws(ScanError) {
        guard let git = Self.executable() else {
            throw ScanError("git is not installed (not found on PATH); --staged, --history and --install-hook need it")
        }
        description = "git " + arguments.joined(separator: " ")
        stderrPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenproxy-scan-git-\(UUID().uuidString).stderr").path
        guard FileManager.default.createFile(atPath: stderrPath, contents: nil),
            let stderr = FileHandle(forWritingAtPath: stderrPath)
        else { throw ScanError("cannot create a temporary file in \(NSTemporaryDirectory())") }
        defer { try? stderr.close() }
        let stdin = FileHandle(forReadingAtPath: stdinPath ?? "/dev/null")
        defer { try? stdin?.close() }
        process = Process()
        process.executableURL = URL(fileURLWithPath: git)
        process.arguments = ["-C", directory] + arguments
        process.standardInput = stdin
        stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(atPath: stderrPath)
            throw ScanError("cannot run \(git): \(error.localizedDescription)")
        }
        output = ByteStreamReader(descriptor: stdout.fileHandleForReading.fileDescriptor)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    /// Waits for git to exit; throws with git's message unless it exited 0 (or one of `acceptedStatuses`).
    @discardableResult
    func finish(acceptedStatuses: Set<Int32> = [0]) throws(ScanError) -> Int32 {
        // Drain what is left so git is not stuck writing to a full pipe.
        while (try? output.readLine(limit: .max)) != nil {}
        process.waitUntilExit()
        let status = process.terminationStatus
        guard acceptedStatuses.contains(status) else {
            let message = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            let trimmed = message.prefix(Self.stderrLimit).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ScanError("\(description) failed (exit \(status))" + (trimmed.isEmpty ? "" : ": \(trimmed)"))
        }
        return status
    }

    /// Stops git early (everything needed has been read).
    ///
    /// With SIGKILL: git inherits the signal mask of the thread that started it, and Swift concurrency's threads
    /// (where an async command runs us) block SIGTERM, so `terminate()` could leave git blocked on a full pipe forever.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? stdout.fileHandleForReading.close()
        process.waitUntilExit()
    }

    /// Runs `git -C directory arguments…` to the end and returns its stdout (at most `limit` bytes).
    static func capture(
        _ arguments: [String], in directory: String, limit: Int = 256 * 1024 * 1024
    ) throws(ScanError) -> [UInt8] {
        let git = try GitProcess(arguments, in: directory)
        let bytes: [UInt8]
        do {
            bytes = try git.output.readToEnd(limit: limit)
        } catch {
            git.stop()
            throw ScanError("\(git.description): \(error.description)")
        }
        try git.finish()
        return bytes
    }

    /// Like ``capture(_:in:limit:)``, as text without the trailing newline.
    static func text(_ arguments: [String], in directory: String) throws(ScanError) -> String {
        var bytes = try capture(arguments, in: directory)
        while bytes.last == 0x0A { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The path of `git` on `PATH`.
    static func executable() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/git"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
