import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// An HTTPS origin on 127.0.0.1 that speaks HTTP/2 or HTTP/1.1, whichever ALPN settles on, and records every
/// request with the protocol it arrived in.
///
/// It stands in for the upstreams the proxy must talk to in either protocol, independently of what its own client
/// chose: an origin offering `h2` must be reached over HTTP/2, one offering only `http/1.1` over HTTP/1.1. HTTP/2
/// requests are recorded with their pseudo-headers (`:method`, `:path`, `:authority`, `:scheme`) as sent, and
/// header validation is off on purpose, so that a connection-specific header the proxy should have dropped is
/// recorded (and fails an expectation by name) instead of resetting the stream.
///
/// Each answer is `200`, with a body that echoes the received body's byte count and the protocol, never a request
/// header. A request whose query has `trailers=1` gets its body without a length and then trailers (``trailers``),
/// so that a test can check they reach the client. Two paths produce long responses (see ``Route``): `/download`
/// (zeros, written with backpressure) and `/events` (Server-Sent Events, one per interval). Over HTTP/1.1 every
/// response also carries headers that only describe that hop (``hopByHopResponseHeaders``), which must not reach
/// the client.
final class H2TestOrigin: Sendable {
    /// The application protocols the origin offers in ALPN.
    enum Protocols: String, Sendable, CaseIterable, CustomStringConvertible {
        /// Offers `h2` first, then `http/1.1`: an HTTP/2-capable server.
        case h2AndHTTP1 = "h2-origin"
        /// Offers only `http/1.1`: an origin that cannot speak HTTP/2.
        case http1Only = "http1-origin"

        /// The ALPN identifiers, most preferred first.
        var alpn: [String] {
            switch self {
            case .h2AndHTTP1: ["h2", "http/1.1"]
            case .http1Only: ["http/1.1"]
            }
        }

        /// The protocol a client that offers both (as the proxy should) ends up speaking.
        var expectedProtocol: String {
            switch self {
            case .h2AndHTTP1: Self.h2
            case .http1Only: Self.http1
            }
        }

        static let h2 = "h2"
        static let http1 = "http/1.1"

        var description: String { rawValue }
    }

    /// One request as the origin saw it.
    ///
    /// Described without header values (see ``TestOrigin/RecordedRequest``).
    struct Request: Sendable, CustomStringConvertible {
        /// `h2` or `http/1.1`.
        let protocolName: String
        /// Which accepted TCP connection (0-based, in accept order) carried it.
        let connection: Int
        /// The request in ``TestOrigin``'s form, for the fixture's questions about the credential. For HTTP/2 its
        /// method and target come from `:method` and `:path`, and its headers include the pseudo-headers.
        var recorded: TestOrigin.RecordedRequest
        /// Trailer fields the request ended with.
        var trailers: [(name: String, value: String)] = []
        /// When the request's end arrived.
        var requestEnded: ContinuousClock.Instant?
        /// When the origin handed the last byte of its response to the connection (for a download, the last
        /// slice, which it writes only as fast as the connection or the HTTP/2 window lets it).
        var responseWritten: ContinuousClock.Instant?

        /// `:authority` for HTTP/2 (or `Host` if it has none), `Host` for HTTP/1.1.
        var authority: String? {
            if protocolName == Protocols.h2, let authority = recorded.values(of: ":authority").first {
                return authority
            }
            return recorded.values(of: "host").first
        }

        var description: String {
            "\(protocolName) #\(connection) \(recorded) trailers=[\(trailers.map(\.name).joined(separator: ", "))] "
                + "answered=\(responseWritten != nil)"
        }
    }

    /// The trailers sent after a body when the query asks for them, gRPC-style.
    static let trailers: [(name: String, value: String)] = [("grpc-status", "0"), ("x-e2e-trailer", "done")]

