import Foundation
import Synchronization
import Testing

@testable import TokenProxyCore

@Suite("Background thread priority")
struct ThreadPriorityTests {
    /// The nice value of the calling thread, from /proc (field 19 of its stat line).
    private static func currentThreadNiceness() throws -> Int {
        let stat = try String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8)
        let fields = try #require(stat.split(separator: ")").last).split(separator: " ")
        return try #require(Int(fields[16]))  // the 19th field, counted after "pid (comm)"
    }

    @Test("lowering a thread's priority affects that thread only")
    func lowersOnlyTheCallingThread() throws {
        let before = try Self.currentThreadNiceness()
        let seen = Mutex<(took: Bool, niceness: Int?)>((false, nil))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let took = ThreadPriority.makeCurrentThreadBackground()
            seen.withLock { $0 = (took, try? Self.currentThreadNiceness()) }
            done.signal()
        }
        thread.start()
        done.wait()
        let (took, niceness) = seen.withLock { $0 }
        #expect(took)
        #expect(niceness == Int(ThreadPriority.backgroundNiceness))
        #expect(try Self.currentThreadNiceness() == before)
    }
}
