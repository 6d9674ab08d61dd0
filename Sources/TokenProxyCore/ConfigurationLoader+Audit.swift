extension ConfigurationLoader {
    /// Parses `audit:`.
    static func parseAudit(
        _ audit: inout YAMLMappingReader, into configuration: inout ProxyConfiguration
    ) throws(ConfigurationError) {
        if audit.keys.contains(where: { $0.name == "log" }) {
            configuration.auditLogPath = try audit.string("log")?.0
        }
        if audit.keys.contains(where: { $0.name == "store" }) {
            if let (text, location) = try audit.string("store") {
                guard text.hasPrefix("sqlite:"), text.count > "sqlite:".count else {
                    throw ConfigurationError(
                        "audit.store must be sqlite:PATH (postgres:// comes with gateway fleets), got '\(text)'",
                        at: location
                    )
                }
                configuration.usageStorePath = String(text.dropFirst("sqlite:".count))
            } else {
                configuration.usageStorePath = nil
            }
        }
        if let (text, location) = try audit.string("fsync") {
            guard let policy = AuditSyncPolicy(rawValue: text) else {
                throw ConfigurationError("audit.fsync must be always, interval or never", at: location)
            }
            configuration.auditSync = policy
        }
        if let (bytes, location) = try audit.int("max_bytes") {
            guard bytes >= 4096 else {
                throw ConfigurationError("audit.max_bytes must be at least 4096", at: location)
            }
            configuration.auditMaxBytes = bytes
        }
        if let (text, location) = try audit.string("on_failure") {
            guard let policy = AuditFailurePolicy(rawValue: text) else {
                throw ConfigurationError("audit.on_failure must be warn or fail_closed", at: location)
            }
            configuration.auditOnFailure = policy
        }
        try audit.rejectUnknownKeys()
    }
}
