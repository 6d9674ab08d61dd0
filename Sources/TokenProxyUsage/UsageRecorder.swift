import Foundation
import Logging
import Synchronization
import TokenProxyCore

/// Takes usage events from the data path and appends them to the audit log on a thread of its own.
///
/// `record(_:)` never blocks and never does I/O: it appends to a bounded in-memory queue. A dedicated writer
/// thread drains the queue, encodes each event as one JSON line and writes it. When the queue is full the event
/// is dropped and counted, and the count is reported, so nothing is lost silently.
public final class UsageRecorder: Sendable {
    /// Tunables of the recorder.
    public struct Configuration: Sendable {
        /// The JSON-lines file to append to.
        public var logPath: String
        /// How many events may wait in memory before new ones are dropped (and counted).
        public var queueCapacity: Int

        /// Creates a configuration for `logPath`.
        public init(logPath: String, queueCapacity: Int = 16_384) {
            self.logPath = logPath
            self.queueCapacity = queueCapacity
        }
    }

    private struct State {
        var pending: [UsageEvent] = []
        var dropped = 0
        var stopping = false
    }

    private let configuration: Configuration
    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let writtenCount = Atomic<Int>(0)
    private let logger: Logger

    /// Opens (creating if needed, mode 0600) the log and starts the writer thread.
    ///
    /// Throws when the file or its directory cannot be created or opened for appending.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let handle = try Self.openForAppending(configuration.logPath)
        let thread = Thread { [self] in
            self.runWriter(handle)
        }
        thread.name = "tokenproxy-recorder"
        thread.start()
    }

    /// Queues `event` for writing. Never blocks; drops and counts the event if the queue is full.
    public func record(_ event: UsageEvent) {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping, state.pending.count < configuration.queueCapacity else {
                state.dropped += 1
                return false
            }
            state.pending.append(event)
            return true
        }
        if accepted { wakeUp.signal() }
    }

    /// Events dropped because the queue was full or the recorder was stopping.
    public var droppedCount: Int {
        state.withLock { $0.dropped }
    }

    /// Events written to the log so far.
    public var writtenEvents: Int {
        writtenCount.load(ordering: .relaxed)
    }

    /// Writes everything queued, then stops the writer thread. Blocks the caller: call it off any event loop.
    public func shutdown() {
        let alreadyStopping = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.stopping
        }
        guard !alreadyStopping else { return }
        wakeUp.signal()
        finished.wait()
    }

    private func runWriter(_ handle: FileHandle) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Self.timestampFormatter.format(date))
        }
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        while true {
            wakeUp.wait()
            let (batch, stopping) = state.withLock { state -> ([UsageEvent], Bool) in
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, state.stopping)
            }
            if !batch.isEmpty {
                write(batch, with: encoder, to: handle)
            }
            if stopping {
                // Drain whatever arrived between the swap and now; `record` refuses new events once stopping.
                let rest = state.withLock { state -> [UsageEvent] in
                    defer { state.pending.removeAll() }
                    return state.pending
                }
                if !rest.isEmpty { write(rest, with: encoder, to: handle) }
                try? handle.synchronize()
                try? handle.close()
                let dropped = droppedCount
                if dropped > 0 {
                    logger.warning("usage recorder dropped \(dropped) events because its queue was full")
                }
                finished.signal()
                return
            }
        }
    }

    private func write(_ batch: [UsageEvent], with encoder: JSONEncoder, to handle: FileHandle) {
        var data = Data()
        var encoded = 0
        for event in batch {
            do {
                data.append(try encoder.encode(event))
                data.append(UInt8(ascii: "\n"))
                encoded += 1
            } catch {
                state.withLock { $0.dropped += 1 }
                logger.error("usage recorder could not encode an event: \(error)")
            }
        }
        do {
            try handle.write(contentsOf: data)
            writtenCount.add(encoded, ordering: .relaxed)
        } catch {
            state.withLock { $0.dropped += encoded }
            logger.error(
                "usage recorder could not write \(batch.count) events to \(configuration.logPath): \(error)"
            )
        }
    }

    private static func openForAppending(_ path: String) throws -> FileHandle {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RecorderError(
                description: "cannot open audit log \(path) for appending: \(String(cString: strerror(errno)))"
            )
        }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    private static let timestampFormatter = TimestampFormatter()
}

/// An audit log that cannot be opened or written.
public struct RecorderError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// RFC 3339 timestamps with milliseconds, in UTC.
struct TimestampFormatter: Sendable {
    func format(_ date: Date) -> String {
        date.formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!)
        )
    }
}
