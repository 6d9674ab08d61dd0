import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `command:` source: a program the proxy runs, whose standard output is the token.
///
/// The program is started directly with `posix_spawn`, never through a shell, so nothing in `argv` is expanded,
/// globbed or split. A bare `argv[0]` (no `/`) is looked up in the `PATH` of the environment it is given.
///
/// The child gets exactly the environment passed to ``run(environment:)`` (the proxy's own variables may hold
/// other tokens), `/dev/null` as standard input (so a program that would prompt fails instead of hanging), its
/// own process group (so a timeout also stops whatever it started), an empty signal mask and default signal
/// dispositions (the proxy's threads block and ignore signals the child must honour), and none of the proxy's file
/// descriptors besides its three standard ones.
public struct CommandSecretSource: Sendable, Hashable {
    /// The program and its arguments. `argv[0]` is looked up in `PATH` when it contains no `/`.
    public var argv: [String]
    /// How long the program may run before it is stopped (SIGTERM, then SIGKILL a second later).
    public var timeout: Duration
    /// Variables of the proxy's environment passed on to the program beyond the basic set (``basicEnvironment``),
    /// such as `VAULT_ADDR` and `VAULT_TOKEN` for `vault`.
    public var passedVariables: [String] = []

    /// The variables every program gets when the proxy has them: what a CLI needs to find its configuration,
    /// and nothing that commonly holds a credential.
    public static let basicEnvironment: Set<String> = [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "TERM", "SHELL",
    ]

    /// The environment the program gets from the proxy's `environment`: the basic set (and `LC_*`, `XDG_*`) plus
    /// ``passedVariables``, minus any variable in `excluded` that is not explicitly passed.
    public func childEnvironment(from environment: [String: String], excluding excluded: Set<String>) -> [String: String] {
        environment.filter { name, _ in
            if passedVariables.contains(name) { return true }
            if excluded.contains(name) { return false }
            return Self.basicEnvironment.contains(name) || name.hasPrefix("LC_") || name.hasPrefix("XDG_")
        }
    }

    /// The most standard output accepted; a token is far smaller, so more means the wrong program.
    public static let outputLimit = 64 * 1024
    /// How much of the end of standard error is kept for messages (the end is where tools say what went wrong).
    public static let errorOutputLimit = 4 * 1024

    /// How long a program has to exit after SIGTERM before it gets SIGKILL.
    static let terminationGrace: Duration = .seconds(1)

    /// Creates a source that runs `argv`.
    public init(argv: [String], timeout: Duration = .seconds(10)) {
        self.argv = argv
        self.timeout = timeout
    }

    /// Runs the program and returns its stdout (one trailing "\n" or "\r\n" stripped) as a Secret.
    ///
    /// Blocking: it waits for the program for up to ``timeout`` (plus the termination grace), so callers run it
    /// off event loops.
    ///
    /// - Parameter environment: the complete environment of the child. Nothing of the proxy's own environment is
    ///   passed on unless it is in here; `PATH` in here is also where a bare `argv[0]` is looked up (the proxy's
    ///   own `PATH` when this has none).
    /// - Throws: ``CommandSourceError`` when the program cannot be started, fails, times out, prints nothing,
    ///   prints more than 64 KiB, or prints a line break or control character inside the value. Its message
    ///   never contains what the program printed on stdout.
    public func run(environment: [String: String]) throws(CommandSourceError) -> Secret {
        guard let program = argv.first, !program.isEmpty else {
            throw CommandSourceError("the command is empty")
        }
        let executable = try Self.locate(program, environment: environment)
        let collected = try CommandRun.start(executable: executable, argv: argv, environment: environment)
            .collect(timeout: timeout)

        var output = collected.stdout
        switch collected.termination {
        case .outputTooLarge:
            // Nothing of the output or of stderr: the output is most of a token or a file that holds one.
            throw CommandSourceError("output larger than 64 KiB; is this really a command that prints a token?")
        case .timedOut:
            throw CommandSourceError(
                "timed out after \(Self.format(timeout)) s" + Self.errorSuffix(collected, output: output)
            )
        case .signalled(let signal):
            throw CommandSourceError(
                "was killed by signal \(signal)" + Self.errorSuffix(collected, output: output)
            )
        case .exited(let status) where status != 0:
            throw CommandSourceError(
                "exited with status \(status)" + Self.errorSuffix(collected, output: output)
            )
        case .exited:
            break
        }
        if output.last == UInt8(ascii: "\n") {
            output.removeLast()
            if output.last == UInt8(ascii: "\r") { output.removeLast() }
        }
        guard !output.isEmpty else {
            throw CommandSourceError("printed nothing" + Self.errorSuffix(collected, output: output))
        }
        let secret = Secret(bytes: output)
        // The same rule as for env: and file: values, checked here too so the message can say which command.
        guard !secret.containsHeaderUnsafeBytes else {
            throw CommandSourceError(
                "output contains a line break or control character; a token must be printed on one line"
            )
        }
        return secret
    }

