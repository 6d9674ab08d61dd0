import Dispatch
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import TokenProxyCore

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the ``LifecycleController`` from outside events: `SIGHUP` reloads, a changed configuration file reloads
/// when the configuration says `watch: true`, and once a second token ages are checked against `rotate_every:`.
///
/// The watch polls (once a second, reading the file on the thread pool) rather than using inotify: it works the same
/// for editors that rewrite in place and for those that write a new file and rename it over the old one.
public struct LifecycleService: Service {
    private let controller: LifecycleController
    private let configurationPath: String?
    private let reloadsOnHangup: Bool
    private let logger: Logger

    /// How often the file is compared and ages are checked.
    static let interval = Duration.seconds(1)

    /// Creates the service for `controller`, watching `configurationPath` when the configuration asks for it.
    /// `reloadsOnHangup: false` leaves SIGHUP alone (under `tokenproxy run` it belongs to the command).
    public init(
        controller: LifecycleController, configurationPath: String?, reloadsOnHangup: Bool = true, logger: Logger
    ) {
        self.controller = controller
        self.configurationPath = configurationPath
        self.reloadsOnHangup = reloadsOnHangup
        self.logger = logger
    }

    public func run() async throws {
        let hangups = reloadsOnHangup ? Self.hangupSignals() : nil
        await withDiscardingTaskGroup { group in
            group.addTask {
                guard let hangups else { return }
                for await _ in hangups.stream {
                    logger.notice("SIGHUP: reloading the configuration")
                    _ = await controller.reload(trigger: "SIGHUP")
                }
            }
            group.addTask {
                await poll()
            }
            try? await gracefulShutdown()
            hangups?.cancel()
            group.cancelAll()
        }
    }

    private func poll() async {
        var lastContents = await readConfiguration()
        await controller.checkRotation(now: Date())
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: Self.interval)
            } catch {
                return
            }
            await controller.checkRotation(now: Date())
            guard await controller.configuration.watch else { continue }
            let contents = await readConfiguration()
            guard let contents, contents != lastContents else { continue }
            lastContents = contents
            logger.notice("\(configurationPath ?? "the configuration") changed: reloading (watch: true)")
            _ = await controller.reload(trigger: "watch")
        }
    }

    /// The configuration file's bytes, read on the thread pool; `nil` when there is none or it cannot be read now
    /// (a reload would report why).
    private func readConfiguration() async -> Data? {
        guard let path = configurationPath else { return nil }
        return try? await NIOThreadPool.singleton.runIfActive { FileManager.default.contents(atPath: path) }
    }

    /// SIGHUP as a stream. The default action (terminate) is replaced first: a reload must never stop the proxy.
    private static func hangupSignals() -> (stream: AsyncStream<Void>, cancel: @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // Dispatch sources are thread-safe; the type is not marked Sendable.
        nonisolated(unsafe) let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        return (stream, { source.cancel(); continuation.finish() })
    }
}
