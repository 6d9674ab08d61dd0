import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// Sends `GET`s over TLS to an origin, directly or through a proxy's `CONNECT`, from N connections for a fixed time
/// after a warm-up, and prints one JSON object: requests, errors, req/s, latency percentiles and body bytes/s.
///
/// One event loop per core; each connection keeps one request in flight (no pipelining) and writes a request head
/// built once before the run (NIOHTTP1 encodes it per request: its response decoder tracks request methods).
@main
struct LoadGenerator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "LoadGenerator",
        abstract: "HTTPS load over keep-alive or new connections, direct or through a CONNECT proxy; prints JSON."
    )

    @Option(help: "The origin and path: https://HOST:PORT/PATH.")
    var url: String

    @Option(help: "Reach the origin through this HTTP proxy (HOST:PORT) with CONNECT.")
    var proxy: String?

    @Option(name: .customLong("ca-file"), help: "PEM file of roots to verify TLS with (repeatable); default: system.")
    var caFiles: [String] = []

    @Option(help: "Concurrent connections.")
    var connections = 32

    @Option(help: "keep-alive, or new-connection (TCP + CONNECT + TLS for every request).")
    var mode = "keep-alive"

    @Option(help: "Seconds measured.")
    var duration = 10.0

    @Option(help: "Seconds of load before measuring.")
    var warmup = 2.0

    @Option(help: "Event loop threads (default: one per core).")
    var threads = System.coreCount

    func validate() throws {
        guard ClientSlot.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be keep-alive or new-connection, got '\(mode)'")
        }
        guard (1...100_000).contains(connections) else { throw ValidationError("--connections must be 1…100000") }
        guard duration > 0, duration <= 3600 else { throw ValidationError("--duration must be in (0, 3600] s") }
        guard warmup >= 0, warmup <= 600 else { throw ValidationError("--warmup must be in [0, 600] s") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1…256") }
    }

    func run() throws {
        let target: LoadTarget
        let opener: ConnectionOpener
        do {
            target = try LoadTarget(url: url, proxy: proxy)
            opener = try ConnectionOpener(target: target, caFiles: caFiles)
        } catch {
            throw ValidationError("\(error)")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        defer { try? group.syncShutdownGracefully() }
        let slotMode = ClientSlot.Mode(rawValue: mode)!
        let window = RunWindow(warmup: .nanoseconds(Int64(warmup * 1e9)), duration: .nanoseconds(Int64(duration * 1e9)))
        let loops = (0..<threads).map { _ in group.next() }
        let statistics = loops.map { _ in LoopStatistics() }
        let request = target.requestHead

        var slots: [ClientSlot] = []
        for index in 0..<connections {
            let loop = loops[index % loops.count]
            let slot = ClientSlot(
                eventLoop: loop, opener: opener, mode: slotMode, window: window,
                statistics: statistics[index % loops.count], request: request
            )
            slots.append(slot)
            loop.execute { slot.start() }
        }

        // Every slot stops by itself at the window's end once its request in flight completes; one that is still
        // waiting after a grace period is stopped, so a stuck target cannot hang the run.
        let grace = TimeAmount.seconds(10)
        let allSlots = slots
        let allDone = EventLoopFuture.andAllComplete(allSlots.map(\.done), on: group.next())
        let deadline = group.next().scheduleTask(
            deadline: NIODeadline.uptimeNanoseconds(window.measureUntil) + grace
        ) {
            for slot in allSlots { slot.stopOnItsLoop() }
        }
        try allDone.wait()
        deadline.cancel()

        let total = LoopStatistics()
        for (loop, loopStatistics) in zip(loops, statistics) {
            try loop.submit { total.merge(loopStatistics) }.wait()
        }
        let report = LoadReport(
            target: target, mode: slotMode, connections: connections, seconds: duration, statistics: total
        )
        print(try report.json())
    }
}
