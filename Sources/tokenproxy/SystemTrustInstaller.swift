import Foundation

/// `tokenproxy ca trust --system` on Debian and Ubuntu: copies the CA into the local anchors and runs
/// `update-ca-certificates`, reporting what changed.
enum SystemTrustInstaller {
    /// The Debian tool that rebuilds `/etc/ssl/certs`.
    static let updateTool = "/usr/sbin/update-ca-certificates"

    /// Installs the CA PEM at `caPath`; returns the lines to print. Blocking (file I/O and a subprocess).
    static func install(caPath: String, anchor: String = TrustInstructions.debianAnchor) throws -> [String] {
        let manager = FileManager.default
        guard manager.isExecutableFile(atPath: updateTool),
            manager.fileExists(atPath: (anchor as NSString).deletingLastPathComponent)
        else {
            throw CLIFailure(
                "--system works on Debian and Ubuntu only (no \(updateTool)); run the commands 'tokenproxy ca trust' "
                    + "prints for this system"
            )
        }
        guard geteuid() == 0 else {
            throw CLIFailure(
                "--system changes the system trust store and needs root: sudo tokenproxy ca trust --system")
        }
        guard let pem = manager.contents(atPath: caPath) else {
            throw CLIFailure("cannot read the CA certificate \(caPath)")
        }
        if manager.contents(atPath: anchor) == pem {
            return ["\(anchor) already holds this CA; nothing changed"]
        }
        let existed = manager.fileExists(atPath: anchor)
        do {
            try pem.write(to: URL(fileURLWithPath: anchor), options: .atomic)
            try manager.setAttributes([.posixPermissions: 0o644], ofItemAtPath: anchor)
        } catch {
            throw CLIFailure("cannot write \(anchor): \(error.localizedDescription)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: updateTool)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIFailure("\(updateTool) failed (exit \(process.terminationStatus)): \(text.suffix(500))")
        }
        var lines = [
            "\(existed ? "replaced" : "copied the CA to") \(anchor)",
            "ran \(updateTool):",
        ]
        lines += text.split(separator: "\n").map { "  \($0)" }
        lines.append("programs that use the system store (curl, git, Python's ssl, wget) now trust the proxy CA")
        return lines
    }
}
