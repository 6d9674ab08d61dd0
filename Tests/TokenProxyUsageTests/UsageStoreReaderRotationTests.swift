import Foundation
import Testing
import TokenProxyCore

@testable import TokenProxyUsage

/// The usage store's count of requests sent with a credential's previous value (`previous:`).
@Suite("Usage store: previous-value uses")
struct UsageStoreReaderRotationTests {
    @Test("requests recorded with the previous-value reason are counted per credential, in a window too")
    func previousValueUses() throws {
        let directory = try UsageStoreFixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/usage.db"
        let store = try SQLiteUsageStore(path: path)
        let reason = UsageEvent.previousValueReason(credential: "github")
        try store.write([
            UsageStoreFixture.event(0, reason: reason),
            UsageStoreFixture.event(10),
            UsageStoreFixture.event(20, reason: reason),
            UsageStoreFixture.event(30, credential: "stripe"),
            UsageStoreFixture.event(40, credential: nil, reason: reason),
        ])
        store.close()
        let reader = try UsageStoreReader(path: path)
        defer { reader.close() }
        let all = try reader.previousValueUses()
        #expect(all.keys.sorted() == ["github"])
        #expect(all["github"] == .init(requests: 2, lastUsed: UsageStoreFixture.epoch.addingTimeInterval(20)))
        let recent = try reader.previousValueUses(since: UsageStoreFixture.epoch.addingTimeInterval(5))
        #expect(recent["github"]?.requests == 1)
    }
}
