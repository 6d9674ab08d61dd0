import NIOCore
import NIOHTTP1
import TokenProxyCore

/// The bounds that keep a peer from making the proxy hold unbounded memory or wait forever.
public struct ProxyLimits: Sendable {
    /// Largest request or response header block, in bytes.
    public var maxHeaderBytes: Int = 64 * 1024
    /// Most header fields in one message.
    public var maxHeaderCount: Int = 200
    /// How long to wait for a TCP connection to an upstream.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// How long a TLS handshake (client or upstream) may take.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// How long an upstream may take from the request to the start of its response.
    public var firstByteTimeout: TimeAmount = .seconds(60)
    /// How long a client connection or tunnel may be silent both ways.
    public var idleTimeout: TimeAmount = .seconds(300)
    /// How long a graceful shutdown waits for requests and tunnels in flight.
    public var drainTimeout: TimeAmount = .seconds(30)
    /// The largest body buffered to compute an AWS payload signature (services other than S3).
    public var maxSignedBodyBytes: Int = 16 * 1024 * 1024
    /// Most concurrent HTTP/2 streams a client may open on one intercepted connection.
    public var maxConcurrentStreams: Int = 100
    /// Most interception TLS contexts (one per host) kept in memory.
    public var leafCacheCapacity: Int = 1024

    /// The defaults.
    public init() {}

    /// The defaults with the configured timeouts.
    public init(timeouts: Timeouts) {
        connectTimeout = TimeAmount(timeouts.connect)
        handshakeTimeout = TimeAmount(timeouts.tlsHandshake)
        firstByteTimeout = TimeAmount(timeouts.firstByte)
        idleTimeout = TimeAmount(timeouts.idle)
        drainTimeout = TimeAmount(timeouts.drain)
    }

    /// The decoder limits derived from these bounds.
    var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderFieldCount = maxHeaderCount
        return limits
    }
}
