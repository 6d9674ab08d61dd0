import Synchronization
import Testing

@testable import TokenProxyServer

@Suite("MetricHandleCache")
struct MetricHandleCacheTests {
    final class Handle: Sendable {
        let name: String
        init(_ name: String) { self.name = name }
    }

    @Test("a key's handle is made once and then reused")
    func reuses() {
        let cache = MetricHandleCache<String, Handle>()
        let made = Mutex(0)
        func lookup(_ key: String) -> Handle {
            cache.handle(for: key) {
                made.withLock { $0 += 1 }
                return Handle(key)
            }
        }
        let first = lookup("api.example.com")
        #expect(lookup("api.example.com") === first)
        #expect(lookup("other.example.com") !== first)
        #expect(lookup("other.example.com").name == "other.example.com")
        #expect(made.withLock { $0 } == 2)
    }

    @Test("beyond its capacity it makes handles without keeping them")
    func bounded() {
        let cache = MetricHandleCache<Int, Handle>(capacity: 2)
        let kept = cache.handle(for: 1) { Handle("1") }
        _ = cache.handle(for: 2) { Handle("2") }
        let unkept = cache.handle(for: 3) { Handle("3") }
        #expect(cache.handle(for: 1) { Handle("new 1") } === kept)
        #expect(cache.handle(for: 3) { Handle("new 3") } !== unkept)
        #expect(cache.handle(for: 3) { Handle("new 3") }.name == "new 3")
    }
}
