import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The hash-chained audit log of the real binary: crash safety under load, and `tokenproxy audit verify` on real logs.
@Suite("audit chain end to end", .serialized, .timeLimit(.minutes(2)))
struct AuditChainEndToEndTests {
    /// Python `requests` in a loop at a steady rate through whichever proxy port the port file names, counting the
    /// 200 responses it got; reconnects (to the new port) after every failure.
    private static let loadScript = """
        import os, sys, time, requests

        port_file, url, ca, stop_file, rate = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
        ok = errors = 0
        session = port = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not os.path.exists(stop_file):
            started = time.monotonic()
            try:
                with open(port_file) as f:
                    current = f.read().strip()
                if session is None or current != port:
                    if session is not None:
                        session.close()
                    session = requests.Session()
                    session.trust_env = False
                    session.proxies = {"https": "http://127.0.0.1:" + current}
                    session.verify = ca
                    port = current
                response = session.get(url, timeout=5)
                if response.status_code == 200:
                    ok += 1
                else:
                    errors += 1
            except Exception:
                errors += 1
                if session is not None:
                    session.close()
                session = None
            time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
        print("@@ok=%d errors=%d@@" % (ok, errors))
        """

    @Test("kill -9 ten times under load: the chain survives every crash and little is lost")
    func killNineUnderLoad() async throws {
        try await ProxyFixture.run("audit-kill9") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let portFile = fixture.directory.file("proxy-port")
            let stopFile = fixture.directory.file("load-stop")
            try Self.writePort(fixture.proxy.port, to: portFile, in: fixture.directory)
            let rate = 20.0
            let caBundle = fixture.clients.caBundle
            let clients = fixture.clients
            let load = Task {
                try await clients.run(
                    "python3",
                    ["-c", Self.loadScript, portFile, "https://localhost:\(origin.port)/audit-load", caBundle, stopFile,
                        String(rate)],
                    timeout: .seconds(100)
                )
            }

            var current = fixture.proxy
            var restarts: [ProxyProcess] = []
            let kills = 10
            for round in 1...kills {
                // Vary where in the stream of writes the kill lands.
                try await Task.sleep(for: .milliseconds(Int.random(in: 700...1_500)))
                kill(current.pid, SIGKILL)
                let deadline = ContinuousClock.now + .seconds(10)
                while current.isRunning && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                try #require(!current.isRunning, "the proxy survived SIGKILL")
                if round == kills / 2 {
                    // A kill rarely lands inside a write of a few hundred bytes; make sure one restart meets the
                    // incomplete last line such a kill leaves, which the writer must cut off before appending.
                    let handle = try #require(FileHandle(forWritingAtPath: fixture.proxy.auditLogPath))
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data("{\"bytes_in\":0,\"bytes_out\":1".utf8))
                    try handle.close()
                }
                current = try await fixture.restartProxy(label: "proxy-restart-\(round)")
                restarts.append(current)
                try Self.writePort(current.port, to: portFile, in: fixture.directory)
            }
            try await Task.sleep(for: .seconds(1))
            FileManager.default.createFile(atPath: stopFile, contents: nil)
            let run = try await load.value
            // A graceful stop of the last proxy flushes what it holds; the log must then be clean.
            let graceful = await current.stop()
            #expect(graceful == true, "the last proxy did not stop on SIGTERM")
            for proxy in restarts { await proxy.stop() }

            let counts = try #require(
                run.stdout.firstMatch(of: #/@@ok=([0-9]+) errors=([0-9]+)@@/#),
                "the load script reported nothing: \(run)"
            )
            let ok = Int(counts.1) ?? 0
            let errors = Int(counts.2) ?? 0
            #expect(ok >= 100, "the load got only \(ok) responses (\(errors) errors): the test measured too little")

