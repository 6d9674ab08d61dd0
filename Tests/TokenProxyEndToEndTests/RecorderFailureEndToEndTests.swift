import Foundation
import Testing

/// What the proxy does when its audit log's filesystem is full: `fail_closed` refuses new requests with 503 until
/// records can be written again; `warn` keeps serving. The log lives on a tmpfs of a few dozen KiB that the test
/// mounts itself (root is needed, as in CI).
@Suite("audit log on a full disk", .serialized, .timeLimit(.minutes(1)))
struct RecorderFailureEndToEndTests {
    /// A tiny tmpfs, unmounted at the end.
    struct TinyFilesystem {
        let path: String

        init(kilobytes: Int) throws {
            path = NSTemporaryDirectory() + "tp-full-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let status = Self.run(["/bin/mount", "-t", "tmpfs", "-o", "size=\(kilobytes)k,mode=0700", "tmpfs", path])
            guard status == 0 else {
                try? FileManager.default.removeItem(atPath: path)
                throw TinyFilesystemError(
                    description: "cannot mount a tmpfs at \(path) (status \(status)); these tests need root, as CI has"
                )
            }
        }

        /// Fills the filesystem with a file of zeros, leaving about `leave` bytes free.
        func fill(leaving leave: Int) throws {
            var info = statvfs()
            guard statvfs(path, &info) == 0 else { throw TinyFilesystemError(description: "statvfs failed") }
            let free = Int(info.f_bavail) * Int(info.f_frsize)
            let size = max(0, free - leave)
            FileManager.default.createFile(atPath: path + "/filler", contents: Data(count: size))
        }

        func drain() {
            try? FileManager.default.removeItem(atPath: path + "/filler")
        }

        func unmount() {
            _ = Self.run(["/bin/umount", path])
            try? FileManager.default.removeItem(atPath: path)
        }

        private static func run(_ arguments: [String]) -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                return -1
            }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    struct TinyFilesystemError: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends requests until `predicate` holds for a status, at most `attempts` times, pausing between them.
    private func requestUntil(
        _ fixture: ProxyFixture, port: Int, attempts: Int, pause: Duration = .milliseconds(100),
        _ predicate: (Int) -> Bool
    ) async throws -> (status: Int, body: String)? {
        for _ in 0..<attempts {
            let result = try await fixture.clients.curl("https://localhost:\(port)/v1/full")
            // A refusal can come on the CONNECT (curl then reports it as the CONNECT's status) or on the request.
            let status = result.transfers.first?.httpConnect == 503 ? 503 : result.httpCode
            if predicate(status) { return (status, result.body) }
            try await Task.sleep(for: pause)
        }
        return nil
    }

    @Test("fail_closed: 503 while the audit log cannot be written, and service again once space returns")
    func failClosed() async throws {
        let disk = try TinyFilesystem(kilobytes: 64)
        defer { disk.unmount() }
        var configuration = ProxyConfiguration()
        configuration.auditLogPath = disk.path + "/audit.jsonl"
        configuration.auditSettings = "on_failure: fail_closed, fsync: always"
        try await ProxyFixture.run("disk-full-closed", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let before = try await fixture.clients.curl("https://localhost:\(origin.port)/v1/ok")
            #expect(before.httpCode == 200)

            try disk.fill(leaving: 0)
            // The first requests after the disk fills are accepted (their records wait in the backlog); once a
            // write has failed, new requests are refused.
            let refused = try await requestUntil(fixture, port: origin.port, attempts: 100) { $0 == 503 }
            _ = try #require(refused, "no 503 while the audit log's disk was full")
            let stderr = await fixture.proxy.stderr(containing: "usage records cannot be written")
            #expect(stderr.contains("usage records cannot be written"), "the refusals do not say why")
            let originCountWhileFull = origin.requests.count

            disk.drain()
            // The recorder retries every second; service resumes once the backlog is written.
            let recovered = try await requestUntil(fixture, port: origin.port, attempts: 60, pause: .milliseconds(200)) {
                $0 == 200
            }
            #expect(recovered != nil, "requests were still refused after space returned")
            #expect(origin.requests.count > originCountWhileFull)
            // Nothing accepted was lost: every request the origin saw has a record.
            let expected = origin.requests.count
            let records = await AuditRecord.wait(for: disk.path + "/audit.jsonl") { records in
                records.filter { $0.path == "/v1/full" || $0.path == "/v1/ok" }.count >= expected
            }
            #expect(records.filter { $0.path == "/v1/full" || $0.path == "/v1/ok" }.count >= origin.requests.count)
        }
    }

    @Test("warn: the proxy keeps serving while the audit log cannot be written, and says so on stderr")
    func warn() async throws {
        let disk = try TinyFilesystem(kilobytes: 64)
        defer { disk.unmount() }
        var configuration = ProxyConfiguration()
        configuration.auditLogPath = disk.path + "/audit.jsonl"
        configuration.auditSettings = "on_failure: warn, fsync: always"
        try await ProxyFixture.run("disk-full-warn", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            try disk.fill(leaving: 0)
            var statuses: [Int] = []
            for _ in 0..<20 {
                statuses.append(try await fixture.clients.curl("https://localhost:\(origin.port)/v1/warn").httpCode)
            }
            #expect(statuses.allSatisfy { $0 == 200 }, "statuses while full: \(statuses)")
            try await Task.sleep(for: .milliseconds(300))
            let stderr = await fixture.proxy.stderr(containing: "could not store")
            #expect(stderr.contains("could not store"), "no error about the full audit log on stderr")
        }
    }
}
