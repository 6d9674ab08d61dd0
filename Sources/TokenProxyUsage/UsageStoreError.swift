import GRDB

/// Why the usage store could not be read.
///
/// The writer reports its failures as ``RecorderError`` (the recorder's own error type); the reader, used by
/// `tokenproxy usage`, throws this.
public struct UsageStoreError: Error, CustomStringConvertible, Sendable {
    private enum Code: Sendable {
        case notFound
        case unreadable
    }

    private let code: Code
    /// A one-line explanation naming the store's path.
    public let description: String

    private init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    /// Whether the store's file does not exist (nothing has been recorded there yet).
    public var isNotFound: Bool { code == .notFound }

    static func notFound(_ path: String) -> UsageStoreError {
        UsageStoreError(.notFound, "no usage recorded yet at \(path)")
    }

    static func unreadable(_ error: DatabaseError, path: String) -> UsageStoreError {
        UsageStoreError(.unreadable, describe(error, path: path, doing: "read"))
    }

    static func unreadable(_ description: String) -> UsageStoreError {
        UsageStoreError(.unreadable, description)
    }

    /// One line for a SQLite failure: what was being done, to which file, what SQLite said, and what it means.
    ///
    /// Built from the result code and SQLite's message only, never from the statement's arguments (GRDB leaves them
    /// out of its errors unless told otherwise, and this never asks): arguments are request fields.
    static func describe(_ error: DatabaseError, path: String, doing action: String) -> String {
        let message = error.message ?? "SQLite error \(error.resultCode.rawValue)"
        let meaning: String? =
            switch error.resultCode {
            case .SQLITE_FULL: "the disk is full"
            case .SQLITE_BUSY, .SQLITE_LOCKED: "another process held the database longer than the busy timeout"
            case .SQLITE_READONLY, .SQLITE_PERM: "the file or its directory is not writable"
            case .SQLITE_CANTOPEN: "the file or its directory cannot be opened"
            case .SQLITE_NOTADB, .SQLITE_CORRUPT: "the file is not a usable SQLite database"
            case .SQLITE_IOERR: "the disk or filesystem reported an error"
            default: nil
            }
        let detail = meaning.map { "\(message) (\($0))" } ?? message
        return "cannot \(action) usage store \(path): \(detail)"
    }
}
