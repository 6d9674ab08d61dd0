import Crypto
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TokenProxyCA
import TokenProxyCore

/// TLS server contexts for intercepted hosts, one per host, minted off the event loops and cached.
///
/// Minting a leaf (a key generation and a signature) and building an `NIOSSLContext` are expensive, so each is
/// done once per host on the thread pool; concurrent CONNECTs to the same host share one in-flight build. The
/// cache is bounded (least recently used first out) and entries are renewed well before their leaf expires.
public final class InterceptionContextCache: Sendable {
    private struct Entry {
        var context: EventLoopFuture<NIOSSLContext>
        var expires: NIODeadline
        var lastUsed: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    private let issuer: LeafIssuer
    private let threadPool: NIOThreadPool
    private let capacity: Int
    /// Entries are rebuilt after this long; leaves are valid far longer, so a cached leaf never expires in use.
    private let entryLifetime: TimeAmount
    private let state = Mutex(State())

    /// Creates a cache that mints with `issuer` on `threadPool`.
    public init(issuer: LeafIssuer, threadPool: NIOThreadPool, capacity: Int, entryLifetime: TimeAmount = .hours(24)) {
        self.issuer = issuer
        self.threadPool = threadPool
        self.capacity = max(1, capacity)
        self.entryLifetime = entryLifetime
    }

    /// The server context for `host`, completed on `eventLoop`.
    public func context(for host: String, on eventLoop: EventLoop) -> EventLoopFuture<NIOSSLContext> {
        let key = HostPattern.normalize(host)
        let now = NIODeadline.now()
        let (future, build) = state.withLock { state -> (EventLoopFuture<NIOSSLContext>, EventLoopPromise<NIOSSLContext>?) in
            state.clock += 1
            if var entry = state.entries[key], entry.expires > now {
                entry.lastUsed = state.clock
                state.entries[key] = entry
                state.hits += 1
                return (entry.context, nil)
            }
            state.misses += 1
            let promise = eventLoop.makePromise(of: NIOSSLContext.self)
            state.entries[key] = Entry(context: promise.futureResult, expires: now + entryLifetime, lastUsed: state.clock)
            Self.evictIfNeeded(&state, capacity: capacity)
            return (promise.futureResult, promise)
        }
        if let build {
            let issuer = self.issuer
            let minted = threadPool.runIfActive(eventLoop: eventLoop) {
                try Self.makeContext(issuer: issuer, host: key)
            }
            minted.cascade(to: build)
            // A failed build must not stay cached: the next CONNECT tries again.
            minted.whenFailure { [weak self] _ in
                self?.state.withLock { state in
                    if let entry = state.entries[key], entry.context === build.futureResult {
                        state.entries[key] = nil
                    }
                }
            }
        }
        return future.hop(to: eventLoop)
    }

    /// Cache hits and misses so far, for status and benchmarks.
    public var statistics: (hits: Int, misses: Int, entries: Int) {
        state.withLock { ($0.hits, $0.misses, $0.entries.count) }
    }

    private static func evictIfNeeded(_ state: inout State, capacity: Int) {
        while state.entries.count > capacity {
            guard let oldest = state.entries.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key else { return }
            state.entries[oldest] = nil
        }
    }

    private static func makeContext(issuer: LeafIssuer, host: String) throws -> NIOSSLContext {
        let leaf = try issuer.issue(for: host)
        let chain = try [leaf.certificate, leaf.issuer].map { certificate in
            try NIOSSLCertificate(bytes: Array(certificate.derBytes()), format: .der)
        }
        let key = try NIOSSLPrivateKey(bytes: Array(leaf.privateKey.derRepresentation), format: .der)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = InterceptedProtocols.offered
        return try NIOSSLContext(configuration: configuration)
    }
}