    /// Headers that describe only the HTTP/1.1 hop to the proxy, sent with every HTTP/1.1 response: `Connection`
    /// nominates `X-Origin-Hop`, and `Keep-Alive` is hop-by-hop by definition.
    static let hopByHopResponseHeaders: [(name: String, value: String)] = [
        ("Connection", "X-Origin-Hop"), ("X-Origin-Hop", "nominated"), ("Keep-Alive", "timeout=30"),
    ]

    /// The port the origin listens on (on 127.0.0.1).
    let port: Int
    /// What it offers in ALPN.
    let protocols: Protocols

    private let serverChannel: any Channel
    private let recorder: Recorder

    private init(port: Int, protocols: Protocols, serverChannel: any Channel, recorder: Recorder) {
        self.port = port
        self.protocols = protocols
        self.serverChannel = serverChannel
        self.recorder = recorder
    }

    /// Starts an origin on 127.0.0.1 and an ephemeral port, serving HTTPS with `identity` and offering `protocols`.
    static func start(identity: TestCertificates.Identity, protocols: Protocols) async throws -> H2TestOrigin {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [
                .certificate(try NIOSSLCertificate(bytes: Array(identity.certificatePEM.utf8), format: .pem))
            ],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        )
        configuration.applicationProtocols = protocols.alpn
        let sslContext = try NIOSSLContext(configuration: configuration)

        let connectionConfiguration = {
            var configuration = NIOHTTP2Handler.ConnectionConfiguration()
            // Record what the proxy sends, even what HTTP/2 forbids: the test names the header instead of seeing a
            // reset stream.
            configuration.headerBlockValidation = .disabled
            configuration.targetWindowSize = 1 << 20
            return configuration
        }()
        let streamConfiguration = {
            var configuration = NIOHTTP2Handler.StreamConfiguration()
            configuration.targetWindowSize = 1 << 20
            return configuration
        }()

        let recorder = Recorder()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in
                let connection = recorder.accepted(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                }.flatMap {
                    channel.configureHTTP2SecureUpgrade(
                        h2ChannelConfigurator: { channel in
                            channel.configureHTTP2Pipeline(
                                mode: .server,
                                connectionConfiguration: connectionConfiguration,
                                streamConfiguration: streamConfiguration
                            ) { stream in
                                stream.eventLoop.makeCompletedFuture {
                                    try stream.pipeline.syncOperations.addHandler(
                                        StreamHandler(recorder: recorder, connection: connection)
                                    )
                                }
                            }.map { _ in () }
                        },
                        http1ChannelConfigurator: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let pipeline = channel.pipeline.syncOperations
                                try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                                try pipeline.addHandler(HTTP1Handler(recorder: recorder, connection: connection))
                            }
                        }
                    )
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw TestOrigin.OriginError.noPort
        }
        return H2TestOrigin(port: port, protocols: protocols, serverChannel: channel, recorder: recorder)
    }

    /// Every request received so far, in arrival order.
    var requests: [Request] { recorder.requests }

    /// How many TCP connections the origin accepted.
    var acceptedConnections: Int { recorder.acceptedConnections }

    /// Stops listening and closes every connection still open.
    func shutdown() async {
        try? await serverChannel.close()
        for channel in recorder.openChannels() {
            try? await channel.close()
        }
    }
}

// MARK: Recording

extension H2TestOrigin {
    /// The origin's lock-protected record; written from event loops, read from the test.
    final class Recorder: Sendable {
        private struct State {
            var requests: [Request] = []
            var channels: [any Channel] = []
        }

        private let state = Mutex(State())

        var requests: [Request] { state.withLock { $0.requests } }
        var acceptedConnections: Int { state.withLock { $0.channels.count } }

        /// Counts a TCP connection and returns its index.
        func accepted(_ channel: any Channel) -> Int {
            state.withLock {
                $0.channels.append(channel)
                return $0.channels.count - 1
            }
        }

        func openChannels() -> [any Channel] {
            state.withLock { $0.channels.filter(\.isActive) }
        }

