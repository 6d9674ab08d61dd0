import Foundation
import Testing

/// End-to-end tests of `type: aws` credentials with `aws_sigv4` rules: the real AWS CLI, holding only dummy keys,
/// talks S3 through the proxy to moto (``MotoServer``), which verifies every signature against the one real key it
/// issued; the proxy holds that key and re-signs each request.
///
/// The real secret key is watched by the fixture: it must appear in no client output, no proxy output and no
/// audit record. `aws` and `moto_server` come from PyPI (`awscli`, `moto[server]`); when they are missing these
/// tests fail, saying so, rather than skip.
@Suite("tokenproxy AWS SigV4 credentials end to end", .serialized, .timeLimit(.minutes(1)))
struct AWSEndToEndTests {
    /// The credential's name in the configuration.
    static let credential = "aws"

    /// Makes `aws s3 ls s3://bucket` list without `delimiter=/`. Moto 5 rejects any signed request with a `/` in a
    /// query value (`delimiter=/`, `prefix=a/b`) as SignatureDoesNotMatch, even when the AWS CLI signs it itself
    /// and goes straight to moto (checked by hand), so a plain `aws s3 ls s3://bucket` cannot pass there with or
    /// without the proxy; `--recursive` sends `prefix=` alone.
    static let listWithoutDelimiter = ["--recursive"]

