import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process whose output goes to files and whose every wait is bounded.
///
/// Output goes to files rather than pipes so that a chatty child can never block on a full pipe while the test
/// waits for it, and so the canary check can scan it afterwards with everything else in the test directory.
/// Used from one test task only, hence not `Sendable`.
final class ChildProcess {
    /// The child's environment: only `PATH` and `HOME` from the test process, then `extra`.
    ///
    /// Nothing else leaks in: no `NO_PROXY`/`no_proxy` (which would make clients bypass the proxy for
    /// `localhost`), no `*_PROXY` or CA variables from the developer's shell, and never `TP_E2E_TOKEN` unless
    /// the caller sets it, which only the proxy launcher does.
    static func cleanEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var environment: [String: String] = [
            "PATH": inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": inherited["HOME"] ?? "/tmp",
            "LANG": "C.UTF-8",
        ]
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// The absolute path of `name` found on `PATH`, or `nil`.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }

    /// The executable that was launched.
    let executable: String
    /// Its arguments.
    let arguments: [String]
    /// Where its standard output goes.
    let stdoutPath: String
    /// Where its standard error goes.
    let stderrPath: String

    private let process = Process()
    private let handles: [FileHandle]
    private var handlesClosed = false

    /// The child's process id.
    var pid: Int32 { process.processIdentifier }

    /// Whether the child is still running.
    var isRunning: Bool { process.isRunning }

    /// Starts `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - environment: the complete environment of the child (see ``cleanEnvironment(_:)``).
    ///   - stdinPath: a file to feed as standard input, or `nil` for `/dev/null`.
    init(
        executable: String,
        arguments: [String],
        environment: [String: String],
        stdinPath: String? = nil,
        stdoutPath: String,
        stderrPath: String
    ) throws {
        self.executable = executable
        self.arguments = arguments
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        for path in [stdoutPath, stderrPath] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ChildProcessError.cannotCreate(path)
            }
        }
        guard
            let stdout = FileHandle(forWritingAtPath: stdoutPath),
            let stderr = FileHandle(forWritingAtPath: stderrPath)
        else { throw ChildProcessError.cannotCreate(stdoutPath) }
        var handles = [stdout, stderr]
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = stdout
        process.standardError = stderr
        if let stdinPath {
            guard let stdin = FileHandle(forReadingAtPath: stdinPath) else {
                throw ChildProcessError.cannotOpen(stdinPath)
            }
            handles.append(stdin)
            process.standardInput = stdin
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        self.handles = handles
        do {
            try process.run()
        } catch {
            handles.forEach { try? $0.close() }
            throw ChildProcessError.cannotLaunch(executable, String(describing: error))
        }
    }

    /// Waits until the child exits or `timeout` passes; returns the exit status, or `nil` on timeout.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                return nil
            }
            // Polling keeps this free of `Process.terminationHandler`, whose closure would have to be `Sendable`.
            try? await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        closeHandles()
        return process.terminationStatus
    }

    /// Sends SIGTERM, then SIGKILL if the child has not exited after `grace`.
    ///
    /// - Returns: the exit status, and whether SIGKILL was needed.
    @discardableResult
    func stop(grace: Duration) async -> (status: Int32, killed: Bool) {
        guard process.isRunning else {
            process.waitUntilExit()
            closeHandles()
            return (process.terminationStatus, false)
        }
        kill(process.processIdentifier, SIGTERM)
        if let status = await waitForExit(timeout: grace) {
            return (status, false)
        }
        kill(process.processIdentifier, SIGKILL)
        // SIGKILL cannot be ignored; this wait only covers the kernel reaping the process.
        let status = await waitForExit(timeout: .seconds(10)) ?? -1
        return (status, true)
    }

    private func closeHandles() {
        guard !handlesClosed else { return }
        handlesClosed = true
        handles.forEach { try? $0.close() }
    }

    /// Why a child could not be started.
    enum ChildProcessError: Error, CustomStringConvertible {
        case cannotCreate(String)
        case cannotOpen(String)
        case cannotLaunch(String, String)

        var description: String {
            switch self {
            case .cannotCreate(let path): "cannot create output file \(path)"
            case .cannotOpen(let path): "cannot open input file \(path)"
            case .cannotLaunch(let executable, let error): "cannot launch \(executable): \(error)"
            }
        }
    }
}
