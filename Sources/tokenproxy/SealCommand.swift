import ArgumentParser
import Foundation
import TokenProxyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tokenproxy seal NAME`: encrypts a token read on stdin to this proxy's seal key, for `source: sealed:…`.
struct SealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract: "Encrypt a token read on stdin to this proxy's seal key, for a committed 'source: sealed:…'.",
        discussion: """
            Reads the token from stdin (one trailing newline is dropped), or prompts for it without echo when \
            stdin is a terminal, and prints 'sealed:<blob>' on stdout. The blob opens only with the seal key in \
            the CA directory (seal-key.pem, created on first use) and only for credential NAME. The token is \
            never printed.

            Example: printf '%s' "$GITHUB_TOKEN" | tokenproxy seal github
            """
    )

    @Argument(help: "The credential the blob is for (its key under credentials:); it opens under no other name.")
    var name: String

    @OptionGroup var location: CACommand.Location

    func run() throws {
        try Self.failingCleanly {
            // A blob for a name the configuration cannot hold would be useless.
            guard ConfigurationLoader.isValidName(name) else {
                throw CLIFailure("credential name '\(name)' may contain only letters, digits, '-', '_' and '.'")
            }
            // The key first: a key problem (say, mode 644) should stop us before anyone types a token.
            let (key, created) = try SealingKey.loadOrCreate(directory: try location.paths().directory)
            if created {
                printError(
                    "created seal key \(key.path) (mode 0600); blobs sealed to it open only with this file, "
                        + "so back it up with the CA"
                )
            }
            let secret = try SecretInput.readSecret(prompt: "enter the secret for \(name), then Enter: ")
            let blob = try key.seal(secret, name: name)
            print("sealed:\(blob)")
            printError("paste into credentials.\(name).source (sealed for key \(key.publicKeyFingerprint))")
        }
    }
}

/// Reads the token for `seal` from stdin.
enum SecretInput {
    /// The most accepted, as for file: sources.
    static let limit = 64 * 1024

    /// Reads all of a piped stdin, or one line typed without echo at a terminal; drops one trailing newline.
    static func readSecret(prompt: String) throws -> Secret {
        var bytes = isatty(STDIN_FILENO) == 1 ? try readTypedLine(prompt: prompt) : try readAll()
        guard bytes.count <= limit else {
            throw CLIFailure("stdin holds more than 64 KiB; is it really a token?")
        }
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        guard !bytes.isEmpty else {
            throw CLIFailure("nothing was read on stdin; pipe the token in, or run this in a terminal to type it")
        }
        let secret = Secret(bytes: bytes)
        // It would be refused when the proxy opens it; refuse it now, while the user is here to fix it.
        guard !secret.containsHeaderUnsafeBytes else {
            throw CLIFailure(
                "the token contains a line break or control character, which cannot go into a header; "
                    + "pipe in exactly one line"
            )
        }
        return secret
    }

    private static func readAll() throws -> [UInt8] {
        do {
            return Array(try FileHandle.standardInput.read(upToCount: limit + 1) ?? Data())
        } catch {
            throw CLIFailure("cannot read stdin: \(error.localizedDescription)")
        }
    }

    /// One line from the terminal with echo off, restored afterwards even when the user presses Ctrl-C.
    private static func readTypedLine(prompt: String) throws -> [UInt8] {
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        let canSilence = tcgetattr(STDIN_FILENO, &original) == 0
        if canSilence {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            savedTerminal = original
            for number in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
                signal(number, restoreTerminalAndDie)
            }
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if canSilence {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                for number in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
                    signal(number, SIG_DFL)
                }
            }
            // The user's Enter was not echoed either.
            FileHandle.standardError.write(Data("\n".utf8))
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= limit {
            let count = read(STDIN_FILENO, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { break }
            line.append(byte)
            if byte == UInt8(ascii: "\n") { break }
        }
        return line
    }
}

/// The terminal settings to put back if a signal ends `seal` while echo is off. Written once, before the
/// handlers that read it are installed.
nonisolated(unsafe) private var savedTerminal = termios()

/// Restores echo, then dies of the same signal so the shell sees the usual status.
private func restoreTerminalAndDie(_ signalNumber: Int32) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminal)
    // End the prompt's line; write(2) is safe in a signal handler where FileHandle is not.
    var newline = UInt8(ascii: "\n")
    _ = write(STDERR_FILENO, &newline, 1)
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}
