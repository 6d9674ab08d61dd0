import ArgumentParser
import Foundation
import TokenProxyUsage

/// `tokenproxy audit`: works with the hash-chained audit log.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Work with the tamper-evident audit log.",
        subcommands: [Verify.self]
    )

    /// `tokenproxy audit verify [FILE…]`: checks the hash chain and names the first broken record.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the audit log's hash chain; name the first broken record.",
            discussion: """
                Without FILE, verifies the configured audit.log together with its rotated files, oldest first. \
                Prints 'intact: N records, last seq S, last hash H' and exits 0, or 'broken at seq S (FILE:LINE): \
                WHAT' and exits 1. Keep the last seq and hash somewhere else: an edit of the last record, or \
                records cut off the end, can only be detected against them.
                """
        )

        @Argument(help: "Audit log files in chain order, oldest first (default: the configured log and its rotations).")
        var files: [String] = []

        @Flag(help: "Accept a chain that starts after seq 1 (older files archived, or one rotated file on its own).")
        var allowLaterStart = false

        @OptionGroup var options: ConfigurationOptions

        func run() throws {
            let result = try Self.failingCleanly {
                let files = try self.files.isEmpty ? configuredFiles() : self.files
                do {
                    return try AuditChainVerifier(allowsLaterStart: allowLaterStart).verify(files: files)
                } catch let error as AuditChainVerifier.ReadError {
                    throw CLIFailure(error.description)
                }
            }
            switch result {
            case .intact(let summary):
                var line =
                    "intact: \(summary.records) records, last seq \(summary.lastSeq), last hash \(summary.lastHash)"
                if let first = summary.firstSeq, first > 1 {
                    line += " (from seq \(first); the records before it were not checked)"
                }
                if summary.unchainedLines > 0 {
                    line += " (after \(summary.unchainedLines) lines written before the log was chained, not verified)"
                }
                print(line)
            case .broken(let broken):
                print(broken.description)
                print(
                    "verified before it: \(broken.verified.records) records, last seq \(broken.verified.lastSeq), "
                        + "last hash \(broken.verified.lastHash)"
                )
                throw ExitCode.failure
            }
        }

        /// The configured log's files, oldest first.
        private func configuredFiles() throws -> [String] {
            let configuration = try options.load()
            guard let path = configuration.auditLogPath else {
                throw CLIFailure("the configuration has no audit.log (recording is off); name the files to verify")
            }
            let files: [String]
            do {
                files = try AuditChain.files(ofLiveLog: path)
            } catch {
                throw CLIFailure("cannot list the files of audit log \(path): \(error)")
            }
            guard !files.isEmpty else {
                throw CLIFailure("no audit log at \(path) (nothing recorded yet?)")
            }
            return files
        }
    }
}
