import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose output goes to files and whose every wait is bounded.
///
/// Started with `posix_spawn` rather than Foundation's `Process` for one reason: a child inherits the signal mask
/// of the thread that spawns it, and Swift concurrency's pool threads block SIGTERM and SIGINT. Through `Process`,
/// the proxy would start with SIGTERM blocked and the graceful-shutdown path would never be exercised; here the
/// child gets an empty mask and default dispositions, as it would from a shell.
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
    /// The child's process id.
    let pid: pid_t

    /// The exit status once the child has been reaped.
    private var exitStatus: Int32?

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

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // NIO opens sockets without close-on-exec; without this, a client spawned while an origin answers would
        // hold that connection (or the origin's listening socket) open after the origin closed it.
        if let addCloseFrom = Self.addCloseFrom() {
            _ = addCloseFrom(&fileActions, 3)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaulted = sigset_t()
        sigemptyset(&defaulted)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] {
            sigaddset(&defaulted, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaulted)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard result == 0 else {
            throw ChildProcessError.cannotLaunch(executable, String(cString: strerror(result)))
        }
        self.pid = pid
    }

    deinit {
        // A child still running here means a test bailed out early: do not leave it behind.
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Whether the child is still running (reaping it if it has exited).
    var isRunning: Bool {
        reap()
        return exitStatus == nil
    }

    /// Waits until the child exits or `timeout` passes; returns the exit status, or `nil` on timeout.
    ///
    /// A child killed by a signal reports 128 + the signal number, as a shell would.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline {
                return nil
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return exitStatus
    }

    /// Sends SIGTERM, then SIGKILL if the child has not exited after `grace`.
    ///
    /// - Returns: the exit status, and whether SIGKILL was needed.
    @discardableResult
    func stop(grace: Duration) async -> (status: Int32, killed: Bool) {
        guard isRunning else {
            return (exitStatus ?? -1, false)
        }
        kill(pid, SIGTERM)
        if let status = await waitForExit(timeout: grace) {
            return (status, false)
        }
        kill(pid, SIGKILL)
        // SIGKILL cannot be ignored; this wait only covers the kernel reaping the process.
        let status = await waitForExit(timeout: .seconds(10)) ?? -1
        return (status, true)
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time because the Glibc module
    /// does not declare it.
    private static func addCloseFrom() -> AddCloseFrom? {
        guard
            let handle = dlopen(nil, RTLD_NOW),
            let symbol = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }

    private func reap() {
        guard exitStatus == nil else { return }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else {
            if result < 0 && errno == ECHILD {
                // Reaped elsewhere; nothing more can be learned about it.
                exitStatus = -1
            }
            return
        }
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Why a child could not be started.
    enum ChildProcessError: Error, CustomStringConvertible {
        case cannotLaunch(String, String)

        var description: String {
            switch self {
            case .cannotLaunch(let executable, let error): "cannot launch \(executable): \(error)"
            }
        }
    }
}

extension ChildProcess {
    /// The child's stderr once it contains `needle`, or as it is after `timeout`. A proxy writes the log lines of
    /// requests from a background thread a few milliseconds later, so a test that has just seen a response polls.
    func stderr(containing needle: String, timeout: Duration = .seconds(5)) async -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            if text.contains(needle) || clock.now >= deadline { return text }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