    @Test("aws s3 through the proxy with dummy keys: mb, cp up (small and 3 MB), ls, cp down, all signed by the proxy")
    func s3RoundTripThroughProxy() async throws {
        try await OAuth2AWSFixture.run("aws-s3") { fixture in
            let (moto, keys) = try await Self.startMoto(fixture)
            try await Self.startProxy(fixture, moto: moto, keys: keys)
            let aws = try AWSCLI(
                runner: fixture.clients,
                endpointPort: moto.port,
                keys: AWSCLI.dummyKeys,
                caBundle: fixture.clientBundlePath,
                proxyPort: fixture.proxyPort,
                configDirectory: fixture.directory
            )

            var generator = SystemRandomNumberGenerator()
            let small = Data("hello from the aws end-to-end test\n".utf8)
            // An odd size a little over 3 MB: one PUT (below the CLI's 8 MB multipart threshold), streamed.
            let large = Data((0..<(3 * 1_048_576 + 12_345)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let smallPath = try fixture.directory.write(small, to: "s3/small.txt")
            let largePath = try fixture.directory.write(large, to: "s3/large.bin")

            let makeBucket = try await aws.run(["s3", "mb", "s3://tp-e2e-b1"])
            #expect(makeBucket.exitCode == 0, fixture.explain(makeBucket))
            for (path, key) in [(smallPath, "f"), (largePath, "large.bin")] {
                let upload = try await aws.run(["s3", "cp", path, "s3://tp-e2e-b1/\(key)"])
                #expect(upload.exitCode == 0, fixture.explain(upload))
            }
            let list = try await aws.run(["s3", "ls", "s3://tp-e2e-b1"] + Self.listWithoutDelimiter)
            #expect(list.exitCode == 0, fixture.explain(list))
            // `DATE TIME SIZE KEY` per object.
            let listing = list.stdout.split(separator: "\n").compactMap { line in
                line.split(separator: " ").last.map(String.init)
            }
            #expect(listing.sorted() == ["f", "large.bin"], "aws s3 ls listed \(listing)")
            fixture.check(list.stdout.contains(" \(large.count) large.bin"), "listing: \(list.stdout)")

            for (original, key) in [(small, "f"), (large, "large.bin")] {
                let back = fixture.directory.file("s3/back-\(key)")
                let download = try await aws.run(["s3", "cp", "s3://tp-e2e-b1/\(key)", back])
                #expect(download.exitCode == 0, fixture.explain(download))
                let roundTripped = FileManager.default.contents(atPath: back)
                #expect(roundTripped?.count == original.count, "\(key): size after the round trip")
                #expect(roundTripped == original, "\(key): content changed on the round trip")
            }

            // mb, 2 × cp up, ls, 2 × (head + get) down: at least 8 requests, every one signed by the proxy.
            let records = await fixture.auditRecords { records in
                records.filter { $0.port == moto.port }.count >= 8
            }
            let toMoto = records.filter { $0.port == moto.port }
            #expect(toMoto.count >= 8, Comment(rawValue: "records for moto: \(fixture.describe(toMoto))"))
            for record in toMoto {
                fixture.checkEqual(record.decision, "injected", "decision in \(record)")
                fixture.checkEqual(record.credential, Self.credential, "credential in \(record)")
                fixture.checkEqual(record.host, "localhost", "host in \(record)")
            }
            let succeeded = toMoto.filter { ($0.status ?? 0) == 200 }.count
            #expect(succeeded >= 8, Comment(rawValue: "records for moto: \(fixture.describe(toMoto))"))
        }
    }

    @Test("moto refuses the client's dummy keys without the proxy, and takes the real ones: signatures are checked")
    func dummyKeysFailWithoutProxy() async throws {
        try await OAuth2AWSFixture.run("aws-direct") { fixture in
            let (moto, keys) = try await Self.startMoto(fixture)
            try await Self.startProxy(fixture, moto: moto, keys: keys)
            let throughProxy = try AWSCLI(
                runner: fixture.clients,
                endpointPort: moto.port,
                keys: AWSCLI.dummyKeys,
                caBundle: fixture.clientBundlePath,
                proxyPort: fixture.proxyPort,
                configDirectory: fixture.directory
            )
            let makeBucket = try await throughProxy.run(["s3", "mb", "s3://tp-e2e-b1"])
            #expect(makeBucket.exitCode == 0, fixture.explain(makeBucket))

            // Straight to moto (no HTTPS_PROXY; AWS_CA_BUNDLE is the test CA, which signed moto's certificate).
            let direct = try AWSCLI(
                runner: fixture.clients,
                endpointPort: moto.port,
                keys: AWSCLI.dummyKeys,
                caBundle: fixture.certificates.authorityPath,
                proxyPort: nil,
                configDirectory: fixture.directory
            )
            let refused = try await direct.run(["s3", "ls", "s3://tp-e2e-b1"] + Self.listWithoutDelimiter)
            let refusedExit = refused.exitCode
            #expect(refusedExit != 0 && refusedExit != nil, fixture.explain(refused))
            // Refused for the key, not for TLS or the connection: the request did reach moto and was judged.
            fixture.check(
                refused.stderr.contains("InvalidAccessKeyId"),
                "expected moto's InvalidAccessKeyId; \(fixture.explain(refused))"
            )

            // The control: the same call with the real keys succeeds, so the keys the proxy holds are what moto
            // wants and the refusal above is about the dummy key alone.
            let withRealKeys = try AWSCLI(
                runner: fixture.clients,
                endpointPort: moto.port,
                keys: keys,
                caBundle: fixture.certificates.authorityPath,
                proxyPort: nil,
                configDirectory: fixture.directory
            )
            let accepted = try await withRealKeys.run(["s3", "ls", "s3://tp-e2e-b1"] + Self.listWithoutDelimiter)
            #expect(accepted.exitCode == 0, fixture.explain(accepted))
        }
    }

    // MARK: Helpers

    /// Starts moto with the test CA's localhost certificate and bootstraps its user and key; the real secret key
    /// is watched from then on. Moto is stopped (with its process group) with the fixture.
    static func startMoto(_ fixture: OAuth2AWSFixture) async throws -> (MotoServer, AWSCLI.Keys) {
        let moto = try await MotoServer.start(
            identity: fixture.certificates.origin(.valid),
            testCA: fixture.certificates.authorityPath
        )
        fixture.addTearDown { await moto.shutdown() }
        let keys = try await moto.bootstrap()
        fixture.watch(keys.secretAccessKey, as: "the AWS secret access key")
        return (moto, keys)
    }

    /// Starts the proxy with `keys` as credential `aws` (from owner-only files in moto's directory) and one rule
    /// that signs requests to moto's port with it.
    static func startProxy(_ fixture: OAuth2AWSFixture, moto: MotoServer, keys: AWSCLI.Keys) async throws {
        let accessKeyIDPath = try moto.writeSecretFile(keys.accessKeyID, named: "access-key-id")
        let secretAccessKeyPath = try moto.writeSecretFile(keys.secretAccessKey, named: "secret-access-key")
        try await fixture.startProxy(
            credentialsAndRules: """
                credentials:
                  \(credential):
                    type: aws
                    access_key_id: \(OAuth2AWSFixture.quoted("file:" + accessKeyIDPath))
                    secret_access_key: \(OAuth2AWSFixture.quoted("file:" + secretAccessKeyPath))
                rules:
                  - host: localhost
                    port: \(moto.port)
                    credential: \(credential)
                    inject: { aws_sigv4: { region: us-east-1, service: s3 } }

                """
        )
    }
}
