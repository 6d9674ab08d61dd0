import Foundation

/// Installs the git pre-commit hook that runs `tokenproxy scan --staged`, so a commit holding a token is refused.
public enum PreCommitHook {
    /// The line that marks a hook as ours: a hook without it is someone else's and is not replaced without `force`.
    public static let marker = "# Installed by `tokenproxy scan --install-hook`"

    /// What installing did.
    public enum Outcome: Sendable, Equatable {
        /// There was no hook; it was written at the path.
        case created(String)
        /// Our earlier hook was rewritten.
        case updated(String)
        /// Another hook was replaced (`force`); the old one was kept at the second path.
        case replaced(String, backup: String)
    }

    /// The hook script: runs `executable scan --staged` (plus `arguments`), or `tokenproxy` from `PATH` when the
    /// executable has moved since.
    public static func script(executable: String, arguments: [String]) -> String {
        let extra = arguments.map { " " + quote($0) }.joined()
        return """
            #!/bin/sh
            \(marker): refuses a commit whose staged files hold a
            # configured token or a well-known token shape. Skip it once with `git commit --no-verify`; delete this file
            # to remove it.
            tokenproxy=\(quote(executable))
            [ -x "$tokenproxy" ] || tokenproxy=tokenproxy
            exec "$tokenproxy" scan --staged\(extra)

            """
    }

    /// Writes the hook into the repository containing `directory` (its hooks directory, `core.hooksPath` respected).
    /// Refuses to replace a hook that is not ours unless `force`; then the old one is renamed to `pre-commit.backup`.
    public static func install(
        in directory: String, executable: String, arguments: [String], force: Bool
    ) throws(ScanError) -> Outcome {
        let repository = try GitBlobStream.topLevel(of: directory)
        var path = try GitProcess.text(["rev-parse", "--git-path", "hooks/pre-commit"], in: repository)
        if !path.hasPrefix("/") { path = repository + "/" + path }
        let existing = FileManager.default.contents(atPath: path)
        var outcome = Outcome.created(path)
        if let existing {
            if String(decoding: existing, as: UTF8.self).contains(marker) {
                outcome = .updated(path)
            } else if force {
                let backup = path + ".backup"
                guard rename(path, backup) == 0 else {
                    throw ScanError("cannot move \(path) to \(backup): \(String(cString: strerror(errno)))")
                }
                outcome = .replaced(path, backup: backup)
            } else {
                throw ScanError(
                    "\(path) already exists and was not installed by tokenproxy; add `tokenproxy scan --staged` "
                        + "to it yourself, or pass --force to replace it (the old one is kept as pre-commit.backup)"
                )
            }
        }
        do {
            let hooks = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
            try Data(script(executable: executable, arguments: arguments).utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        } catch {
            throw ScanError("cannot write \(path): \(error.localizedDescription)")
        }
        return outcome
    }

    /// `text` in single quotes for sh.
    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
