import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An OAuth 2.0 token endpoint (RFC 6749 §4.4 client credentials and §6 refresh) over HTTPS on 127.0.0.1, that
/// records every token request and checks it the way a provider would.
///
/// It authenticates the client with HTTP Basic (RFC 6749 §2.3.1: client id and secret form-encoded, then Base64),
/// answers `401 invalid_client` when that fails, accepts a `refresh_token` grant only with the refresh token it
/// issued last (or the initial one: an old, rotated one gets `400 invalid_grant`), and issues access tokens
/// `<prefix>-<n>` from one random prefix, so that one watched value covers every token it ever issues.
///
/// Tests ask which issued token a request carried (``accessTokenIndex(in:)``) rather than comparing values, so
/// that no expectation prints a token.
final class OAuth2TokenEndpoint: Sendable {
    /// How the endpoint answers.
    enum Behavior: Sendable {
        /// Issues tokens valid for `expiresIn` seconds; with `rotateRefreshTokens`, every answer to a refresh grant
        /// carries a new refresh token and invalidates the old one.
        case issue(expiresIn: Int, rotateRefreshTokens: Bool)
        /// Answers every request with `status` and `{"error": error, "error_description": description}`.
        case reject(status: Int, error: String, description: String?)
    }

    /// One token request as the endpoint saw it.
    ///
    /// Described without the form values or the `Authorization` header, which hold secrets.
    struct TokenRequest: Sendable, CustomStringConvertible {
        let method: String
        let uri: String
        let contentType: String?
        /// The form fields, decoded; `refresh_token` is a secret.
        let form: [String: String]
        /// Whether the Basic credentials decoded to exactly the configured client id and secret.
        let clientAuthenticated: Bool
        /// Which refresh token was presented: `0` the initial one, `n` the n-th rotated one, `nil` none or unknown.
        let refreshTokenIndex: Int?
        /// The status the endpoint answered with.
        let status: Int
        /// When the request arrived.
        let received: ContinuousClock.Instant

        var grantType: String? { form["grant_type"] }

        var description: String {
            "\(method) \(uri) grant_type=\(grantType ?? "-") scope=\(form["scope"] ?? "-") "
                + "client_authenticated=\(clientAuthenticated) "
                + "refresh_token=#\(refreshTokenIndex.map(String.init) ?? "-") "
                + "answered=\(status)"
        }
    }

    /// The client id the proxy must present (with a space and a colon, which Basic needs form-encoded).
    let clientID = "tokenproxy e2e:client"
    /// The client secret the proxy must present: a random core, and characters that form-encoding changes.
    var clientSecret: String { clientSecretCore + "/+:=" }
    /// The refresh token configured in the proxy (index 0); rotated ones are `<prefix>-<n>`.
    var initialRefreshToken: String { refreshToken(0) }
    /// The port the endpoint listens on (on 127.0.0.1).
    let port: Int
    /// The token URL to configure: `https://localhost:<port>/oauth/token`.
    var tokenURL: String { "https://localhost:\(port)\(Self.path)" }

    /// Every value that, found in a file, means a leak: the client secret's random core, the refresh and access
    /// token prefixes (which every issued token contains) and the Basic credentials as sent.
    var secrets: [(label: String, value: String)] {
        [
            // The core is in the secret as configured and as form-encoded, and in any truncation that matters.
            ("the OAuth2 client secret", clientSecretCore),
            ("the OAuth2 Basic client credentials", basicCredentials),
            ("an OAuth2 refresh token", refreshTokenPrefix),
            ("an OAuth2 access token", accessTokenPrefix),
        ]
    }

    static let path = "/oauth/token"

    private let clientSecretCore = OAuth2AWSFixture.randomSecret("tpsecret")
    private let accessTokenPrefix = OAuth2AWSFixture.randomSecret("tpaccess")
    private let refreshTokenPrefix = OAuth2AWSFixture.randomSecret("tprefresh")
    private let serverChannel: any Channel
    private let state: Mutex<State>

