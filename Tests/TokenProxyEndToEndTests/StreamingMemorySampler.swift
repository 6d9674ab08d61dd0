import Foundation
import Synchronization

/// Samples a process's resident memory from `/proc/<pid>/status` while a transfer runs, to show that the proxy
/// streams with backpressure instead of buffering a body.
///
/// Two readings: `VmRSS` every ``interval`` (what the process holds now), and `VmHWM` (the kernel's own peak of
/// `VmRSS`, which also catches a spike between two samples).
final class StreamingMemorySampler: Sendable {
    /// Resident memory at one moment, in bytes.
    struct Reading: Sendable {
        let rss: Int
        let peak: Int
    }

    /// What the sampler saw.
    struct Summary: Sendable, CustomStringConvertible {
        /// The reading before the transfer began.
        let baseline: Reading?
        /// How many `VmRSS` samples were taken.
        let samples: Int
        /// The largest `VmRSS` sample, in bytes.
        let maximumRSS: Int
        /// `VmHWM` after the transfer: the peak over the process's whole life, in bytes.
        let peak: Int?
        /// `VmRSS` about once a second (every tenth sample), in whole MiB: how the footprint moved.
        let timeline: [Int]

        var description: String {
            "baseline RSS \(Self.mebibytes(baseline?.rss)) (peak so far \(Self.mebibytes(baseline?.peak))), "
                + "\(samples) samples, largest RSS \(Self.mebibytes(maximumRSS)), peak RSS \(Self.mebibytes(peak)); "
                + "RSS over time (MiB): \(timeline)"
        }

        static func mebibytes(_ bytes: Int?) -> String {
            guard let bytes else { return "?" }
            return String(format: "%.1f MiB", Double(bytes) / 1_048_576)
        }
    }

    /// The process watched.
    let pid: pid_t
    /// Time between samples.
    let interval: Duration

    private let state = Mutex<(samples: [Int], baseline: Reading?)>(([], nil))

    init(pid: pid_t, interval: Duration = .milliseconds(100)) {
        self.pid = pid
        self.interval = interval
    }

    /// Reads `VmRSS` and `VmHWM` of `pid` now, or `nil` if the process is gone.
    static func reading(of pid: pid_t) -> Reading? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kibibytes(_ field: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else {
                return nil
            }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        }
        guard let rss = kibibytes("VmRSS"), let peak = kibibytes("VmHWM") else { return nil }
        return Reading(rss: rss * 1024, peak: peak * 1024)
    }

    /// Samples while `body` runs, and returns its result with what was seen.
    func measure<Result: Sendable>(
        _ body: () async throws -> Result
    ) async throws -> (result: Result, memory: Summary) {
        let baseline = Self.reading(of: pid)
        state.withLock { $0.baseline = baseline }
        let sampling = Task { [self] in
            while !Task.isCancelled {
                if let reading = Self.reading(of: pid) {
                    state.withLock { $0.samples.append(reading.rss) }
                }
                try? await Task.sleep(for: interval)
            }
        }
        let result: Result
        do {
            result = try await body()
        } catch {
            sampling.cancel()
            await sampling.value
            throw error
        }
        sampling.cancel()
        await sampling.value
        let final = Self.reading(of: pid)
        let samples = state.withLock { $0.samples }
        return (
            result,
            Summary(
                baseline: baseline,
                samples: samples.count,
                maximumRSS: samples.max() ?? 0,
                peak: final?.peak,
                timeline: stride(from: 0, to: samples.count, by: 10).map { samples[$0] / 1_048_576 }
            )
        )
    }
}
