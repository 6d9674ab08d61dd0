import Foundation
import TokenProxyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// When the audit log is made durable with `fsync`.
///
/// A write reaches the kernel before ``AuditLogWriter/write(_:)`` returns either way, so a crash of the proxy
/// alone (even `kill -9`) loses nothing written; `fsync` is about the machine losing power or the kernel crashing.
public enum AuditSync: Sendable, Equatable {
    /// After every batch the recorder writes: nothing acknowledged is lost, at one `fsync` per batch.
    case always
    /// After a batch when at least this long has passed since the last `fsync`, and at shutdown: at most about
    /// this much of the log is lost with the machine.
    case interval(Duration)
    /// Only at shutdown (and when a full file is rotated); the kernel writes the rest back when it chooses.
    case never

    /// The default: at most about one second of records at risk.
    public static let `default` = AuditSync.interval(.seconds(1))

    /// The policy `audit.fsync` names; `interval` is once a second.
    public init(_ policy: AuditSyncPolicy) {
        switch policy {
        case .always: self = .always
        case .interval: self = .default
        case .never: self = .never
        }
    }
}

/// Appends usage events to a hash-chained JSON-lines file, one record per line (see ``AuditChain`` for the format).
///
/// On open it continues the chain where the log ends: from the last complete record of the live file, or, when
/// the live file is missing or empty, of the newest rotated file. An incomplete last line (a crash in the middle
/// of a write) is cut off first, so the next record follows the last complete one; ``recoveryNotice`` says so.
/// Lines written before the log was chained are left in place, and the chain starts after them at seq 1.
///
/// A write is all or nothing. One that fails (disk full, read-only file system) throws and leaves the chain where it
/// was: bytes of a partly written batch are cut off again, before that write returns or at the next one, so that
/// when the recorder retries the batch once space returns, it continues a valid chain without duplicates.
///
/// The file is locked (`flock`) while open: a second writer, in this process or another, would fork the chain,
/// so it is refused instead.
public final class AuditLogWriter: UsageSink {
    public let name: String

    /// The seq of the last record written (0 before the first record of a chain). Like every member, read it on the
    /// recorder's thread (or before the writer is handed to the recorder, or after it is closed).
    public private(set) var lastSeq: Int
    /// The hash of the last record written (``AuditChain/genesisHash`` before the first record of a chain).
    public private(set) var lastHash: String
    /// What opening the log had to repair, for the caller to log: an incomplete last line left by a crash, cut
    /// off. `nil` when the log was clean.
    public let recoveryNotice: String?

    private let path: String
    private let maxBytes: Int?
    private let sync: AuditSync
    private let io: AuditLogIO
    private let clock = ContinuousClock()

    /// The live file, or -1 once closed or after a rotation could not open the next file.
    private var descriptor: Int32 = -1
    /// The length of the live file up to the end of its last record written whole.
    private var size = 0
    private var isClosed = false
    /// Whether anything was written since the last `fsync`.
    private var isDirty = false
    private var lastSync: ContinuousClock.Instant

    /// Opens (creating if needed, mode 0600, in a directory created 0700) the audit log at `path` and continues its
    /// chain.
    ///
    /// - Parameters:
    ///   - maxBytes: rotate the file before a batch of records would take it past this size (a batch larger than
    ///     that gets a file of its own); `nil` never rotates. Rotated files are named
    ///     `<path>.<UTC yyyyMMdd'T'HHmmss'Z'>-<seq of their last record, 12 digits>`.
    ///   - sync: when to `fsync`.
    /// - Throws: ``RecorderError`` when the log cannot be opened, is locked by another writer, or ends in something
    ///   that is not a record (which would otherwise be hidden behind a new chain).
    public convenience init(path: String, maxBytes: Int? = nil, sync: AuditSync = .default) throws {
        try self.init(path: path, maxBytes: maxBytes, sync: sync, io: .system)
    }

