import Dispatch
import Foundation
import TokenProxyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The command `tokenproxy run` runs: spawned with a clean signal state, sent the signals tokenproxy receives, and
/// waited for on a thread of its own.
///
/// Spawned with `posix_spawnp` rather than Foundation's `Process` because a child inherits the signal mask of the
/// spawning thread, and Swift's pool threads block SIGINT and SIGTERM: through `Process` the command would start
/// deaf to Ctrl-C. Here it gets an empty mask and default dispositions, as it would from a shell.
final class ChildCommand: Sendable {
    /// The signals passed on to the child rather than acted on by tokenproxy.
    static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// The child's process id.
    let pid: pid_t

    /// Starts `argv` (the program is looked up on `PATH` in `environment`) with `environment`, inheriting stdin,
    /// stdout and stderr.
    init(argv: [String], environment: [String: String]) throws {
        guard let program = argv.first, !program.isEmpty else {
            throw CLIFailure("no command given; write it after '--', for example: tokenproxy run -- curl https://…")
        }
        // From here on tokenproxy ignores the signals it forwards (the child gets them back at their defaults), so a
        // Ctrl-C between the spawn and `forwardSignals()` cannot kill tokenproxy and orphan the child.
        for signalNumber in Self.forwardedSignals {
            signal(signalNumber, SIG_IGN)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        SpawnSignalState.apply(to: &attributes, defaulting: Self.forwardedSignals + [SIGPIPE, SIGCHLD])

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        // NIO opens sockets without close-on-exec; the child must not hold the proxy's listener or connections.
        if let addCloseFrom = Self.addCloseFrom() {
            _ = addCloseFrom(&fileActions, 3)
        }

        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        // posix_spawnp searches the PATH of the *calling* process; resolve against the child's own PATH instead.
        let executable = Self.resolve(program, path: environment["PATH"])
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &fileActions, &attributes, arguments, variables)
        guard result == 0 else {
            let reason = String(cString: strerror(result))
            throw CLIFailure(
                result == ENOENT
                    ? "command not found: \(program) (not on PATH; give its full path)"
                    : "cannot start \(program): \(reason)"
            )
        }
        self.pid = pid
    }

    /// Passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on to the child for as long as the returned sources live.
    ///
    /// tokenproxy itself ignores them meanwhile: it stops when the child exits, whatever made it exit.
    func forwardSignals() -> [any DispatchSourceSignal] {
        let pid = self.pid
        return Self.forwardedSignals.map { signalNumber in
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { kill(pid, signalNumber) }
            source.resume()
            return source
        }
    }

    /// Waits for the child on a dedicated thread (`waitpid` blocks) and returns its status as a shell reports it:
    /// the exit code, or 128 + the signal that killed it.
    func exitStatus() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 {
                    guard errno == EINTR else {
                        continuation.resume(returning: 1)
                        return
                    }
                }
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
            }
        }
    }

    /// The path of `program`: as given when it contains a `/`, else the first executable match on `path`.
    private static func resolve(_ program: String, path: String?) -> String {
        guard !program.contains("/") else { return program }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return program
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time because the Glibc module
    /// does not declare it.
    private static func addCloseFrom() -> AddCloseFrom? {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }
}