            let files = try Self.auditFiles(of: fixture.proxy.auditLogPath)
            var recorded = 0
            for file in files {
                let data = try Data(contentsOf: URL(fileURLWithPath: file))
                #expect(data.isEmpty || data.last == UInt8(ascii: "\n"), "\(file) ends in an incomplete line")
                let (records, malformed) = AuditRecord.read(from: file)
                #expect(malformed.isEmpty, "\(file) has lines that are not JSON: \(malformed)")
                recorded += records.filter { $0.path == "/audit-load" && $0.status == 200 }.count
            }
            // A kill loses what the recorder had not yet written; allow one second of traffic per kill.
            let allowance = kills * Int(rate)
            #expect(
                recorded >= ok - allowance,
                "\(recorded) records of \(ok) responses: more lost than \(allowance) (1 s of traffic per kill)"
            )
            #expect(recorded <= ok + errors, "\(recorded) records for \(ok + errors) requests")

            let verify = try await fixture.runTokenproxy(["audit", "verify", "--config", fixture.proxy.configPath])
            fixture.checkEqual(verify.exitCode, 0, "audit verify exit status (\(verify.stdout) \(verify.stderr))")
            fixture.check(
                verify.stdout.hasPrefix("intact: "), "audit verify printed: \(verify.stdout) \(verify.stderr)"
            )
        }
    }

    /// One way to tamper with a log, and what `audit verify` must then report.
    struct Tampering: Sendable, CustomTestStringConvertible {
        let name: String
        /// The seq (= line, in a log with one file) the report must name.
        let seq: Int
        /// What it must call the break.
        let kind: String
        /// Turns the log's lines into the tampered file's text.
        let apply: @Sendable ([String]) -> String

        var testDescription: String { name }

        static let all: [Tampering] = [
            Tampering(name: "edited", seq: 4, kind: "edited") { lines in
                var lines = lines
                lines[3] = lines[3].replacingOccurrences(of: "\"client\":\"127.0.0.1:", with: "\"client\":\"127.0.0.2:")
                return lines.map { $0 + "\n" }.joined()
            },
            Tampering(name: "deleted", seq: 5, kind: "deleted/missing") { lines in
                var lines = lines
                lines.remove(at: 4)
                return lines.map { $0 + "\n" }.joined()
            },
            Tampering(name: "swapped", seq: 3, kind: "reordered") { lines in
                var lines = lines
                lines.swapAt(2, 3)
                return lines.map { $0 + "\n" }.joined()
            },
            Tampering(name: "truncated", seq: 7, kind: "truncated") { lines in
                lines[..<6].map { $0 + "\n" }.joined() + String(lines[6].prefix(lines[6].count / 2))
            },
        ]
    }

    @Test("audit verify names the first broken seq of a real log that was tampered with")
    func verifyTamperedCopies() async throws {
        try await ProxyFixture.run("audit-tamper") { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let urls = (1...8).map { "https://localhost:\(origin.port)/tamper/\($0)" }
            let curl = try await fixture.clients.curl(urls)
            #expect(curl.transfers.map(\.httpCode) == Array(repeating: 200, count: 8), "\(curl)")
            let records = await fixture.auditRecords { $0.count >= 8 }
            try #require(records.count >= 8, "the proxy wrote \(records.count) audit records for 8 requests")

            let live = try await fixture.runTokenproxy(["audit", "verify", "--config", fixture.proxy.configPath])
            fixture.checkEqual(live.exitCode, 0, "audit verify of the live log (\(live.stdout) \(live.stderr))")
            fixture.check(
                live.stdout.hasPrefix("intact: \(records.count) records, last seq \(records.count), last hash "),
                "audit verify printed: \(live.stdout)"
            )

            let text = try String(contentsOfFile: fixture.proxy.auditLogPath, encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            let copy = try fixture.directory.write(text, to: "audit-copy.jsonl")
            let untouched = try await fixture.runTokenproxy(["audit", "verify", copy])
            fixture.checkEqual(untouched.exitCode, 0, "audit verify of an untouched copy (\(untouched.stdout))")

            for tampering in Tampering.all {
                let path = try fixture.directory.write(tampering.apply(lines), to: "audit-\(tampering.name).jsonl")
                let run = try await fixture.runTokenproxy(["audit", "verify", path])
                fixture.checkEqual(run.exitCode, 1, "audit verify of the \(tampering.name) copy (\(run.stdout))")
                let expected = "broken at seq \(tampering.seq) (\(path):\(tampering.seq)): \(tampering.kind)"
                fixture.check(
                    run.stdout.hasPrefix(expected),
                    "\(tampering.name): expected '\(expected)…', audit verify printed: \(run.stdout) \(run.stderr)"
                )
            }
        }
    }

    /// Writes `port` to `path` atomically, so the load script never reads a half-written number.
    private static func writePort(_ port: Int, to path: String, in directory: TestDirectory) throws {
        let temporary = try directory.write("\(port)\n", to: "proxy-port.new")
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// The log's rotated files (`<log>.<timestamp>-<seq>`) in name order, then the log itself.
    private static func auditFiles(of path: String) throws -> [String] {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let rotated = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix(name + ".") && $0.contains("Z-") }
            .sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
        return rotated + (FileManager.default.fileExists(atPath: path) ? [path] : [])
    }
}
