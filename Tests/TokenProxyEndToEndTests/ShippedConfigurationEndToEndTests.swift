import Foundation
import Testing

/// `tokenproxy check --config` accepts every shipped file in `Config/`, given the sources each one names: every
/// `env:NAME` set and every relative `file:PATH` written (0600) in the working directory, with random values.
@Suite("shipped configurations", .serialized, .timeLimit(.minutes(2)))
struct ShippedConfigurationEndToEndTests {
    /// `Config/` of this package.
    static let configDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config").path

    static var shippedFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: configDirectory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test("Config/ ships the workstation, sidecar and gateway configurations")
    func filesPresent() {
        #expect(Set(Self.shippedFiles).isSuperset(of: ["tokenproxy.yaml", "sidecar.yaml", "gateway.yaml"]))
    }

    @Test("tokenproxy check accepts every file in Config/", arguments: shippedFiles)
    func checkAccepts(file: String) async throws {
        let path = Self.configDirectory + "/" + file
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let directory = try TestDirectory(label: "shipped-\(file)")
        defer { directory.remove() }
        var environment: [String: String] = [:]
        var values: [String] = []
        for match in text.matches(of: #/env:([A-Z][A-Z0-9_]*)/#) {
            let value = "tpshipped-" + UUID().uuidString.lowercased()
            environment[String(match.1)] = value
            values.append(value)
        }
        for match in text.matches(of: #/file:([A-Za-z0-9_.\-/]+)/#) where !match.1.hasPrefix("/") {
            let value = "tpshipped-" + UUID().uuidString.lowercased()
            let written = try directory.write(value + "\n", to: String(match.1))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: written)
            values.append(value)
        }
        _ = try directory.subdirectory("clients")
        // Relative paths in the file are relative to where tokenproxy runs: the test directory.
        let child = try ChildProcess(
            executable: "/bin/sh",
            arguments: ["-c", #"cd "$1" && shift && exec "$@""#, "sh", directory.path, try ProxyProcess.binaryPath(),
                "check", "--config", path],
            environment: ChildProcess.cleanEnvironment(environment),
            stdoutPath: directory.file("clients/check.stdout"),
            stderrPath: directory.file("clients/check.stderr")
        )
        let status = await child.waitForExit(timeout: .seconds(30))
        if status == nil { await child.stop(grace: .seconds(2)) }
        let stdout = (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        #expect(status == 0, "check \(file) failed: \(stderr.suffix(1500))")
        #expect(stdout.contains("configuration: \(path)"), "check output: \(stdout.prefix(1000))")
        for value in values {
            #expect(!stdout.contains(value) && !stderr.contains(value), "check printed a secret value of \(file)")
        }
    }
}
