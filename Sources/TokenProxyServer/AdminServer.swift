import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import TokenProxyCore

/// The admin endpoint as a `Service`: health, readiness, Prometheus metrics and a JSON status, on its own
/// (loopback) listener, separate from the proxy port.
public struct AdminServer: Service {
    private let listen: HostPort
    private let runtime: ProxyRuntime
    private let registry: PrometheusCollectorRegistry
    private let summary: AdminStatus.Summary
    private let onListening: @Sendable (SocketAddress) -> Void
    private let lifecycle: LifecycleController?

    /// Creates an admin server. `registry` is the Prometheus registry metrics were bootstrapped with; `lifecycle`
    /// serves the operator actions (`POST /reload`, `/revoke`, `/unrevoke`).
    public init(
        listen: HostPort, runtime: ProxyRuntime, registry: PrometheusCollectorRegistry, summary: AdminStatus.Summary,
        lifecycle: LifecycleController? = nil, onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.lifecycle = lifecycle
        self.listen = listen
        self.runtime = runtime
        self.registry = registry
        self.summary = summary
        self.onListening = onListening
    }

    public func run() async throws {
        let runtime = self.runtime
        let registry = self.registry
        let summary = self.summary
        let lifecycle = self.lifecycle
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        AdminHandler(runtime: runtime, registry: registry, summary: summary, lifecycle: lifecycle)
                    )
                }
            }
            .bind(host: listen.host, port: listen.port)
            .get()
        if let address = channel.localAddress {
            if let port = address.port { runtime.ownListeners.add(port) }
            onListening(address)
        }
        try await channel.runUntilShutdown()
    }
}

/// Answers admin requests. Only `GET` on a loopback `Host` without an `Origin` is served: a browser page that
/// reaches the port through DNS rebinding carries a foreign `Host`, and any page carries an `Origin`.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let runtime: ProxyRuntime
    private let registry: PrometheusCollectorRegistry
    private let summary: AdminStatus.Summary
    private let lifecycle: LifecycleController?
    private var head: HTTPRequestHead?

    init(
        runtime: ProxyRuntime, registry: PrometheusCollectorRegistry, summary: AdminStatus.Summary,
        lifecycle: LifecycleController? = nil
    ) {
        self.lifecycle = lifecycle
        self.runtime = runtime
        self.registry = registry
        self.summary = summary
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            if head.method == .POST {
                AdminLifecycleRoutes.respond(to: head, controller: lifecycle, on: context.eventLoop)
                    .assumeIsolated()
                    .whenSuccess { self.send($0, for: head, context: context) }
                return
            }
            send(respond(to: head), for: head, context: context)
        }
    }

    private func send(
        _ response: AdminLifecycleRoutes.Response, for head: HTTPRequestHead, context: ChannelHandlerContext
    ) {
        let (status, contentType, body) = response
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "cache-control", value: "no-store")
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    private func respond(to head: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        let text = "text/plain; charset=utf-8"
        guard head.method == .GET else { return (.methodNotAllowed, text, Array("GET or POST only\n".utf8)) }
        if let refusal = AdminLifecycleRoutes.callerRefusal(head) { return refusal }
        switch head.uri.split(separator: "?").first.map(String.init) ?? head.uri {
        case "/healthz":
            return (.ok, text, Array("ok\n".utf8))
        case "/readyz":
            if let refusal = runtime.recordingRefusal { return (.serviceUnavailable, text, Array((refusal + "\n").utf8)) }
            return (.ok, text, Array("ready\n".utf8))
        case "/metrics":
            ProxyMetrics.refresh(runtime: runtime)
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToBuffer())
        case "/status":
            return (.ok, "application/json", AdminStatus.render(runtime: runtime, summary: summary))
        default:
            return (.notFound, text, Array("not found: try /healthz, /readyz, /metrics or /status\n".utf8))
        }
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}

/// The `/status` document: what is configured and how the proxy is doing, with names and kinds but no values.
public enum AdminStatus {
    /// The static part, fixed at start.
    public struct Summary: Sendable {
        public var version: String
        public var listen: String
        public var credentials: [(name: String, kind: String, source: String, loadedAt: Date)]
        public var notices: [String]
        /// The credentials in force after reloads, and token ages; `nil` without a lifecycle controller.
        public var lifecycle: LifecycleBoard?

        public init(
            version: String, listen: String, credentials: [(name: String, kind: String, source: String, loadedAt: Date)],
            notices: [String]
        ) {
            self.version = version
            self.listen = listen
            self.credentials = credentials
            self.notices = notices
        }
    }

    static func render(runtime: ProxyRuntime, summary: Summary) -> [UInt8] {
        let now = Date()
        let store = runtime.credentials.snapshot
        var document: [String: Any] = [
            "version": summary.version,
            "listen": summary.listen,
            "uptime_seconds": Int(now.timeIntervalSince(runtime.started)),
            "notices": summary.notices,
        ]
        document["rules"] = store.rules.rules.map { rule -> [String: Any] in
            var entry: [String: Any] = [
                "index": rule.index, "host": rule.host.description, "credential": rule.credential,
                "inject": rule.injection.summary, "require": rule.require,
            ]
            if let port = rule.port { entry["port"] = port }
            if let path = rule.path { entry["path"] = path.description }
            return entry
        }
        document["credentials"] = summary.credentials.map { credential -> [String: Any] in
            [
                "name": credential.name, "type": credential.kind, "source": credential.source,
                "loaded": store.value(named: credential.name) != nil,
                "age_seconds": Int(now.timeIntervalSince(credential.loadedAt)),
            ]
        }
        if let lifecycle = summary.lifecycle {
            document["credentials"] = lifecycleCredentials(
                lifecycle.current, store: store, previousUses: runtime.credentials.previousValueUses,
                started: runtime.started, now: now
            )
        }
        let cache = runtime.interceptionContexts.statistics
        document["leaf_cache"] = ["hits": cache.hits, "misses": cache.misses, "entries": cache.entries]
        if let recorder = runtime.recorder {
            var recording: [String: Any] = [
                "healthy": recorder.currentFailure == nil, "queue_depth": recorder.queueDepth,
                "written": recorder.writtenEvents, "dropped": recorder.droppedCount, "failed": recorder.failedCount,
                "on_failure": runtime.auditOnFailure.rawValue,
            ]
            if let failure = recorder.currentFailure { recording["failure"] = failure }
            document["recorder"] = recording
        }
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
    }
}
