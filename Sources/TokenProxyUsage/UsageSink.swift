import TokenProxyCore

/// A place the ``UsageRecorder`` writes batches of events to: the audit log, the usage store.
///
/// Called only from the recorder's own thread, one batch at a time, so implementations need no locks of their own
/// and may block (file and database I/O).
public protocol UsageSink: AnyObject {
    /// A short name for messages (`audit log state/audit.jsonl`).
    var name: String { get }
    /// Stores `events`, in order. Throws when they could not be stored (disk full, read-only file, locked database);
    /// the recorder then counts them as failed and reports the sink unhealthy until a later write succeeds.
    func write(_ events: [UsageEvent]) throws
    /// Makes what was written durable as far as the sink's policy asks (`final` at shutdown: everything).
    func flush(final: Bool) throws
    /// Releases files and connections. Called once, after the last flush.
    func close()
}