    /// `": <stderr>"`, sanitised, or nothing when the program wrote nothing useful on stderr.
    private static func errorSuffix(_ collected: CommandRun.Collected, output: [UInt8]) -> String {
        let text = ErrorOutputSanitizer.message(
            errorOutput: collected.stderrTail, truncated: collected.stderrTruncated, redacting: output
        )
        return text.isEmpty ? "" : ": \(text)"
    }

    /// `10`, `0.5`: seconds without a useless fraction.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard attoseconds != 0 else { return String(seconds) }
        var text = String(format: "%.3f", duration.timeInterval)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    /// The path to execute for `program`: itself when it contains a `/`, else the first executable regular file
    /// named `program` in a directory of `PATH`.
    static func locate(_ program: String, environment: [String: String]) throws(CommandSourceError) -> String {
        if program.contains("/") {
            var info = stat()
            guard stat(program, &info) == 0 else {
                throw CommandSourceError("program \(program) was not found: \(String(cString: strerror(errno)))")
            }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw CommandSourceError("program \(program) is not a regular file")
            }
            guard access(program, X_OK) == 0 else {
                throw CommandSourceError("program \(program) is not executable; run chmod +x \(program)")
            }
            return program
        }
        let searchPath = environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        var notExecutable: String?
        // Only absolute directories: an empty or relative PATH entry would run whatever the proxy's working
        // directory happens to contain under that name.
        for directory in searchPath.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(program)" : "\(directory)/\(program)"
            var info = stat()
            guard stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            notExecutable = notExecutable ?? candidate
        }
        if let notExecutable {
            throw CommandSourceError("program '\(program)' was found at \(notExecutable) but is not executable")
        }
        throw CommandSourceError(
            "program '\(program)' was not found in PATH (\(searchPath)); give its absolute path or set PATH"
        )
    }
}

/// Why a `command:` source produced no token.
///
/// The message never contains the program's standard output, and its standard error only with control
/// characters removed and any copy of the standard output replaced by `<redacted>`.
public struct CommandSourceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, on one line.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// One run of a program: spawned with pipes for stdout and stderr, then read to the end or to the deadline.
private struct CommandRun {
    /// How the run ended.
    enum Termination {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case outputTooLarge
    }

    /// What was read, and how the run ended.
    struct Collected {
        var stdout: [UInt8]
        var stderrTail: [UInt8]
        var stderrTruncated: Bool
        var termination: Termination
    }

    /// How much of the end of stderr is kept while reading: the message shows only the last 4 KiB, but a copy
    /// of stdout that straddles that cut must still be found whole to be redacted, so keep a stdout's worth more.
    static let stderrRetention = CommandSecretSource.errorOutputLimit + CommandSecretSource.outputLimit + readSize
    static let readSize = 16 * 1024
    /// How often the child is checked for having exited while its pipes stay open.
    static let pollInterval: Int32 = 50

    let pid: pid_t
    let stdoutDescriptor: Int32
    let stderrDescriptor: Int32