    private struct State {
        var behavior: Behavior
        var responseDelay: TimeAmount
        var requests: [TokenRequest] = []
        var issuedAccessTokens: [String] = []
        /// The index of the refresh token that is currently valid.
        var currentRefreshToken = 0
        var channels: [any Channel] = []
    }

    private init(port: Int, serverChannel: any Channel, state: State) {
        self.port = port
        self.serverChannel = serverChannel
        self.state = Mutex(state)
    }

    /// Starts the endpoint on 127.0.0.1 and an ephemeral port, serving HTTPS with `identity`.
    ///
    /// - Parameter responseDelay: how long each answer is held back, so that concurrent proxied requests pile up
    ///   behind one fetch.
    static func start(
        identity: TestCertificates.Identity,
        behavior: Behavior,
        responseDelay: Duration = .zero
    ) async throws -> OAuth2TokenEndpoint {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [
                .certificate(try NIOSSLCertificate(bytes: Array(identity.certificatePEM.utf8), format: .pem))
            ],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        )
        let sslContext = try NIOSSLContext(configuration: configuration)
        let endpointBox = EndpointBox()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(Handler(endpoint: endpointBox))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw TestOrigin.OriginError.noPort
        }
        let endpoint = OAuth2TokenEndpoint(
            port: port,
            serverChannel: channel,
            state: State(
                behavior: behavior,
                responseDelay: .nanoseconds(Int64((responseDelay / .nanoseconds(1)).rounded()))
            )
        )
        endpointBox.set(endpoint)
        return endpoint
    }

    /// Stops listening and closes every open connection.
    func shutdown() async {
        try? await serverChannel.close()
        for channel in state.withLock({ $0.channels }) where channel.isActive {
            try? await channel.close()
        }
    }

    // MARK: What the test reads

    /// Every token request so far, in arrival order.
    var requests: [TokenRequest] { state.withLock { $0.requests } }

    /// How many access tokens were issued.
    var issuedCount: Int { state.withLock { $0.issuedAccessTokens.count } }

    /// The index (0-based) of the issued access token that `request` carried as `Authorization: Bearer …`, if it
    /// carried exactly one `Authorization` header and that is one of them.
    func accessTokenIndex(in request: TestOrigin.RecordedRequest) -> Int? {
        let values = request.values(of: "Authorization")
        guard values.count == 1, values[0].hasPrefix("Bearer ") else { return nil }
        let token = String(values[0].dropFirst("Bearer ".count))
        return state.withLock { $0.issuedAccessTokens.firstIndex(of: token) }
    }

    /// Changes how the endpoint answers from the next request on.
    func setBehavior(_ behavior: Behavior) {
        state.withLock { $0.behavior = behavior }
    }

    // MARK: Answering

    private var basicCredentials: String {
        Data((Self.formEncode(clientID) + ":" + Self.formEncode(clientSecret)).utf8).base64EncodedString()
    }

    private func refreshToken(_ index: Int) -> String {
        "\(refreshTokenPrefix)-\(index)"
    }

    fileprivate func accepted(_ channel: any Channel) {
        state.withLock { $0.channels.append(channel) }
    }

    /// Checks one complete request and returns the answer (status, JSON body) and the delay before sending it.
    fileprivate func answer(head: HTTPRequestHead, body: String) -> (status: Int, body: String, delay: TimeAmount) {
        let form = Self.parseForm(body)
        let authenticated = head.headers["Authorization"] == ["Basic " + basicCredentials]
        return state.withLock { state in
            let presented = form["refresh_token"]
            let refreshIndex = presented.flatMap { value -> Int? in
                guard value.hasPrefix(refreshTokenPrefix + "-") else { return nil }
                return Int(value.dropFirst(refreshTokenPrefix.count + 1))
            }
            var status = 200
            var json: [String: Any]
            switch state.behavior {
            case .reject(let rejectStatus, let error, let description):
                status = rejectStatus
                json = ["error": error]
                if let description { json["error_description"] = description }
            case .issue(let expiresIn, let rotate):
                if head.method != .POST || head.uri != Self.path {
                    status = 404
                    json = ["error": "not_found"]
                } else if !authenticated {
                    status = 401
                    json = ["error": "invalid_client"]
                } else if form["grant_type"] == "client_credentials" {
                    json = issue(expiresIn: expiresIn, state: &state)
                } else if form["grant_type"] == "refresh_token" {
                    if let refreshIndex, refreshIndex == state.currentRefreshToken {
                        json = issue(expiresIn: expiresIn, state: &state)
                        if rotate {
                            state.currentRefreshToken += 1
                            json["refresh_token"] = refreshToken(state.currentRefreshToken)
                        }
                    } else {
                        status = 400
                        json = ["error": "invalid_grant"]
                    }
                } else {
                    status = 400
                    json = ["error": "unsupported_grant_type"]
                }
            }
            state.requests.append(
                TokenRequest(
                    method: head.method.rawValue,
                    uri: head.uri,
                    contentType: head.headers["Content-Type"].first,
                    form: form,
                    clientAuthenticated: authenticated,
                    refreshTokenIndex: refreshIndex,
                    status: status,
                    received: .now
                )
            )
            let data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data("{}".utf8)
            return (status, String(decoding: data, as: UTF8.self), state.responseDelay)
        }
    }

    private func issue(expiresIn: Int, state: inout State) -> [String: Any] {
        let token = "\(accessTokenPrefix)-\(state.issuedAccessTokens.count + 1)"
        state.issuedAccessTokens.append(token)
        return ["access_token": token, "token_type": "Bearer", "expires_in": expiresIn]
    }

    // MARK: Form encoding

    /// `application/x-www-form-urlencoded` encoding (the strict set: only unreserved characters stay).
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// Decodes an `application/x-www-form-urlencoded` body (`+` is a space).
    static func parseForm(_ body: String) -> [String: String] {
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in
                text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
            }
            form[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return form
    }
}

