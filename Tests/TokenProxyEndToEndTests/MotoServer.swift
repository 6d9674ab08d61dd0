import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A local S3 (and IAM) that verifies SigV4 signatures: `moto_server` from PyPI `moto[server]`, over HTTPS on
/// 127.0.0.1, started in a process group of its own so that it and anything it spawns can be stopped together.
///
/// Moto accepts any signature until it has served `INITIAL_NO_AUTH_ACTION_COUNT` (3) requests, which
/// ``bootstrap()`` spends creating a user, its access key and an allow-all policy; from then on a request signed with
/// anything but that key is refused. Its files (logs, the bootstrap's output, the key files the proxy reads) live
/// in a directory of its own: they hold the real secret key on purpose, so they must stay out of the test
/// directory that is scanned for leaks.
final class MotoServer {
    /// The port moto listens on (127.0.0.1; reached as `localhost`, which its certificate names).
    let port: Int
    /// Moto's own directory: its output and the secret key files.
    let directory: TestDirectory

    private let child: ChildProcess
    private let testCA: String
    private var stopped = false

    private init(port: Int, directory: TestDirectory, child: ChildProcess, testCA: String) {
        self.port = port
        self.directory = directory
        self.child = child
        self.testCA = testCA
    }

    /// Starts moto with `identity` (a localhost certificate of the test CA at `testCA`), returning once its port
    /// accepts connections; retries on a fresh port if the one picked was taken meanwhile.
    static func start(identity: TestCertificates.Identity, testCA: String) async throws -> MotoServer {
        try AWSCLI.requireTools()
        let directory = try TestDirectory(label: "moto")
        var lastOutput = ""
        for attempt in 1...3 {
            // Bound once to find a free number, then released for moto: another process could take it in between.
            let port = try await TestOrigin.closedPort()
            let child = try launch(port: port, identity: identity, directory: directory, attempt: attempt)
            let deadline = ContinuousClock.now + .seconds(20)
            while child.isRunning, ContinuousClock.now < deadline {
                if await accepts(port: port) {
                    return MotoServer(port: port, directory: directory, child: child, testCA: testCA)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            await stopGroup(of: child)
            lastOutput = (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
            if !lastOutput.contains("Address already in use") {
                break
            }
        }
        directory.remove()
        throw MotoError.notListening(String(lastOutput.suffix(2000)))
    }

    private static func launch(
        port: Int,
        identity: TestCertificates.Identity,
        directory: TestDirectory,
        attempt: Int
    ) throws -> ChildProcess {
        guard let moto = ChildProcess.which("moto_server") else { throw AWSCLI.ToolError.missing(["moto_server"]) }
        var executable = moto
        var arguments = [
            "-H", "127.0.0.1", "-p", String(port), "-c", identity.certificatePath, "-k", identity.privateKeyPath,
        ]
        // setsid(1) execs moto in a new session (the spawned child is no group leader, so it does not fork): its
        // pid is its process group, and stopping the group stops whatever it started.
        if let setsid = ChildProcess.which("setsid") {
            arguments = [moto] + arguments
            executable = setsid
        }
        return try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: ChildProcess.cleanEnvironment(["INITIAL_NO_AUTH_ACTION_COUNT": "3"]),
            stdoutPath: directory.file("moto-\(attempt).stdout"),
            stderrPath: directory.file("moto-\(attempt).stderr")
        )
    }

    private static func accepts(port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(1))
                .connect(host: "127.0.0.1", port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    /// SIGTERM to the group, then SIGKILL to whatever is left after 3 s; reaps the child.
    private static func stopGroup(of child: ChildProcess) async {
        let group = child.pid
        if child.isRunning {
            kill(-group, SIGTERM)
            if await child.waitForExit(timeout: .seconds(3)) == nil {
                kill(-group, SIGKILL)
            }
        }
        await child.stop(grace: .seconds(1))
        // Anything the child left behind in its group.
        kill(-group, SIGKILL)
    }

    /// Stops moto and its process group and removes its directory.
    func shutdown() async {
        guard !stopped else { return }
        stopped = true
        await Self.stopGroup(of: child)
        directory.remove()
    }

    // MARK: Bootstrap

    /// Spends moto's three unauthenticated requests, straight to moto (not through the proxy): creates user `tp`,
    /// an access key for it and an allow-all policy. Returns the key; afterwards moto checks every signature.
    func bootstrap() async throws -> AWSCLI.Keys {
        let cli = try AWSCLI(
            runner: Clients(proxyPort: 0, caBundle: testCA, directory: directory),
            endpointPort: port,
            keys: AWSCLI.dummyKeys,
            caBundle: testCA,
            proxyPort: nil,
            configDirectory: directory
        )
        let user = try await cli.run(["iam", "create-user", "--user-name", "tp"])
        guard user.exitCode == 0 else { throw MotoError.bootstrap("iam create-user", user.stderr) }
        let key = try await cli.run(["iam", "create-access-key", "--user-name", "tp"])
        guard key.exitCode == 0 else { throw MotoError.bootstrap("iam create-access-key", key.stderr) }
        guard
            let object = try? JSONSerialization.jsonObject(with: Data(key.stdout.utf8)) as? [String: Any],
            let accessKey = object["AccessKey"] as? [String: Any],
            let accessKeyID = accessKey["AccessKeyId"] as? String,
            let secretAccessKey = accessKey["SecretAccessKey"] as? String,
            !accessKeyID.isEmpty, !secretAccessKey.isEmpty
        else {
            throw MotoError.bootstrap("iam create-access-key", "no AccessKeyId/SecretAccessKey in its output")
        }
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        let attach = try await cli.run([
            "iam", "put-user-policy", "--user-name", "tp", "--policy-name", "all", "--policy-document", policy,
        ])
        guard attach.exitCode == 0 else { throw MotoError.bootstrap("iam put-user-policy", attach.stderr) }
        return AWSCLI.Keys(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey)
    }

    /// Writes `value` (no trailing newline) to a new owner-only (0600) file in moto's directory, as a `file:`
    /// source must be; returns its path.
    func writeSecretFile(_ value: String, named name: String) throws -> String {
        let path = directory.file(name)
        guard
            FileManager.default.createFile(
                atPath: path,
                contents: Data(value.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw MotoError.cannotWrite(path) }
        return path
    }

    /// Why moto could not be used.
    enum MotoError: Error, CustomStringConvertible {
        case notListening(String)
        case bootstrap(String, String)
        case cannotWrite(String)

        var description: String {
            switch self {
            case .notListening(let output):
                "moto_server did not accept connections within 20 s; its stderr:\n\(output)"
            case .bootstrap(let step, let stderr):
                // Bootstrap errors come from calls signed with the dummy key; they hold no secret.
                "moto bootstrap step '\(step)' failed: \(stderr.suffix(1500))"
            case .cannotWrite(let path):
                "cannot create \(path)"
            }
        }
    }
}