    /// Starts `executable` with `argv` and exactly `environment`.
    static func start(
        executable: String, argv: [String], environment: [String: String]
    ) throws(CommandSourceError) -> CommandRun {
        let program = argv[0]
        for (name, value) in environment {
            guard !name.isEmpty, !name.contains("="), !name.utf8.contains(0), !value.utf8.contains(0) else {
                throw CommandSourceError("the environment for '\(program)' has an invalid variable '\(name)'")
            }
        }
        let stdoutPipe = try makePipe()
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stderrPipe = try makePipe()
        } catch {
            close(stdoutPipe.read)
            close(stdoutPipe.write)
            throw error
        }

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_adddup2(&fileActions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&fileActions, stderrPipe.write, 2)
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        // NIO opens sockets without close-on-exec: without this the child would hold the proxy's listening and
        // client sockets (and whatever else is open) for as long as it runs.
        if let addCloseFrom = addCloseFrom {
            _ = addCloseFrom(&fileActions, 3)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a timeout stops the helpers a wrapper script started as well.
        SpawnSignalState.apply(
            to: &attributes,
            defaulting: [SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2],
            ownProcessGroup: true
        )

        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &fileActions, &attributes, arguments, variables)
        // The child has its copies; ours must go so that end of file arrives when the child's do.
        close(stdoutPipe.write)
        close(stderrPipe.write)
        guard result == 0 else {
            close(stdoutPipe.read)
            close(stderrPipe.read)
            switch result {
            case ENOENT:
                // The file was there a moment ago, so what is missing is usually its #! interpreter.
                throw CommandSourceError(
                    "program '\(program)' (\(executable)) could not be started: it or its #! interpreter was not found"
                )
            case EACCES:
                throw CommandSourceError("program '\(program)' is not executable (\(executable): permission denied)")
            case ENOEXEC:
                throw CommandSourceError("program '\(program)' is not an executable file (\(executable))")
            default:
                throw CommandSourceError("cannot start program '\(program)': \(String(cString: strerror(result)))")
            }
        }
        return CommandRun(pid: pid, stdoutDescriptor: stdoutPipe.read, stderrDescriptor: stderrPipe.read)
    }

    /// Reads stdout and stderr together until both end and the child has exited, or the deadline passes, or
    /// stdout grows past the limit. Always reaps the child and closes the pipes.
    ///
    /// Both pipes are read in one `poll` loop: a program that fills the stderr pipe while we wait on stdout (or
    /// the reverse) would otherwise block forever.
    func collect(timeout: Duration) -> Collected {
        defer {
            close(stdoutDescriptor)
            close(stderrDescriptor)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var stderrTruncated = false
        var stdoutOpen = true
        var stderrOpen = true
        var childGone = false
        var exitBackoff: Int32 = 1
        var buffer = [UInt8](repeating: 0, count: Self.readSize)

        /// Reads what one pipe has; returns false at end of file.
        func drain(_ descriptor: Int32, into target: inout [UInt8]) -> Bool {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                target.append(contentsOf: buffer[0..<count])
                return true
            }
            return count < 0 && (errno == EINTR || errno == EAGAIN)
        }

        func finish(_ termination: Termination) -> Collected {
            if stderr.count > Self.stderrRetention {
                stderr.removeFirst(stderr.count - Self.stderrRetention)
                stderrTruncated = true
            }
            return Collected(
                stdout: stdout, stderrTail: stderr, stderrTruncated: stderrTruncated, termination: termination
            )
        }

        // The child is only reaped at the end: until then its pid, and so its process group id, cannot be reused,
        // and signalling the group can only ever reach what it started.
        while true {
            if !childGone { childGone = hasExited() }
            if childGone && !stdoutOpen && !stderrOpen { break }
            let remaining = deadline - clock.now
            if remaining <= .zero {
                // A child that exited on time is not a timeout, even if something it left behind still holds
                // the pipes open.
                if childGone { break }
                return finish(terminate(reason: .timedOut))
            }
            if !stdoutOpen && !stderrOpen {
                // Both pipes ended but the child has not exited yet: usually it is about to, so check again soon,
                // backing off towards the poll interval in case it lingers.
                let pause = min(exitBackoff, Self.pollInterval, Self.milliseconds(remaining))
                usleep(useconds_t(pause) * 1000)
                exitBackoff = min(exitBackoff * 2, Self.pollInterval)
                continue
            }
            var descriptors: [pollfd] = []
            if stdoutOpen { descriptors.append(pollfd(fd: stdoutDescriptor, events: Int16(POLLIN), revents: 0)) }
            if stderrOpen { descriptors.append(pollfd(fd: stderrDescriptor, events: Int16(POLLIN), revents: 0)) }
            // Once the child has exited, what it wrote is already in the pipes: read that without waiting, rather
            // than wait for a background process it left behind to close its copies.
            let wait = childGone ? 0 : min(Self.pollInterval, Self.milliseconds(remaining))
            let ready = poll(&descriptors, nfds_t(descriptors.count), wait)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 {
                if childGone { break }
                continue
            }
            for entry in descriptors where entry.revents != 0 {
                if entry.fd == stdoutDescriptor {
                    stdoutOpen = drain(stdoutDescriptor, into: &stdout)
                } else {
                    stderrOpen = drain(stderrDescriptor, into: &stderr)
                    // Keep only the end; trim in large steps so a chatty program costs linear time.
                    if stderr.count > 2 * Self.stderrRetention {
                        stderr.removeFirst(stderr.count - Self.stderrRetention)
                        stderrTruncated = true
                    }
                }
            }
            if stdout.count > CommandSecretSource.outputLimit {
                return finish(terminate(reason: .outputTooLarge))
            }
        }
        return finish(Self.termination(fromWaitStatus: reap()))
    }

    /// Stops the child's process group (SIGTERM, then SIGKILL after the grace period) and reaps the child.
    private func terminate(reason: Termination) -> Termination {
        kill(-pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + CommandSecretSource.terminationGrace
        // Wait without reaping, so the SIGKILL below can only reach the processes the child started.
        while !hasExited() && clock.now < deadline {
            usleep(10_000)
        }
        kill(-pid, SIGKILL)
        _ = reap()
        return reason
    }

    /// Whether the child has exited, leaving it unreaped.
    private func hasExited() -> Bool {
        var info = siginfo_t()
        let result = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if result < 0 { return errno != EINTR }
        #if canImport(Glibc)
        return info._sifields._sigchld.si_pid != 0
        #else
        return info.si_pid != 0
        #endif
    }

    /// Waits for the child to exit and returns its wait status.
    private func reap() -> Int32 {
        var status: Int32 = 0
        while true {
            if waitpid(pid, &status, 0) == pid { return status }
            if errno == EINTR { continue }
            // Reaped by someone else (ECHILD): nothing more can be learnt; treat it as a plain failure.
            return 1 << 8
        }
    }

    private static func termination(fromWaitStatus status: Int32) -> Termination {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: max(total, 0))
    }

    /// A pipe whose ends are close-on-exec, so that a program spawned concurrently by another thread never
    /// inherits them (which would keep our end of file from arriving).
    private static func makePipe() throws(CommandSourceError) -> (read: Int32, write: Int32) {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            throw CommandSourceError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        return (descriptors[0], descriptors[1])
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time because the Glibc module
    /// does not declare it.
    private static let addCloseFrom: AddCloseFrom? = {
        guard
            let handle = dlopen(nil, RTLD_NOW),
            let symbol = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}

/// Turns the end of a program's stderr into one safe line for an error message.
enum ErrorOutputSanitizer {
    /// The last 4 KiB of `errorOutput` with every copy of `output` (and of each of its lines) replaced by
    /// `<redacted>`, then control and format characters replaced by spaces, whitespace runs collapsed.
    ///
    /// Some tools echo the token they printed in their diagnostics; those copies must not reach a log.
    static func message(errorOutput: [UInt8], truncated: Bool, redacting output: [UInt8]) -> String {
        let secrets = needles(output)
        // Mark every byte that belongs to a copy of a secret, in the whole retained tail, before cutting it to
        // the part shown: a copy that straddles the cut is then still found whole.
        var masked = [Bool](repeating: false, count: errorOutput.count)
        for needle in secrets {
            markOccurrences(of: needle, in: errorOutput, mask: &masked)
        }
        let start = max(0, errorOutput.count - CommandSecretSource.errorOutputLimit)
        var shown: [UInt8] = []
        var index = start
        while index < errorOutput.count {
            if masked[index] {
                shown.append(contentsOf: Array("<redacted>".utf8))
                while index < errorOutput.count && masked[index] { index += 1 }
            } else {
                shown.append(errorOutput[index])
                index += 1
            }
        }

        var text = ""
        var pendingSpace = false
        for scalar in String(decoding: shown, as: UTF8.self).unicodeScalars {
            let category = scalar.properties.generalCategory
            if category == .control || category == .format || scalar.properties.isWhitespace {
                pendingSpace = !text.isEmpty
                continue
            }
            if pendingSpace {
                text.unicodeScalars.append(" ")
                pendingSpace = false
            }
            text.unicodeScalars.append(scalar)
        }
        // Removing control characters can join pieces of a copy that they interrupted: look again.
        for needle in secrets {
            let value = String(decoding: needle, as: UTF8.self)
            if text.contains(value) {
                text = text.replacingOccurrences(of: value, with: "<redacted>")
            }
        }
        if text.isEmpty { return "" }
        return (truncated || start > 0) ? "…" + text : text
    }

    /// The whole output without its trailing line break, and each non-empty line of it.
    private static func needles(_ output: [UInt8]) -> [[UInt8]] {
        var result: Set<[UInt8]> = []
        var lines = output.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map(Array.init)
        lines = lines.map { $0.last == UInt8(ascii: "\r") ? Array($0.dropLast()) : $0 }
        var whole = output
        while let last = whole.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { whole.removeLast() }
        for candidate in [whole] + lines where !candidate.isEmpty {
            result.insert(candidate)
        }
        // Longest first, so a whole-output copy is redacted as one piece.
        return result.sorted { $0.count > $1.count }
    }

    /// Marks every occurrence of `needle` in `haystack` (Knuth–Morris–Pratt: linear even for 64 KiB needles).
    static func markOccurrences(of needle: [UInt8], in haystack: [UInt8], mask: inout [Bool]) {
        guard !needle.isEmpty, needle.count <= haystack.count else { return }
        var failure = [Int](repeating: 0, count: needle.count)
        var length = 0
        for index in 1..<max(needle.count, 1) {
            while length > 0 && needle[index] != needle[length] { length = failure[length - 1] }
            if needle[index] == needle[length] { length += 1 }
            failure[index] = length
        }
        var matched = 0
        for (index, byte) in haystack.enumerated() {
            while matched > 0 && byte != needle[matched] { matched = failure[matched - 1] }
            if byte == needle[matched] { matched += 1 }
            if matched == needle.count {
                for position in (index - needle.count + 1)...index { mask[position] = true }
                matched = failure[matched - 1]
            }
        }
    }
}
