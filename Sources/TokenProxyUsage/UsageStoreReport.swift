import Foundation

/// One credential's usage, as `tokenproxy usage` reports it: over all time (from the aggregates) or since a time
/// (from the request rows).
///
/// Encodes with the store's snake_case column names and every key present (`null` for never), like the audit log.
public struct UsageReport: Sendable, Codable, Equatable {
    /// Requests to one host with the credential.
    public struct Host: Sendable, Codable, Equatable {
        /// The destination host.
        public var host: String
        /// How many requests went there with the credential.
        public var requests: Int
        /// The start of the latest of them.
        public var lastUsed: Date

        /// Creates a host entry.
        public init(host: String, requests: Int, lastUsed: Date) {
            self.host = host
            self.requests = requests
            self.lastUsed = lastUsed
        }

        enum CodingKeys: String, CodingKey {
            case host, requests
            case lastUsed = "last_used"
        }
    }

    /// The credential's name.
    public var credential: String
    /// Requests that carried it.
    public var requests: Int
    /// How many of them the proxy refused or failed, or the origin answered with a 5xx status.
    public var errors: Int
    /// Bytes from clients in those requests.
    public var bytesIn: Int
    /// Bytes to clients in their responses.
    public var bytesOut: Int
    /// The start of the earliest request; `nil` if never used.
    public var firstUsed: Date?
    /// The start of the latest request; `nil` if never used.
    public var lastUsed: Date?
    /// The client (`ip:port`) of the latest request; `nil` if never used.
    public var lastClient: String?
    /// The hosts it went to, most requests first.
    public var hosts: [Host]
    /// The distinct client addresses (without port) that used it, most requests first.
    public var clients: [String]
    /// Requests sent with the credential's previous value (`previous:`, after a 401 to the current one); `nil` when
    /// not looked up.
    public var previousValueRequests: Int?
    /// The start of the latest of them.
    public var previousValueLastUsed: Date?

    /// Creates a report row.
    public init(
        credential: String, requests: Int, errors: Int, bytesIn: Int, bytesOut: Int, firstUsed: Date?,
        lastUsed: Date?, lastClient: String?, hosts: [Host], clients: [String]
    ) {
        self.credential = credential
        self.requests = requests
        self.errors = errors
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.firstUsed = firstUsed
        self.lastUsed = lastUsed
        self.lastClient = lastClient
        self.hosts = hosts
        self.clients = clients
    }

    /// The row of a credential that was never used (or not in the window asked for).
    public static func neverUsed(_ credential: String) -> UsageReport {
        UsageReport(
            credential: credential, requests: 0, errors: 0, bytesIn: 0, bytesOut: 0, firstUsed: nil, lastUsed: nil,
            lastClient: nil, hosts: [], clients: []
        )
    }

    enum CodingKeys: String, CodingKey {
        case credential, requests, errors
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case firstUsed = "first_used"
        case lastUsed = "last_used"
        case lastClient = "last_client"
        case hosts, clients
        case previousValueRequests = "previous_value_requests"
        case previousValueLastUsed = "previous_value_last_used"
    }

    // Absent optionals as explicit nulls, so every row has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(credential, forKey: .credential)
        try container.encode(requests, forKey: .requests)
        try container.encode(errors, forKey: .errors)
        try container.encode(bytesIn, forKey: .bytesIn)
        try container.encode(bytesOut, forKey: .bytesOut)
        try container.encode(firstUsed, forKey: .firstUsed)
        try container.encode(lastUsed, forKey: .lastUsed)
        try container.encode(lastClient, forKey: .lastClient)
        try container.encode(hosts, forKey: .hosts)
        try container.encode(clients, forKey: .clients)
        try container.encode(previousValueRequests ?? 0, forKey: .previousValueRequests)
        try container.encode(previousValueLastUsed, forKey: .previousValueLastUsed)
    }
}
