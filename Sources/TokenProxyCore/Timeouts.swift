/// How long the proxy waits for each step before giving up, so a hung peer never pins memory or a connection.
public struct Timeouts: Sendable, Hashable {
    /// TCP connect to an upstream.
    public var connect: Duration = .seconds(10)
    /// A TLS handshake, with a client or an upstream.
    public var tlsHandshake: Duration = .seconds(10)
    /// From sending a request upstream to the start of its response.
    public var firstByte: Duration = .seconds(60)
    /// A client connection (or tunnel) with no traffic either way.
    public var idle: Duration = .seconds(300)
    /// How long a graceful shutdown (SIGTERM, SIGINT) waits for requests and tunnels in flight.
    public var drain: Duration = .seconds(30)

    /// The defaults: 10 s connect, 10 s TLS handshake, 60 s first byte, 300 s idle.
    public init() {}
}
