import Foundation

/// The AWS CLI (`aws`, PyPI `awscli`), run against one endpoint with an environment of its own: fixed keys, a CA
/// bundle, optionally the proxy, and no configuration from the machine it runs on.
struct AWSCLI: Sendable {
    /// An access key pair.
    ///
    /// Described without the secret, so that printing a value of this type cannot leak it.
    struct Keys: Sendable, CustomStringConvertible {
        let accessKeyID: String
        let secretAccessKey: String

        var description: String { "Keys(\(accessKeyID), <secret>)" }
    }

    /// The keys clients of the proxy hold: well-formed, and known to no server.
    static let dummyKeys = Keys(accessKeyID: "AKIADUMMYDUMMYDUMMY", secretAccessKey: "dummy")

    /// What runs the CLI and where its output goes.
    let runner: Clients
    /// The `--endpoint-url` of every call.
    let endpointURL: String
    /// The CLI's complete environment (on top of ``ChildProcess/cleanEnvironment(_:)``).
    let environment: [String: String]

    /// - Parameters:
    ///   - runner: runs `aws` and keeps its output (in its directory, which is where the output is scanned).
    ///   - endpointPort: the S3/IAM endpoint on `https://localhost:<port>`.
    ///   - keys: the keys the CLI signs with.
    ///   - caBundle: `AWS_CA_BUNDLE`.
    ///   - proxyPort: when set, `HTTPS_PROXY=http://127.0.0.1:<port>`; `NO_PROXY` is never set.
    ///   - configDirectory: where the CLI's own config file is written.
    init(
        runner: Clients,
        endpointPort: Int,
        keys: Keys,
        caBundle: String,
        proxyPort: Int?,
        configDirectory: TestDirectory
    ) throws {
        self.runner = runner
        endpointURL = "https://localhost:\(endpointPort)"
        // Path-style addressing: the bucket stays in the path, so every request goes to `localhost`, the host the
        // proxy's rule names (virtual-hosted style would CONNECT to b1.localhost instead).
        let config = try configDirectory.write(
            "[default]\nregion = us-east-1\noutput = json\ns3 =\n    addressing_style = path\n",
            to: "aws-config"
        )
        var environment = [
            "AWS_ACCESS_KEY_ID": keys.accessKeyID,
            "AWS_SECRET_ACCESS_KEY": keys.secretAccessKey,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CA_BUNDLE": caBundle,
            "AWS_CONFIG_FILE": config,
            // No credentials file and no instance metadata: the keys above are the only ones.
            "AWS_SHARED_CREDENTIALS_FILE": configDirectory.file("aws-credentials-absent"),
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
        if let proxyPort {
            environment["HTTPS_PROXY"] = "http://127.0.0.1:\(proxyPort)"
        }
        self.environment = environment
    }

    /// Runs `aws <arguments> --endpoint-url <endpoint>`.
    func run(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> Clients.Run {
        try await runner.run(
            "aws",
            arguments + ["--endpoint-url", endpointURL],
            environment: environment,
            timeout: timeout
        )
    }

    /// Fails (throws) with instructions when `aws` or `moto_server` is not on `PATH`: these tests must not be
    /// skipped silently on a machine that lacks them.
    static func requireTools() throws {
        let missing = ["aws", "moto_server"].filter { ChildProcess.which($0) == nil }
        if !missing.isEmpty {
            throw ToolError.missing(missing)
        }
    }

    /// Why the AWS tests cannot run.
    enum ToolError: Error, CustomStringConvertible {
        case missing([String])

        var description: String {
            switch self {
            case .missing(let tools):
                "\(tools.joined(separator: " and ")) not found on PATH: the AWS end-to-end tests need the AWS CLI and "
                    + "moto_server; Scripts/test installs them (python3 -m pip install awscli 'moto[server]')"
            }
        }
    }
}