        /// Records a request head and returns its index.
        func begin(
            protocolName: String, connection: Int, method: String, uri: String,
            headers: [(name: String, value: String)]
        ) -> Int {
            state.withLock {
                let recorded = TestOrigin.RecordedRequest(
                    method: method, uri: uri, headers: headers, bodyBytes: 0, isComplete: false
                )
                $0.requests.append(Request(protocolName: protocolName, connection: connection, recorded: recorded))
                return $0.requests.count - 1
            }
        }

        /// Records the body size and trailers of the request at `index` and marks it complete.
        func finish(_ index: Int, bodyBytes: Int, trailers: [(name: String, value: String)]) {
            state.withLock {
                $0.requests[index].recorded.bodyBytes = bodyBytes
                $0.requests[index].recorded.isComplete = true
                $0.requests[index].trailers = trailers
                $0.requests[index].requestEnded = .now
            }
        }

        /// Notes that the whole response to the request at `index` has been written.
        func responseWritten(_ index: Int) {
            state.withLock { $0.requests[index].responseWritten = .now }
        }
    }

    /// What a request asks for, by its target; the same in both protocols.
    enum Route {
        /// A short answer (``Reply``).
        case reply(Reply)
        /// `/download?bytes=N`: `N` zero bytes with a `Content-Length`, written only while the connection (or the
        /// HTTP/2 stream's flow-control window) takes more, so the origin itself holds little.
        case download(bytes: Int)
        /// `/events?count=N&interval_ms=M`: `text/event-stream` without a length; event `i` (from 0) is written and
        /// flushed `i × M` ms after the head, its data `{"seq": i, "sent_ms": <wall clock, ms since 1970>}`.
        case events(count: Int, interval: TimeAmount)

        init(uri: String, bodyBytes: Int, protocolName: String) {
            let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            var query: [String: String] = [:]
            for pair in parts.dropFirst().first?.split(separator: "&") ?? [] {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(keyValue[0])] = keyValue.count > 1 ? String(keyValue[1]) : ""
            }
            switch parts.first ?? "" {
            case "/download":
                self = .download(bytes: Int(query["bytes"] ?? "") ?? 0)
            case "/events":
                self = .events(
                    count: Int(query["count"] ?? "") ?? 20,
                    interval: .milliseconds(Int64(query["interval_ms"] ?? "") ?? 100)
                )
            default:
                let reply = Reply(trailers: query["trailers"] == "1", bodyBytes: bodyBytes, protocolName: protocolName)
                self = .reply(reply)
            }
        }
    }

    /// The answer to a request that is neither a download nor an event stream.
    struct Reply {
        var headers: [(name: String, value: String)]
        var body: String
        var trailers: [(name: String, value: String)]?

        init(trailers withTrailers: Bool, bodyBytes: Int, protocolName: String) {
            body = "\(TestOrigin.greeting)\nreceived \(bodyBytes) bytes\nprotocol \(protocolName)\n"
            headers = [
                ("content-type", "text/plain; charset=utf-8"),
                ("x-origin-protocol", protocolName),
                ("x-origin-received-bytes", String(bodyBytes)),
            ]
            if withTrailers {
                // No length: the body ends with the stream (HTTP/2) or the last chunk (HTTP/1.1), then trailers.
                trailers = H2TestOrigin.trailers
            } else {
                headers.append(("content-length", String(body.utf8.count)))
            }
        }
    }

    /// The size of each write of a download.
    static let sliceSize = 64 * 1024

    /// Event `sequence` of an event stream, stamped with the wall clock now.
    static func event(_ sequence: Int) -> String {
        let milliseconds = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        return "id: \(sequence)\nevent: tick\ndata: {\"seq\": \(sequence), \"sent_ms\": \(milliseconds)}\n\n"
    }

    /// Whether a request's headers ask for `100 Continue`.
    static func expectsContinue(_ headers: [(name: String, value: String)]) -> Bool {
        headers.contains { $0.name.lowercased() == "expect" && $0.value.lowercased() == "100-continue" }
    }
}

