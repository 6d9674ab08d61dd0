import Foundation
import Testing

/// Checks of the test harness itself, without the proxy: the minted certificates, the origins and the subprocess
/// runner behave as the end-to-end tests assume.
///
/// When these fail, the end-to-end failures next to them say nothing about the proxy.
@Suite("end-to-end harness", .serialized, .timeLimit(.minutes(1)))
struct HarnessTests {
    @Test("curl, on its own, trusts the valid origin and rejects each invalid one for the expected reason")
    func originCertificatesAreWhatTheTestsAssume() async throws {
        let directory = try TestDirectory(label: "harness-certs")
        defer { directory.remove() }
        let certificates = try TestCertificates(in: directory)
        let runner = Clients(proxyPort: 0, caBundle: certificates.authorityPath, directory: directory)

        let valid = try await TestOrigin.start(identity: certificates.origin(.valid))
        for host in ["localhost", "127.0.0.1"] {
            let run = try await runner.run(
                "curl",
                ["--silent", "--show-error", "--cacert", certificates.authorityPath, "https://\(host):\(valid.port)/"]
            )
            #expect(run.exitCode == 0, "curl to \(host): \(run.stderr)")
            #expect(run.stdout.hasPrefix(TestOrigin.greeting))
        }
        await valid.shutdown()

        let expectedErrors: [TestCertificates.Kind: String] = [
            .expired: "expired",
            .wrongHost: "subject name",
            .selfSigned: "self-signed",
        ]
        for (kind, error) in expectedErrors {
            let origin = try await TestOrigin.start(identity: certificates.origin(kind))
            let url = "https://localhost:\(origin.port)/"
            let run = try await runner.run(
                "curl",
                ["--silent", "--show-error", "--cacert", certificates.authorityPath, url]
            )
            #expect(run.exitCode == 60, "\(kind): \(run.stderr)")
            #expect(run.stderr.contains(error), "\(kind): \(run.stderr)")
            #expect(origin.requests.count == 0)
            await origin.shutdown()
        }
    }

    @Test("the origin counts a chunked body and keeps connections alive")
    func originCountsChunkedBodies() async throws {
        let directory = try TestDirectory(label: "harness-origin")
        defer { directory.remove() }
        let origin = try await TestOrigin.start(identity: nil)
        let size = 300_001
        let payload = try directory.write(Data(repeating: 0x61, count: size), to: "payload.bin")
        let runner = Clients(proxyPort: 0, caBundle: "/dev/null", directory: directory)
        let run = try await runner.run(
            "curl",
            [
                "--silent", "--show-error",
                "--header", "Transfer-Encoding: chunked",
                "--data-binary", "@\(payload)",
                "http://127.0.0.1:\(origin.port)/upload",
                "http://127.0.0.1:\(origin.port)/second",
            ]
        )
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(run.stdout.contains("received \(size) bytes"))
        let requests = origin.requests
        #expect(requests.map(\.bodyBytes).first == size)
        #expect(requests.count == 2)
        #expect(origin.acceptedConnections == 1)
        await origin.shutdown()
    }

    @Test("a client that hangs is killed at its timeout, and children get a clean environment")
    func childProcessesAreBoundedAndClean() async throws {
        let directory = try TestDirectory(label: "harness-child")
        defer { directory.remove() }
        let runner = Clients(proxyPort: 0, caBundle: "/dev/null", directory: directory, timeout: .seconds(1))
        let started = ContinuousClock.now
        let hung = try await runner.run("sleep", ["30"])
        #expect(hung.timedOut)
        // SIGTERM must work (the child's signal mask is clean), so no 2 s SIGKILL grace is spent.
        #expect(ContinuousClock.now - started < .seconds(2))

        let environment = try await runner.run("env", [])
        let names = Set(environment.stdout.split(separator: "\n").compactMap { $0.split(separator: "=").first })
        #expect(names == ["PATH", "HOME", "LANG"])
    }
}
