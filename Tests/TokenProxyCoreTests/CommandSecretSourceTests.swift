import Foundation
import Testing

@testable import TokenProxyCore

/// `command:` sources: real programs run through `/bin/sh -c` or directly (the shell is the program under test
/// here, as a user's argv could name it; the source itself never uses one).
@Suite struct CommandSecretSourceTests {
    /// What children get unless a test says otherwise: enough to find `sh`, `printf`, `sleep`, `head`.
    static let environment = ["PATH": "/usr/bin:/bin", "LANG": "C"]

    /// Runs `argv` and returns the secret or the error, never letting either reach `#expect` by value.
    private func run(
        _ argv: [String], timeout: Duration = .seconds(10), environment: [String: String] = Self.environment
    ) -> (secret: Secret?, error: CommandSourceError?) {
        do {
            return (try CommandSecretSource(argv: argv, timeout: timeout).run(environment: environment), nil)
        } catch {
            return (nil, error)
        }
    }

    private func shell(
        _ script: String, timeout: Duration = .seconds(10)
    ) -> (secret: Secret?, error: CommandSourceError?) {
        run(["/bin/sh", "-c", script], timeout: timeout)
    }

    private func uniqueCanary() -> String {
        "tpcanary-\(UUID().uuidString)"
    }

    private func holds(_ secret: Secret?, _ expected: String) -> Bool {
        secret?.withUnsafeString { $0 == expected } ?? false
    }

    // MARK: - Success

    @Test func printedValueBecomesTheSecret() {
        let canary = uniqueCanary()
        let result = shell("printf '\(canary)\\n'")
        let matches = holds(result.secret, canary)
        #expect(matches, "the trimmed stdout should be the secret; error: \(result.error?.description ?? "none")")
    }

    @Test(arguments: [("value\\n", "value"), ("value\\r\\n", "value"), ("value", "value")])
    func oneTrailingNewlineIsStripped(printed: String, expected: String) {
        let result = shell("printf '\(printed)'")
        let matches = holds(result.secret, expected)
        #expect(matches, "error: \(result.error?.description ?? "none")")
    }

    @Test func onlyOneTrailingNewlineIsStripped() {
        let error = shell("printf 'value\\n\\n'").error
        #expect(error?.description.contains("line break or control character") == true)
    }

    @Test func bareProgramNameIsLookedUpInTheGivenPath() {
        let result = run(["printf", "looked-up"])
        let matches = holds(result.secret, "looked-up")
        #expect(matches, "error: \(result.error?.description ?? "none")")
    }

    @Test func chattyStandardErrorDoesNotDeadlock() {
        // A megabyte of stderr is far more than a pipe buffer: it only finishes if stderr is read while
        // stdout is awaited.
        let result = shell("head -c 1000000 /dev/zero | tr '\\000' x >&2; printf ok")
        let matches = holds(result.secret, "ok")
        #expect(matches, "error: \(result.error?.description.prefix(200) ?? "none")")
    }

