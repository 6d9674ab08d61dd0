import ArgumentParser
import Foundation
import TokenProxyCore
import TokenProxyUsage

/// `tokenproxy usage`: per-credential usage from the usage store, as a table or JSON, or the stale credentials.
struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show how each credential was used, from the usage store.",
        discussion: """
            Reads the usage store that 'tokenproxy serve' writes (audit.store in the configuration, default \
            state/usage.db) read-only: the proxy may be running meanwhile. Every configured credential is listed, \
            those never used as 'never'; credentials in the store that are no longer configured are listed after \
            them. Clients are shown by address, without the connection's port.

            With --since, the counts cover only requests that started in the window; a credential with none there \
            shows when it was last used before it.

            Examples: tokenproxy usage --since 24h | tokenproxy usage --stale 30 | tokenproxy usage --json
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(
        help: ArgumentHelp(
            "Only requests since DATE (2026-11-30, 2026-11-30T05:00:00Z) or DURATION ago (90s, 30m, 24h, 7d, 2w).",
            valueName: "DATE|DURATION"
        )
    )
    var since: String?

    @Option(help: ArgumentHelp("Only the credential NAME.", valueName: "NAME"))
    var credential: String?

    @Flag(help: "Print a JSON array with every field (RFC 3339 UTC times) instead of a table.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "List only the configured credentials unused for DAYS days or more, never-used ones included.",
            valueName: "DAYS"
        )
    )
    var stale: Int?

    @Option(
        help: ArgumentHelp("The usage store to read (default: the configuration's audit.store).", valueName: "PATH")
    )
    var db: String?

    func run() throws {
        try Self.failingCleanly {
            let now = Date()
            let window = try parseSince(now: now)
            if let stale, stale < 1 {
                throw CLIFailure("--stale takes a number of days, 1 or more; got \(stale)")
            }
            if stale != nil, since != nil {
                throw CLIFailure(
                    "--stale and --since cannot be combined: --stale looks at the last use, whenever it was"
                )
            }
            let configuration = try options.load()
            let path = try storePath(of: configuration)
            let configured = configuration.credentials.map(\.name).filter { credential == nil || $0 == credential }

            let reader: UsageStoreReader?
            do {
                reader = try UsageStoreReader(path: path)
            } catch let error as UsageStoreError where error.isNotFound {
                // Not an error: a proxy that has not served a request yet (or never ran here) has written nothing.
                printError("notice: \(error.description)")
                reader = nil
            }
            defer { reader?.close() }

            if let stale {
                if let credential, configured.isEmpty {
                    throw CLIFailure("no credential named '\(credential)' in \(Self.describe(configuration))")
                }
                let lastUsed = try reader?.lastUsed() ?? [:]
                let entries = StaleCredential.select(days: stale, configured: configured, lastUsed: lastUsed, now: now)
                try json ? printJSON(entries) : printStale(entries, days: stale, now: now)
                return
            }

            var rows = try reportRows(reader: reader, since: window, configured: configured)
            if let credential, rows.isEmpty {
                throw CLIFailure(
                    "no credential named '\(credential)' in \(Self.describe(configuration)) or in the usage store"
                )
            }
            if json {
                let uses = try reader?.previousValueUses(since: window) ?? [:]
                for index in rows.indices {
                    rows[index].previousValueRequests = uses[rows[index].credential]?.requests ?? 0
                    rows[index].previousValueLastUsed = uses[rows[index].credential]?.lastUsed
                }
                try printJSON(rows)
            } else {
                if let window {
                    print("since \(UsageStoreTime.format(window))")
                }
                printTable(rows, now: now)
                try Self.printPreviousValueUses(reader: reader, since: window, now: now)
            }
        }
    }

    /// `--since` as a time, if given.
    private func parseSince(now: Date) throws -> Date? {
        guard let since else { return nil }
        guard let date = UsageStoreTime.since(parsing: since, now: now) else {
            throw CLIFailure(
                "--since takes a date (2026-11-30, 2026-11-30T05:00:00Z) or a duration (30m, 24h, 7d); got '\(since)'"
            )
        }
        return date
    }

    /// The store to read: `--db`, else the configuration's.
    private func storePath(of configuration: ProxyConfiguration) throws -> String {
        if let db { return db }
        guard let path = configuration.usageStorePath else {
            throw CLIFailure(
                "the usage store is turned off in \(Self.describe(configuration)) (audit.store: null); "
                    + "pass --db PATH to read one"
            )
        }
        return path
    }

    /// The store's rows, then a never-used row for each configured credential the store does not have; configured
    /// credentials in file order first, then the store's others by name.
    private func reportRows(reader: UsageStoreReader?, since: Date?, configured: [String]) throws -> [UsageReport] {
        let stored = try reader?.report(since: since, credential: credential) ?? []
        var byName = Dictionary(stored.map { ($0.credential, $0) }, uniquingKeysWith: { first, _ in first })
        let lastUsedBefore = since == nil ? [:] : try reader?.lastUsed() ?? [:]
        var rows: [UsageReport] = []
        for name in configured where !rows.contains(where: { $0.credential == name }) {
            if let row = byName.removeValue(forKey: name) {
                rows.append(row)
            } else {
                var row = UsageReport.neverUsed(name)
                row.lastUsed = lastUsedBefore[name]
                rows.append(row)
            }
        }
        rows += byName.values.sorted { $0.credential < $1.credential }
        return rows
    }

    // MARK: Output

    private func printJSON<Value: Encodable>(_ value: Value) throws {
        let encoder = UsageEvent.jsonEncoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    private func printTable(_ rows: [UsageReport], now: Date) {
        guard !rows.isEmpty else {
            print("no credentials configured and no usage recorded")
            return
        }
        let lines = rows.map { row in
            [
                row.credential, String(row.requests), String(row.errors),
                UsageStoreTime.relative(row.lastUsed, now: now),
                Self.summarize(row.hosts.map { "\($0.host) (\($0.requests))" }),
                Self.summarize(row.clients),
            ]
        }
        printAligned(
            header: ["CREDENTIAL", "REQUESTS", "ERRORS", "LAST USED", "HOSTS", "CLIENTS"],
            rows: lines,
            rightAligned: [1, 2]
        )
    }

    private func printStale(_ entries: [StaleCredential], days: Int, now: Date) {
        guard !entries.isEmpty else {
            print("no configured credential has gone unused for \(days) days or more")
            return
        }
        printAligned(
            header: ["CREDENTIAL", "LAST USED"],
            rows: entries.map { [$0.credential, UsageStoreTime.relative($0.lastUsed, now: now)] },
            rightAligned: []
        )
    }

    /// Prints `rows` under `header` in columns two spaces apart; the last column is not padded.
    private func printAligned(header: [String], rows: [[String]], rightAligned: Set<Int>) {
        let table = [header] + rows
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for line in table {
            let cells = line.indices.map { column -> String in
                let cell = line[column]
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if rightAligned.contains(column) { return padding + cell }
                return column == line.count - 1 ? cell : cell + padding
            }
            print(cells.joined(separator: "  "))
        }
    }

    /// The first three of `items`, then how many more; `-` for none.
    private static func summarize(_ items: [String]) -> String {
        guard !items.isEmpty else { return "-" }
        let shown = items.prefix(3).joined(separator: ", ")
        return items.count > 3 ? "\(shown), +\(items.count - 3) more" : shown
    }

    private static func describe(_ configuration: ProxyConfiguration) -> String {
        configuration.file ?? "the built-in configuration"
    }
}
