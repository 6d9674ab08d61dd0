import CTokenProxySystem

/// Priorities of the proxy's own background threads.
public enum ThreadPriority {
    /// The nice value of background writers (audit log, usage store, log lines): below the event loops, which carry
    /// the traffic, so on a busy machine a batch write waits for a request rather than the other way round.
    public static let backgroundNiceness: Int32 = 10

    /// Lowers the calling thread's priority to ``backgroundNiceness``. Best effort: returns whether it took.
    @discardableResult
    public static func makeCurrentThreadBackground() -> Bool {
        c_tokenproxy_set_thread_niceness(backgroundNiceness) == 0
    }
}