    @Test func exitedChildIsNotWaitedForThroughABackgroundProcessHoldingItsOutput() {
        let start = ContinuousClock.now
        let result = shell("sleep 3 & printf early")
        let matches = holds(result.secret, "early")
        #expect(matches, "error: \(result.error?.description ?? "none")")
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    // MARK: - Environment and standard input

    @Test func childSeesOnlyTheGivenEnvironment() {
        let canary = uniqueCanary()
        setenv("TOKENPROXY_TEST_PARENT_ONLY", canary, 1)
        let result = run(
            ["/bin/sh", "-c", "printf '%s/%s' \"${TOKENPROXY_TEST_PARENT_ONLY:-absent}\" \"${TP_GIVEN:-missing}\""],
            environment: Self.environment.merging(["TP_GIVEN": "given"]) { $1 }
        )
        let isolated = holds(result.secret, "absent/given")
        #expect(isolated, "only the given environment reaches the child; error: \(result.error?.description ?? "none")")
    }

    @Test func standardInputIsEmpty() {
        // With the proxy's stdin inherited, `cat` would wait for a terminal or a pipe forever.
        let start = ContinuousClock.now
        let error = run(["/bin/cat"], timeout: .seconds(5)).error
        #expect(error?.description.contains("printed nothing") == true)
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    // MARK: - Failures

    @Test func nonZeroExitShowsStandardError() {
        let error = shell("echo 'vault: permission denied' >&2; exit 3").error
        #expect(error?.description == "exited with status 3: vault: permission denied")
    }

    @Test func nonZeroExitNeverShowsStandardOutput() {
        let canary = uniqueCanary()
        let error = shell("printf '%s\\n' '\(canary)'; exit 1").error
        let leaked = error?.description.contains(canary) ?? true
        #expect(!leaked, "the error must not contain what the program printed")
        #expect(error?.description == "exited with status 1")
    }

    @Test func standardErrorEchoingTheValueIsRedacted() {
        let canary = uniqueCanary()
        let error = shell("printf '%s\\n' '\(canary)'; printf 'token %s rejected\\n' '\(canary)' >&2; exit 2").error
        let text = error?.description ?? ""
        let leaked = text.contains(canary)
        #expect(!leaked, "stderr's copy of the value must be redacted")
        #expect(text.contains("token <redacted> rejected"))
    }

    @Test func standardErrorControlCharactersAreRemoved() {
        let error = shell("printf 'first\\n\\033[31msecond\\007\\tthird\\n' >&2; exit 1").error
        let text = error?.description ?? ""
        let hasControl = text.unicodeScalars.contains { $0.properties.generalCategory == .control }
        #expect(!hasControl)
        #expect(text.hasPrefix("exited with status 1: first"))
        #expect(text.contains("second"))
        #expect(text.hasSuffix("third"))
    }

    @Test func onlyTheEndOfALongStandardErrorIsKept() {
        let error = shell("head -c 100000 /dev/zero | tr '\\000' x >&2; echo THE-END >&2; exit 1").error
        let text = error?.description ?? ""
        #expect(text.hasSuffix("THE-END"))
        #expect(text.utf8.count < CommandSecretSource.errorOutputLimit + 100)
    }

    @Test func redactionSurvivesTheCutToTheLastFourKilobytes() {
        let canary = uniqueCanary()
        let secret = Array((canary + canary + canary).utf8)
        // The shown part starts inside the copy of the secret.
        let errorOutput = [UInt8](repeating: UInt8(ascii: "x"), count: 5000) + secret
            + [UInt8](repeating: UInt8(ascii: "y"), count: CommandSecretSource.errorOutputLimit - 20)
        let text = ErrorOutputSanitizer.message(errorOutput: errorOutput, truncated: false, redacting: secret)
        let leaked = text.contains(String(canary.suffix(12)))
        #expect(!leaked, "the visible end of a straddling copy must be redacted too")
        #expect(text.hasPrefix("…<redacted>y"))
    }

    @Test func timeoutStopsTheProgram() {
        let start = ContinuousClock.now
        let error = run(["/bin/sleep", "30"], timeout: .milliseconds(500)).error
        #expect(error?.description == "timed out after 0.5 s")
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func timeoutKillsAProgramThatIgnoresSigterm() {
        // The shell and its sleep both ignore SIGTERM; only the SIGKILL to the whole group a second later works.
        let start = ContinuousClock.now
        let error = shell("trap '' TERM; sleep 30; printf late", timeout: .milliseconds(300)).error
        #expect(error?.description.hasPrefix("timed out after 0.3 s") == true)
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func programKilledBySignalIsReported() {
        let error = shell("kill -9 $$").error
        #expect(error?.description == "was killed by signal 9")
    }

    @Test func missingProgramIsNamed() {
        let name = "tokenproxy-no-such-program-\(UUID().uuidString.prefix(8))"
        let error = run([name]).error
        #expect(error?.description.hasPrefix("program '\(name)' was not found in PATH (/usr/bin:/bin)") == true)
    }

    @Test func missingAbsoluteProgramIsNamed() {
        let error = run(["/nonexistent/tokenproxy-helper"]).error
        #expect(error?.description.hasPrefix("program /nonexistent/tokenproxy-helper was not found") == true)
    }

    @Test func nonExecutableProgramIsNamed() throws {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("tp-not-executable-\(UUID().uuidString)")
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        chmod(path, 0o644)
        let error = run([path]).error
        #expect(error?.description == "program \(path) is not executable; run chmod +x \(path)")
    }

    @Test func emptyCommandIsRefused() {
        #expect(run([]).error?.description == "the command is empty")
    }

    @Test func emptyOutputIsRefused() {
        #expect(run(["/bin/true"]).error?.description == "printed nothing")
        #expect(shell("echo").error?.description == "printed nothing")
    }

    @Test func emptyOutputShowsWhyFromStandardError() {
        let error = shell("echo 'not signed in' >&2").error
        #expect(error?.description == "printed nothing: not signed in")
    }

    @Test func oversizedOutputIsRefused() {
        let error = shell("head -c 70000 /dev/zero | tr '\\000' a").error
        #expect(error?.description.hasPrefix("output larger than 64 KiB") == true)
    }

    @Test func endlessOutputIsStopped() {
        let start = ContinuousClock.now
        let error = run(["yes", "tpcanary"]).error
        let text = error?.description ?? ""
        #expect(text.hasPrefix("output larger than 64 KiB"))
        #expect(!text.contains("tpcanary"))
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func embeddedLineBreakIsRefused() {
        let canary = uniqueCanary()
        let error = shell("printf '%s\\n%s\\n' '\(canary)' '\(canary)'").error
        let text = error?.description ?? ""
        let leaked = text.contains(canary)
        #expect(!leaked)
        #expect(text.hasPrefix("output contains a line break or control character"))
    }

    @Test func embeddedControlCharacterIsRefused() {
        let error = shell("printf 'abc\\033def'").error
        #expect(error?.description.hasPrefix("output contains a line break or control character") == true)
    }

    @Test(arguments: [
        (Duration.seconds(10), "10"), (.milliseconds(500), "0.5"), (.milliseconds(1250), "1.25"),
    ])
    func durationsAreShownInSeconds(duration: Duration, text: String) {
        #expect(CommandSecretSource.format(duration) == text)
    }
}
