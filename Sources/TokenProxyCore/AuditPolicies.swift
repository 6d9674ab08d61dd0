/// How often the audit log is flushed to stable storage (`audit.fsync`).
public enum AuditSyncPolicy: String, Sendable, Hashable, CaseIterable {
    /// After every batch of records: nothing is at risk, at the cost of an fsync per batch.
    case always
    /// At most once a second: at most one second of records is at risk in a crash (the default).
    case interval
    /// Only at shutdown: the operating system decides.
    case never
}

/// What the proxy does when it cannot write usage records (`audit.on_failure`).
public enum AuditFailurePolicy: String, Sendable, Hashable, CaseIterable {
    /// Keep serving, and say so loudly on stderr and in `/status` (the workstation default).
    case warn
    /// Refuse new proxied requests with 503 until records can be written again (for gateways).
    case failClosed = "fail_closed"
}
