import Foundation

/// Directories that hold secrets or records: created with mode 0700 so only the owner can list or enter them.
public enum PrivateDirectory {
    /// Creates (with intermediates, 0700) the directory that will hold `file`, unless it exists or `file` has no
    /// directory part. `what` names the file in the error ("audit log state/audit.jsonl").
    public static func create(containing file: String, what: String) throws(PrivateDirectoryError) {
        let directory = (file as NSString).deletingLastPathComponent
        guard !directory.isEmpty else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw PrivateDirectoryError(
                description: "cannot create the directory of \(what): \(error.localizedDescription)"
            )
        }
    }
}

/// A directory for secrets or records could not be created.
public struct PrivateDirectoryError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
