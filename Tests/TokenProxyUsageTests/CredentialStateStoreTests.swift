import Foundation
import Testing
import TokenProxyCore
import TokenProxyUsage

/// Revocations and first-seen times in the usage store's file, as a restarted proxy reads them.
@Suite("Credential state store")
struct CredentialStateStoreTests {
    @Test("revocations persist across connections; unrevoke one or all")
    func revocationsPersist() throws {
        let directory = try UsageStoreFixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/usage.db"
        let first = try CredentialStateStore(path: path)
        let time = UsageStoreFixture.epoch
        try first.revoke(["a", "b"], Revocation(reason: "incident", time: time))
        try first.revoke(["c"], Revocation(reason: nil, time: time))
        first.close()

        let second = try CredentialStateStore(path: path)
        defer { second.close() }
        #expect(try second.revocations() == [
            "a": Revocation(reason: "incident", time: time), "b": Revocation(reason: "incident", time: time),
            "c": Revocation(reason: nil, time: time),
        ])
        try second.unrevoke(["a"])
        #expect(try second.revocations().keys.sorted() == ["b", "c"])
        try second.unrevoke(nil)
        #expect(try second.revocations().isEmpty)
    }

    @Test("a value's first-seen time is kept; a new value starts its own")
    func firstSeen() throws {
        let directory = try UsageStoreFixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CredentialStateStore(path: directory + "/usage.db")
        defer { store.close() }
        let start = UsageStoreFixture.epoch
        #expect(try store.firstSeen(credential: "gh", fingerprint: "f1", now: start) == start)
        #expect(try store.firstSeen(credential: "gh", fingerprint: "f1", now: start.addingTimeInterval(60)) == start)
        let later = start.addingTimeInterval(120)
        #expect(try store.firstSeen(credential: "gh", fingerprint: "f2", now: later) == later)
    }

    @Test("the state tables live beside the usage tables, and the usage store still opens and writes")
    func sharesFileWithUsageStore() throws {
        let directory = try UsageStoreFixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/usage.db"
        let usage = try SQLiteUsageStore(path: path)
        try usage.write([UsageStoreFixture.event(0)])
        let state = try CredentialStateStore(path: path)
        try state.revoke(["github"], Revocation(reason: "x", time: UsageStoreFixture.epoch))
        try usage.write([UsageStoreFixture.event(1)])
        usage.close()
        state.close()
        let reader = try UsageStoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.report().first?.requests == 2)
    }
}