    /// As the public initializer, with the system calls that can run out of space replaced (for tests).
    init(path: String, maxBytes: Int?, sync: AuditSync, io: AuditLogIO) throws {
        if let maxBytes, maxBytes <= 0 {
            throw RecorderError(description: "audit log \(path): the maximum file size must be positive")
        }
        self.path = path
        self.name = "audit log \(path)"
        self.maxBytes = maxBytes
        self.sync = sync
        self.io = io
        self.lastSync = clock.now
        do {
            try PrivateDirectory.create(containing: path, what: "audit log \(path)")
        } catch {
            throw RecorderError(description: error.description)
        }

        var notice: String?
        var head: (seq: Int, hash: String)?
        var created = false
        var descriptor = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        if descriptor < 0 && errno == ENOENT {
            descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            created = true
        }
        guard descriptor >= 0 else {
            throw RecorderError(description: "cannot open audit log \(path) for appending: \(Self.lastError())")
        }
        do {
            try Self.lock(descriptor, path: path)
            var status = stat()
            guard fstat(descriptor, &status) == 0 else {
                throw RecorderError(description: "cannot inspect audit log \(path): \(Self.lastError())")
            }
            guard (status.st_mode & S_IFMT) == S_IFREG else {
                throw RecorderError(description: "cannot open audit log \(path) for appending: not a regular file")
            }
            size = Int(status.st_size)
            if size > 0 {
                let tail = try AuditChainFileTail.read(descriptor: descriptor, size: size, path: path)
                if tail.completeLength < size {
                    // Only a crash mid-write leaves a line without its newline; that record was never complete.
                    guard ftruncate(descriptor, off_t(tail.completeLength)) == 0 else {
                        throw RecorderError(
                            description: "cannot cut the incomplete last line off audit log \(path): "
                                + Self.lastError()
                        )
                    }
                    notice = "audit log \(path): removed an incomplete last line (\(size - tail.completeLength) "
                        + "bytes, an interrupted write)"
                    size = tail.completeLength
                }
                if let line = tail.lastLine {
                    switch AuditChain.parse(line, decoder: AuditChain.makeRecordDecoder()) {
                    case .record(let seq, _):
                        head = (seq, AuditChain.hash(ofLine: line))
                    case .unchained:
                        // Written before the log was chained: a new chain starts after it.
                        head = (0, AuditChain.genesisHash)
                    case .invalid(let reason):
                        throw RecorderError(
                            description: "audit log \(path) ends with a line that is not an audit record (\(reason)); "
                                + "check it with 'tokenproxy audit verify' and move it aside"
                        )
                    }
                }
            }
            if head == nil {
                // A new or empty live file: the chain goes on from the newest rotated file, if there is one.
                head = try Self.headOfRotatedFiles(of: path)
            }
            if created { try Self.syncDirectory(of: path) }
        } catch {
            _ = systemClose(descriptor)
            throw error
        }
        self.descriptor = descriptor
        self.lastSeq = head?.seq ?? 0
        self.lastHash = head?.hash ?? AuditChain.genesisHash
        self.recoveryNotice = notice
    }

    deinit {
        if descriptor >= 0 { _ = systemClose(descriptor) }
    }

    /// Appends `events` as the next records of the chain, first rotating the file if they would not fit in it.
    ///
    /// All or nothing: on failure nothing of `events` is left in the log and the chain state stays at the last
    /// record written, so the recorder can simply retry the same events later. For the same reason a batch is never
    /// split across files: a batch larger than `maxBytes` gets a file of its own, larger than the limit.
    public func write(_ events: [UsageEvent]) throws {
        guard !events.isEmpty else { return }
        guard !isClosed else { throw RecorderError(description: "audit log \(path) is closed") }
        // The whole batch goes into one buffer, and the hash of each record into one reused buffer of hex digits
        // that the next record's `prev` is copied from: no allocation per record beyond its timestamp's text.
        var chunk: [UInt8] = []
        chunk.reserveCapacity(events.count * Self.typicalRecordBytes)
        var seq = lastSeq
        var hash = Array(lastHash.utf8)
        for event in events {
            let start = chunk.count
            try hash.withUnsafeBufferPointer { prev in
                try AuditRecordEncoder.append(event, seq: seq + 1, prevUTF8: prev, to: &chunk)
            }
            chunk.withUnsafeBytes { bytes in
                AuditChain.hash(ofLine: UnsafeRawBufferPointer(rebasing: bytes[start...]), into: &hash)
            }
            chunk.append(UInt8(ascii: "\n"))
            seq += 1
        }
        if descriptor < 0 { try openNextFile() }
        try discardIncompleteWrite()
        if let maxBytes, size > 0, size + chunk.count > maxBytes {
            try rotate()
        }
        try append(chunk, lastSeq: seq, lastHash: String(decoding: hash, as: UTF8.self))
    }

    /// Room reserved per record when encoding a batch: a little more than a typical record with a path and reason.
    private static let typicalRecordBytes = 512

    /// `fsync`s as the ``AuditSync`` policy asks; at `final`, whatever the policy.
    public func flush(final: Bool) throws {
        guard descriptor >= 0, isDirty else { return }
        switch sync {
        case .always:
            try syncFile()
        case .interval(let interval):
            if final || clock.now - lastSync >= interval { try syncFile() }
        case .never:
            if final { try syncFile() }
        }
    }