extension OAuth2TokenEndpoint {
    /// Lets channel handlers, created before the endpoint object exists, reach it once it does.
    fileprivate final class EndpointBox: Sendable {
        private let endpoint = Mutex<OAuth2TokenEndpoint?>(nil)

        func set(_ value: OAuth2TokenEndpoint) {
            endpoint.withLock { $0 = value }
        }

        var value: OAuth2TokenEndpoint? { endpoint.withLock { $0 } }
    }

    /// Collects one request at a time and answers it through ``answer(head:body:)``.
    fileprivate final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let endpoint: EndpointBox
        private var head: HTTPRequestHead?
        private var body = ByteBuffer()

        init(endpoint: EndpointBox) {
            self.endpoint = endpoint
        }

        func channelActive(context: ChannelHandlerContext) {
            endpoint.value?.accepted(context.channel)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var buffer):
                // Token requests are small; anything much larger is not one.
                if body.readableBytes < 64 * 1024 {
                    body.writeBuffer(&buffer)
                }
            case .end:
                guard let head, let endpoint = endpoint.value else { return }
                self.head = nil
                let text = String(decoding: body.readableBytesView, as: UTF8.self)
                let answer = endpoint.answer(head: head, body: text)
                let keepAlive = head.isKeepAlive
                if answer.delay == .zero {
                    respond(context: context, answer: answer, keepAlive: keepAlive, version: head.version)
                } else {
                    context.eventLoop.assumeIsolated().scheduleTask(in: answer.delay) {
                        self.respond(context: context, answer: answer, keepAlive: keepAlive, version: head.version)
                    }
                }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private func respond(
            context: ChannelHandlerContext,
            answer: (status: Int, body: String, delay: TimeAmount),
            keepAlive: Bool,
            version: HTTPVersion
        ) {
            guard context.channel.isActive else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Cache-Control", value: "no-store")
            headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
            if !keepAlive {
                headers.add(name: "Connection", value: "close")
            }
            let status = HTTPResponseStatus(statusCode: answer.status)
            let head = HTTPResponseHead(version: version, status: status, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            let body = context.channel.allocator.buffer(string: answer.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        }
    }
}
