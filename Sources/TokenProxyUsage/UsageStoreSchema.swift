import GRDB
import TokenProxyCore

/// The usage store's tables, and the rules that decide what counts as a use and as an error.
///
/// Both the writer (``SQLiteUsageStore``) and the reader (``UsageStoreReader``) use these definitions, so the
/// aggregates the writer maintains and the figures the reader computes from raw rows (for `--since`) always agree.
enum UsageStoreSchema {
    /// The migrations, from the first version on.
    ///
    /// Append-only: a migration that has shipped is never edited, only followed by a new one, so that a database
    /// written by any version is brought forward by every later one.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // Written as SQL rather than with the table builder so the shipped schema is frozen text, independent
            // of how a later GRDB spells things.
            try db.execute(
                sql: """
                    CREATE TABLE requests (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        time TEXT NOT NULL,
                        client TEXT NOT NULL,
                        method TEXT NOT NULL,
                        host TEXT NOT NULL,
                        port INTEGER NOT NULL,
                        path TEXT,
                        rule INTEGER,
                        credential TEXT,
                        status INTEGER NOT NULL,
                        bytes_in INTEGER NOT NULL,
                        bytes_out INTEGER NOT NULL,
                        duration_ms REAL NOT NULL,
                        decision TEXT NOT NULL,
                        reason TEXT
                    );
                    CREATE INDEX requests_by_credential_time ON requests (credential, time);
                    CREATE INDEX requests_by_time ON requests (time);
                    CREATE TABLE credential_usage (
                        credential TEXT PRIMARY KEY NOT NULL,
                        requests INTEGER NOT NULL,
                        errors INTEGER NOT NULL,
                        bytes_in INTEGER NOT NULL,
                        bytes_out INTEGER NOT NULL,
                        first_used TEXT NOT NULL,
                        last_used TEXT NOT NULL,
                        last_client TEXT NOT NULL
                    );
                    CREATE TABLE credential_hosts (
                        credential TEXT NOT NULL,
                        host TEXT NOT NULL,
                        requests INTEGER NOT NULL,
                        last_used TEXT NOT NULL,
                        PRIMARY KEY (credential, host)
                    );
                    """
            )
        }
        migrator.registerMigration("v2") { db in
            // The proxy's lifecycle state (see ``CredentialStateStore``): revocations that outlive restarts, and when
            // each value of a credential (by keyed fingerprint) was first seen, for `rotate_every:`.
            try db.execute(
                sql: """
                    CREATE TABLE revocations (
                        credential TEXT PRIMARY KEY NOT NULL,
                        reason TEXT,
                        revoked_at TEXT NOT NULL
                    );
                    CREATE TABLE credential_versions (
                        credential TEXT NOT NULL,
                        fingerprint TEXT NOT NULL,
                        first_seen TEXT NOT NULL,
                        PRIMARY KEY (credential, fingerprint)
                    );
                    """
            )
        }
        return migrator
    }()

    /// The SQL condition (on `requests`) for a row that counts toward a credential's usage: see
    /// ``UsageEvent/countsAsUse``.
    static let useCondition = "credential IS NOT NULL AND method <> '\(refreshMethod)'"

    /// The SQL condition (on `requests`) for a row that counts as an error: see ``UsageEvent/countsAsError``.
    static let errorCondition = "(decision IN ('error', 'denied', 'leak') OR status >= 500)"

    /// The method of the record a failed background re-read of a credential's source leaves.
    static let refreshMethod = "REFRESH"

    /// `tokenproxy_client_address(client)`: the client's address without its port (see ``address(ofClient:)``).
    static let clientAddressFunction = DatabaseFunction(
        "tokenproxy_client_address", argumentCount: 1, pure: true
    ) { values in
        String.fromDatabaseValue(values[0]).map(address(ofClient:))
    }

    /// `client` (`ip:port`, as the proxy records it) without the port.
    ///
    /// Each connection comes from a new ephemeral port, so "distinct clients" only means something per address.
    /// Values without a numeric port (`tokenproxy` for the proxy's own records) are kept whole.
    static func address(ofClient client: String) -> String {
        guard let colon = client.lastIndex(of: ":"), colon != client.startIndex else { return client }
        let port = client[client.index(after: colon)...]
        guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return client }
        var address = client[..<colon]
        if address.hasPrefix("["), address.hasSuffix("]") {
            address = address.dropFirst().dropLast()
        }
        return String(address)
    }
}

extension UsageEvent {
    /// Whether the event is a use of its credential: it names one, and it is not the record of a failed background
    /// re-read of the credential's source (that is news about the source, and would make an unused credential look
    /// used).
    var countsAsUse: Bool {
        credential != nil && method != UsageStoreSchema.refreshMethod
    }

    /// Whether the event counts as an error: the proxy refused it or failed it, or the origin answered 5xx.
    var countsAsError: Bool {
        decision == .error || decision == .denied || decision == .leak || status >= 500
    }
}
