import NIOCore
import NIOHTTP1

/// One simulated client: sends a `GET`, waits for the whole response, and sends the next, until the run window
/// closes. Never pipelines. In keep-alive mode it reuses its connection; in new-connection mode every request opens
/// (and so pays for) its own TCP connection, `CONNECT` and TLS handshake, and its latency includes them.
///
/// Confined to its event loop (all callbacks arrive there), hence `@unchecked Sendable`.
final class ClientSlot: @unchecked Sendable {
    enum Mode: String, Sendable {
        case keepAlive = "keep-alive"
        case newConnection = "new-connection"
    }

    private let eventLoop: EventLoop
    private let opener: ConnectionOpener
    private let mode: Mode
    private let window: RunWindow
    private let statistics: LoopStatistics
    private let request: HTTPRequestHead
    private let finished: EventLoopPromise<Void>
    private var channel: Channel?
    private var handler: ResponseHandler?
    private var requestStarted: UInt64 = 0
    private var stopped = false

    init(
        eventLoop: EventLoop, opener: ConnectionOpener, mode: Mode, window: RunWindow, statistics: LoopStatistics,
        request: HTTPRequestHead
    ) {
        self.eventLoop = eventLoop
        self.opener = opener
        self.mode = mode
        self.window = window
        self.statistics = statistics
        self.request = request
        self.finished = eventLoop.makePromise()
    }

    /// Completes when the slot has stopped (its window closed or it was stopped).
    var done: EventLoopFuture<Void> { finished.futureResult }

    /// Starts the loop of requests. Call on the slot's event loop.
    func start() {
        openConnection()
    }

    /// Stops at once, closing the connection (for a request that outlives the grace period).
    func stop() {
        detachAndClose()
        guard !stopped else { return }
        stopped = true
        finished.succeed()
    }

    /// ``stop()`` from any thread, run on the slot's loop.
    func stopOnItsLoop() {
        eventLoop.execute { self.stop() }
    }

    // MARK: Callbacks from ResponseHandler

    func responseEnded(status: UInt, bodyBytes: Int, keepAlive: Bool) {
        let now = RunWindow.now
        if status == 200 {
            statistics.allRequests += 1
            statistics.allBodyBytes += bodyBytes
        }
        if window.counts(now) {
            if status == 200 {
                statistics.requests += 1
                statistics.bodyBytes += bodyBytes
                statistics.latency.record(now - requestStarted)
            } else {
                statistics.errors += 1
            }
        }
        if window.isOver(now) {
            stop()
        } else if mode == .newConnection || !keepAlive {
            detachAndClose()
            openConnection()
        } else {
            send(startedAt: now)
        }
    }

    func connectionFailed(_ error: Error) {
        handler = nil
        channel = nil
        noteFailure()
    }

    // MARK: Private

    private func openConnection() {
        let started = RunWindow.now
        guard !stopped, !window.isOver(started) else {
            stop()
            return
        }
        let handler = ResponseHandler(slot: self)
        self.handler = handler
        statistics.connectionsOpened += 1
        opener.open(on: eventLoop, handler: handler).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                guard self.handler === handler else {
                    channel.close(promise: nil)
                    return
                }
                self.channel = channel
                self.send(startedAt: self.mode == .newConnection ? started : RunWindow.now)
            case .failure:
                guard self.handler === handler else { return }
                self.handler = nil
                self.noteFailure()
            }
        }
    }

    private func send(startedAt: UInt64) {
        guard let channel else { return }
        requestStarted = startedAt
        channel.write(HTTPClientRequestPart.head(request), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// Counts an error and tries a new connection after a short pause, so a dead target is not hammered.
    private func noteFailure() {
        guard !stopped else { return }
        if window.counts(RunWindow.now) { statistics.errors += 1 }
        eventLoop.scheduleTask(in: .milliseconds(20)) { self.openConnection() }
    }

    private func detachAndClose() {
        handler?.slot = nil
        handler = nil
        channel?.close(promise: nil)
        channel = nil
    }
}
