import Foundation
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Writes log lines to stderr without making an event loop wait for the terminal, pipe or file behind it.
///
/// A line logged on an event loop (every proxied request logs one) is appended to a bounded in-memory buffer that a
/// thread of its own writes out in batches: one `write(2)` for many lines, never on the data path. When the buffer is
/// full (stderr is not being read) lines are dropped, counted, and the count is reported in the next line that gets
/// through. A line logged anywhere else (start-up, errors, commands) is written at once, after whatever is queued, so
/// the order of lines is kept and nothing a command prints before it exits is lost; the queue is also written out
/// when the process exits.
final class StderrLineWriter: Sendable {
    /// The process's one writer.
    static let shared = StderrLineWriter()

    /// The most bytes that wait in memory.
    static let bufferLimit = 1 << 20

    private struct State {
        var pending: [UInt8] = []
        var dropped = 0
    }

    private let state = Mutex(State())
    /// Held while writing to the descriptor, so a direct write cannot overtake a batch being written.
    private let output = Mutex(())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let writerThread = Mutex<Thread?>(nil)
    private let descriptor = STDERR_FILENO

    private init() {}

    /// Writes `line` (which ends in a newline): queued on an event loop, at once elsewhere.
    func write(_ line: String) {
        if MultiThreadedEventLoopGroup.currentEventLoop != nil {
            enqueue(line)
        } else {
            writeNow(line)
        }
    }

    /// Writes everything queued. Blocks the caller until it is written.
    func flush() {
        output.withLock { _ in
            writeOut(takePending())
        }
    }

    private func enqueue(_ line: String) {
        let wasEmpty = state.withLock { state -> Bool in
            guard state.pending.count + line.utf8.count <= Self.bufferLimit else {
                state.dropped += 1
                return false
            }
            defer { state.pending.append(contentsOf: line.utf8) }
            return state.pending.isEmpty
        }
        // The writer sleeps while the queue is empty: the first line of a batch wakes it.
        if wasEmpty { wakeWriter() }
    }

    private func writeNow(_ line: String) {
        output.withLock { _ in
            var bytes = takePending()
            bytes.append(contentsOf: line.utf8)
            writeOut(bytes)
        }
    }

    /// Takes the queued bytes, with a note first when lines were dropped.
    private func takePending() -> [UInt8] {
        let (bytes, dropped) = state.withLock { state -> ([UInt8], Int) in
            defer {
                state.pending = []
                state.dropped = 0
            }
            return (state.pending, state.dropped)
        }
        guard dropped > 0 else { return bytes }
        let note = "tokenproxy: \(dropped) log lines were dropped because stderr was not being read fast enough\n"
        return Array(note.utf8) + bytes
    }

    private func writeOut(_ bytes: [UInt8]) {
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // stderr is gone; nothing better to do with a log line
                }
                offset += written
            }
        }
    }

    /// Starts the writer thread on first use, and wakes it for a new batch.
    private func wakeWriter() {
        writerThread.withLock { thread in
            guard thread == nil else { return }
            let created = Thread { [self] in self.runWriter() }
            created.name = "tokenproxy-log"
            thread = created
            created.start()
            atexit { StderrLineWriter.shared.flush() }
        }
        wakeUp.signal()
    }

    private func runWriter() {
        while true {
            wakeUp.wait()
            // A short pause lets a burst of lines go out in one write.
            usleep(2_000)
            flush()
        }
    }
}
