import Foundation
import Logging
import Synchronization
import TokenProxyCore

/// Takes usage events from the data path and hands them to the sinks (audit log, usage store) on a thread of its own.
///
/// `record(_:)` never blocks and never does I/O: it appends to a bounded in-memory queue. A dedicated writer
/// thread drains the queue and writes each batch to every sink. When the queue is full the event is dropped and
/// counted. When a sink fails (disk full, read-only, locked), its events wait in that sink's backlog and are retried
/// every second, and the recorder reports itself unhealthy until the sink accepts them again; a backlog is bounded
/// by the queue capacity and what overflows it is counted as failed. Nothing is lost silently.
public final class UsageRecorder: Sendable {
    /// Tunables of the recorder.
    public struct Configuration: Sendable {
        /// How many events may wait in memory before new ones are dropped (and counted).
        public var queueCapacity: Int
        /// How long the writer lets events gather after the first one of a batch arrives: one transaction and one
        /// write for many requests instead of a wake-up, a commit and a write for each.
        public var batchDelay: Duration

        /// Creates a configuration.
        public init(queueCapacity: Int = 16_384, batchDelay: Duration = .milliseconds(5)) {
            self.queueCapacity = queueCapacity
            self.batchDelay = batchDelay
        }
    }

    private struct State {
        var pending: [UsageEvent] = []
        var dropped = 0
        var failed = 0
        var lastFailure: String?
        var stopping = false
    }

    private let configuration: Configuration
    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let writtenCount = Atomic<Int>(0)
    private let logger: Logger

    /// Starts the writer thread over `sinks`, which it owns from now on (it closes them at shutdown).
    public init(configuration: Configuration = Configuration(), sinks: [any UsageSink], logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let box = SinkBox(sinks)
        let thread = Thread { [self] in
            self.runWriter(box.sinks)
        }
        thread.name = "tokenproxy-recorder"
        thread.start()
    }

    /// Convenience: a recorder writing one JSON-lines audit log at `logPath`.
    public convenience init(logPath: String, configuration: Configuration = Configuration(), logger: Logger) throws {
        self.init(configuration: configuration, sinks: [try AuditLogWriter(path: logPath)], logger: logger)
    }

    /// Queues `event` for writing. Never blocks; drops and counts the event if the queue is full.
    public func record(_ event: UsageEvent) {
        let startsBatch = state.withLock { state -> Bool in
            guard !state.stopping, state.pending.count < configuration.queueCapacity else {
                state.dropped += 1
                return false
            }
            state.pending.append(event)
            return state.pending.count == 1
        }
        // Only the first event of a batch wakes the writer (a wake-up is a system call and a context switch); the
        // writer takes whatever arrived meanwhile with it.
        if startsBatch { wakeUp.signal() }
    }

    /// Events dropped because the queue was full, the recorder was stopping, or an event could not be encoded.
    public var droppedCount: Int {
        state.withLock { $0.dropped }
    }

    /// Events a sink failed to store.
    public var failedCount: Int {
        state.withLock { $0.failed }
    }

    /// Why the last write failed, while the recorder is unhealthy; `nil` when the last write succeeded.
    public var currentFailure: String? {
        state.withLock { $0.lastFailure }
    }

    /// Events waiting in the queue.
    public var queueDepth: Int {
        state.withLock { $0.pending.count }
    }

    /// Events written to every sink so far.
    public var writtenEvents: Int {
        writtenCount.load(ordering: .relaxed)
    }

    /// Writes everything queued, flushes and closes the sinks, then stops the writer thread. Blocks the caller: call
    /// it off any event loop.
    public func shutdown() {
        let alreadyStopping = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.stopping
        }
        guard !alreadyStopping else { return }
        wakeUp.signal()
        finished.wait()
    }

    private func runWriter(_ sinks: [any UsageSink]) {
        var backlogs = Array(repeating: [UsageEvent](), count: sinks.count)
        while true {
            // Wake at least every second even without new events: a failing sink is retried, and a sink that
            // syncs on an interval gets to sync what the last batch left, so "at most 1 s at risk" holds when
            // traffic stops too.
            let idle = state.withLock { $0.pending.isEmpty && !$0.stopping }
            if idle {
                _ = wakeUp.wait(timeout: .now() + 1)
                if configuration.batchDelay > .zero { Thread.sleep(forTimeInterval: configuration.batchDelay.timeInterval) }
            }
            let (batch, stopping) = state.withLock { state -> ([UsageEvent], Bool) in
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, state.stopping)
            }
            write(batch, to: sinks, backlogs: &backlogs, final: false)
            if stopping {
                // Drain whatever arrived between the swap and now; `record` refuses new events once stopping.
                let rest = state.withLock { state -> [UsageEvent] in
                    defer { state.pending.removeAll() }
                    return state.pending
                }
                write(rest, to: sinks, backlogs: &backlogs, final: true)
                for sink in sinks { sink.close() }
                let (dropped, failed) = state.withLock { ($0.dropped, $0.failed) }
                if dropped > 0 {
                    logger.warning("usage recorder dropped \(dropped) events because its queue was full")
                }
                if failed > 0 {
                    logger.warning("usage recorder could not store \(failed) events (see the errors above)")
                }
                finished.signal()
                return
            }
        }
    }

    private func write(
        _ batch: [UsageEvent], to sinks: [any UsageSink], backlogs: inout [[UsageEvent]], final: Bool
    ) {
        var failure: String?
        var written = batch.count
        for (index, sink) in sinks.enumerated() {
            var events = backlogs[index] + batch
            if events.count > configuration.queueCapacity {
                // The backlog is bounded like the queue: the oldest beyond it are given up, and counted.
                let overflow = events.count - configuration.queueCapacity
                state.withLock { $0.failed += overflow }
                events.removeFirst(overflow)
            }
            do {
                if !events.isEmpty { try sink.write(events) }
                try sink.flush(final: final)
                backlogs[index] = []
            } catch {
                backlogs[index] = events
                written = 0
                failure = "\(sink.name): \(error)"
                logger.error("usage recorder could not store \(events.count) events in \(sink.name): \(error)")
            }
        }
        if final {
            let unstored = backlogs.map(\.count).reduce(0, +)
            state.withLock { $0.failed += unstored }
        }
        state.withLock { state in
            state.lastFailure = failure
        }
        if written > 0 { writtenCount.add(written, ordering: .relaxed) }
    }
}

/// A public error of the recorder and its sinks.
public struct RecorderError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Moves the sinks (used only by the writer thread from then on) into it.
private final class SinkBox: @unchecked Sendable {
    let sinks: [any UsageSink]
    init(_ sinks: [any UsageSink]) { self.sinks = sinks }
}
