import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An HTTP/1.1 origin server on 127.0.0.1 (HTTPS, or plain HTTP) that records what reaches it.
///
/// The proxy's job is judged by what arrives here: which requests, with which headers, and how many body bytes.
/// Every request is recorded at its head, so a request the proxy should have stopped shows up even if its body
/// never completes. Each answer is `200` with a short body that echoes the received body's byte count and never
/// any request header, so the canary cannot travel back to a client through the origin.
final class TestOrigin: Sendable {
    /// One request as the origin saw it.
    ///
    /// Its description names the headers but shows none of their values: Swift Testing prints values it expands
    /// in a failed expectation, and an injected header's value is the credential.
    struct RecordedRequest: Sendable, CustomStringConvertible {
        /// The request method, e.g. `GET`.
        let method: String
        /// The request target as sent, e.g. `/v1/items?secret=abc`.
        let uri: String
        /// Every header field in order, duplicates kept: "replaced, not appended" is checked by counting.
        let headers: [(name: String, value: String)]
        /// Body bytes received so far.
        var bodyBytes: Int
        /// The first ``TestOrigin/recordedBodyLimit`` bytes of the body, once the request is complete.
        var body: [UInt8] = []
        /// Whether the request's end was received.
        var isComplete: Bool

        var description: String {
            "\(method) \(uri) [headers: \(headers.map(\.name).joined(separator: ", "))] body=\(bodyBytes)"
        }

        /// ``body`` as UTF-8 text (invalid bytes replaced).
        var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// All values of the header `name` (case-insensitive), in order.
        func values(of name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }
    }

    /// How much of each request body is kept for ``RecordedRequest/body``; the rest is only counted.
    static let recordedBodyLimit = 64 * 1024

    /// The text every response body starts with.
    static let greeting = "hello from origin"

    /// The port the origin listens on (on 127.0.0.1).
    let port: Int
    /// Whether the origin speaks TLS.
    let isTLS: Bool

    private let serverChannel: any Channel
    private let recorder: Recorder

    private init(port: Int, isTLS: Bool, serverChannel: any Channel, recorder: Recorder) {
        self.port = port
        self.isTLS = isTLS
        self.serverChannel = serverChannel
        self.recorder = recorder
    }

    /// Starts an origin on 127.0.0.1 and an ephemeral port.
    ///
    /// - Parameter identity: the certificate and key to serve HTTPS with, or `nil` for plain HTTP.
    static func start(identity: TestCertificates.Identity?) async throws -> TestOrigin {
        let sslContext: NIOSSLContext?
        if let identity {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: [
                    .certificate(try NIOSSLCertificate(bytes: Array(identity.certificatePEM.utf8), format: .pem))
                ],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
            )
            sslContext = try NIOSSLContext(configuration: configuration)
        } else {
            sslContext = nil
        }

        let recorder = Recorder()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                recorder.accepted(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(RequestHandler(recorder: recorder))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw OriginError.noPort
        }
        return TestOrigin(port: port, isTLS: sslContext != nil, serverChannel: channel, recorder: recorder)
    }

    /// Every request received so far, in arrival order.
    var requests: [RecordedRequest] { recorder.requests }

    /// How many TCP connections the origin accepted (including ones whose TLS handshake failed).
    var acceptedConnections: Int { recorder.acceptedConnections }

    /// Stops listening and closes every connection still open (e.g. ones the proxy keeps pooled).
    func shutdown() async {
        try? await serverChannel.close()
        for channel in recorder.openChannels() {
            try? await channel.close()
        }
    }

    /// A port on 127.0.0.1 that nothing listens on: bound once to get a free number, then released.
    ///
    /// Another process could take it in between; on a test machine that is rare enough, and it would show up as
    /// an unexpected success rather than a hang.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port else { throw OriginError.noPort }
        return port
    }

    /// Errors starting an origin.
    enum OriginError: Error {
        case noPort
    }
}

extension TestOrigin {
    /// The origin's shared, lock-protected record; written from event loops, read from the test.
    final class Recorder: Sendable {
        private struct State {
            var requests: [RecordedRequest] = []
            var acceptedConnections = 0
            var channels: [any Channel] = []
        }

        private let state = Mutex(State())

        var requests: [RecordedRequest] { state.withLock { $0.requests } }
        var acceptedConnections: Int { state.withLock { $0.acceptedConnections } }

        func accepted(_ channel: any Channel) {
            state.withLock {
                $0.acceptedConnections += 1
                $0.channels.append(channel)
            }
        }

        func openChannels() -> [any Channel] {
            state.withLock { $0.channels.filter(\.isActive) }
        }

        /// Records a request head and returns its index, for ``finish(_:bodyBytes:)``.
        func begin(method: String, uri: String, headers: [(name: String, value: String)]) -> Int {
            state.withLock {
                $0.requests.append(
                    RecordedRequest(method: method, uri: uri, headers: headers, bodyBytes: 0, isComplete: false)
                )
                return $0.requests.count - 1
            }
        }

        /// Records the body size (and the body's start) of the request at `index` and marks it complete.
        func finish(_ index: Int, bodyBytes: Int, body: [UInt8] = []) {
            state.withLock {
                $0.requests[index].bodyBytes = bodyBytes
                $0.requests[index].body = body
                $0.requests[index].isComplete = true
            }
        }
    }
}