    /// `fsync`s anything not yet durable and closes the file, releasing its lock.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        guard descriptor >= 0 else { return }
        if isDirty { try? syncFile() }
        _ = systemClose(descriptor)
        descriptor = -1
    }

    // MARK: Writing

    /// Writes `chunk` (whole records) and, only once all of it is written, advances the chain to `lastSeq`.
    private func append(_ chunk: [UInt8], lastSeq seq: Int, lastHash hash: String) throws {
        guard !chunk.isEmpty else { return }
        var written = 0
        var failure: Int32?
        chunk.withUnsafeBytes { bytes in
            while written < bytes.count {
                let result = io.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes[written...]))
                if result == -Int(EINTR) { continue }
                guard result > 0 else {
                    // A write of 0 bytes makes no progress either; report it as the disk being full.
                    failure = result < 0 ? Int32(-result) : ENOSPC
                    return
                }
                written += result
            }
        }
        if let failure {
            // Take back the part of the chunk that did land; if even that fails, the next write tries again.
            if written > 0 { _ = ftruncate(descriptor, off_t(size)) }
            let records = chunk.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            throw RecorderError(
                description: "cannot write \(records) record(s) to audit log \(path): "
                    + "\(String(cString: strerror(failure))); the chain continues from seq \(lastSeq) once "
                    + "writing works again"
            )
        }
        size += chunk.count
        lastSeq = seq
        lastHash = hash
        isDirty = true
    }

    /// Cuts off whatever a failed write left after the last whole record, so the next record follows it directly.
    private func discardIncompleteWrite() throws {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw RecorderError(description: "cannot inspect audit log \(path): \(Self.lastError())")
        }
        let actual = Int(status.st_size)
        if actual > size {
            guard ftruncate(descriptor, off_t(size)) == 0 else {
                throw RecorderError(
                    description: "cannot remove the remains of a failed write from audit log \(path): "
                        + Self.lastError()
                )
            }
        } else if actual < size {
            // Cut from outside: not ours to repair. The verifier will show the gap; size only keeps rotation honest.
            size = actual
        }
    }

    private func syncFile() throws {
        let result = io.fsync(descriptor)
        guard result == 0 else {
            throw RecorderError(description: "cannot fsync audit log \(path): \(String(cString: strerror(result)))")
        }
        isDirty = false
        lastSync = clock.now
    }

    // MARK: Rotation

    /// Renames the full live file after its last record and starts an empty one; the chain simply goes on.
    private func rotate() throws {
        // A rotated file is never written again: make it durable before it gets its final name.
        if isDirty { try syncFile() }
        let target = AuditChain.rotatedPath(for: path, lastSeq: lastSeq, at: Date())
        guard rename(path, target) == 0 else {
            throw RecorderError(description: "cannot rotate audit log \(path) to \(target): \(Self.lastError())")
        }
        _ = systemClose(descriptor)
        descriptor = -1
        try openNextFile()
    }

    /// Opens a new live file after a rotation, or retries that after it failed (maybe halfway: the file may exist).
    private func openNextFile() throws {
        let descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RecorderError(description: "cannot create audit log \(path) after rotating it: \(Self.lastError())")
        }
        var status = stat()
        do {
            try Self.lock(descriptor, path: path)
            guard fstat(descriptor, &status) == 0 else {
                throw RecorderError(description: "cannot inspect audit log \(path): \(Self.lastError())")
            }
            try Self.syncDirectory(of: path)
        } catch {
            _ = systemClose(descriptor)
            throw error
        }
        self.descriptor = descriptor
        size = Int(status.st_size)
    }

    // MARK: Opening

    /// The seq and hash of the last complete record of the newest rotated file, or `nil` if there is none.
    private static func headOfRotatedFiles(of path: String) throws -> (seq: Int, hash: String)? {
        let rotated: [String]
        do {
            rotated = try AuditChain.rotatedFiles(ofLiveLog: path)
        } catch {
            throw RecorderError(description: "cannot list the rotated files of audit log \(path): \(error)")
        }
        guard let newest = rotated.last else { return nil }
        let descriptor = open(newest, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw RecorderError(description: "cannot open rotated audit log \(newest): \(lastError())")
        }
        defer { _ = systemClose(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw RecorderError(description: "cannot inspect rotated audit log \(newest): \(lastError())")
        }
        let tail = try AuditChainFileTail.read(descriptor: descriptor, size: Int(status.st_size), path: newest)
        guard let line = tail.lastLine,
            case .record(let seq, _) = AuditChain.parse(line, decoder: AuditChain.makeRecordDecoder())
        else {
            throw RecorderError(
                description: "rotated audit log \(newest) does not end with an audit record, so the chain cannot "
                    + "continue from it; check it with 'tokenproxy audit verify'"
            )
        }
        return (seq, AuditChain.hash(ofLine: line))
    }

    private static func lock(_ descriptor: Int32, path: String) throws {
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another writer (a tokenproxy already running?) holds it" : lastError()
            throw RecorderError(description: "cannot lock audit log \(path): \(reason)")
        }
    }

    /// Makes a new directory entry (a created or renamed file) durable.
    private static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { _ = systemClose(descriptor) }
        _ = systemFsync(descriptor)
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}

/// The system calls through which the audit log writer can run out of space; tests replace them to make a disk
/// fill up and empty again.
struct AuditLogIO: Sendable {
    /// `write(2)`: the bytes written, or minus the `errno`.
    var write: @Sendable (Int32, UnsafeRawBufferPointer) -> Int
    /// `fsync(2)`: 0, or the `errno`.
    var fsync: @Sendable (Int32) -> Int32

    /// The real system calls.
    static let system = AuditLogIO(
        write: { descriptor, bytes in
            let result = systemWrite(descriptor, bytes)
            return result < 0 ? -Int(errno) : result
        },
        fsync: { descriptor in
            systemFsync(descriptor) == 0 ? 0 : errno
        }
    )
}

extension UsageEvent {
    /// The encoder for records: sorted keys, RFC 3339 UTC timestamps with milliseconds.
    public static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(UsageStoreTime.format(date))  // the one record time form, shared with the store
        }
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }
}
