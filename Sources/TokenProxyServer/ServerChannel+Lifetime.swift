import NIOCore
import ServiceLifecycle

extension Channel {
    /// Waits until this listening channel closes, closing it on graceful shutdown or task cancellation: the common
    /// tail of every listener's `Service.run()`.
    func runUntilShutdown() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await self.closeFuture.get()
            } onCancel: {
                self.close(promise: nil)
            }
        } onGracefulShutdown: {
            self.close(promise: nil)
        }
    }
}
