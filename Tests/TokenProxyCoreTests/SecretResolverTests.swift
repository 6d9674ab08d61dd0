import Foundation
import Testing

@testable import TokenProxyCore

@Suite("SecretResolver")
struct SecretResolverTests {
    private static let file = "conf/tokenproxy.yaml"

    private static func credential(_ source: CredentialSource, optional: Bool = false) -> CredentialConfiguration {
        CredentialConfiguration(
            name: "github", source: source, optional: optional,
            location: ConfigLocation(file: file, line: 12),
            sourceLocation: ConfigLocation(file: file, line: 13)
        )
    }

    private static func resolutionError(
        _ resolver: SecretResolver, _ credential: CredentialConfiguration
    ) -> ConfigurationError? {
        do {
            _ = try resolver.resolve(credential)
            return nil
        } catch {
            return error
        }
    }

    /// Checks that `error` exists, sits at the credential's source line, names each of `fragments`, and does not
    /// contain `canary`. Failure messages never include the error text when it leaked.
    private static func expectSourceError(
        _ error: ConfigurationError?, canary: String, mentions fragments: [String],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        guard let error else {
            Issue.record("expected a configuration error", sourceLocation: sourceLocation)
            return
        }
        let leaked = error.description.contains(canary) || String(reflecting: error).contains(canary)
        #expect(!leaked, "error message leaked the secret", sourceLocation: sourceLocation)
        let shown = leaked ? "<withheld: leaked>" : error.description
        let atSource = error.description.hasPrefix("\(file):13: ")
        #expect(atSource, "error not at \(file):13: \(shown)", sourceLocation: sourceLocation)
        for fragment in fragments {
            let mentioned = error.message.contains(fragment)
            #expect(mentioned, "error does not mention '\(fragment)': \(shown)", sourceLocation: sourceLocation)
        }
    }

    private static func expectValue(
        _ resolution: SecretResolver.Resolution, equals expected: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        guard case .value(let value) = resolution else {
            Issue.record("expected a value, got an absent source", sourceLocation: sourceLocation)
            return
        }
        let same = secret(value, equals: expected)
        #expect(same, "resolved value differs from the source", sourceLocation: sourceLocation)
    }

    // MARK: - env:

    @Test("a set environment variable resolves to its value", arguments: [false, true])
    func environmentSet(optional: Bool) throws {
        let canary = makeCanary()
        let resolver = SecretResolver(environment: ["GITHUB_TOKEN": canary, "OTHER": "x"])
        let credential = Self.credential(.environment(variable: "GITHUB_TOKEN"), optional: optional)
        let resolution = try resolver.resolve(credential)
        Self.expectValue(resolution, equals: canary)
    }

    @Test("an unset variable on a required credential is an error naming the variable and file:line")
    func environmentUnsetRequired() {
        let canary = makeCanary()
        // Near-miss names hold the canary: an error that listed the environment would leak it.
        let resolver = SecretResolver(environment: ["GITHUB_TOKEN_OLD": canary, "github_token": canary])
        let error = Self.resolutionError(resolver, Self.credential(.environment(variable: "GITHUB_TOKEN")))
        Self.expectSourceError(
            error, canary: canary,
            mentions: ["credential 'github'", "env:GITHUB_TOKEN", "environment variable GITHUB_TOKEN is not set"]
        )
    }

    @Test("an unset variable on an optional credential is absent, saying why")
    func environmentUnsetOptional() throws {
        let resolver = SecretResolver(environment: [:])
        let resolution = try resolver.resolve(Self.credential(.environment(variable: "GITHUB_TOKEN"), optional: true))
        guard case .absent(let reason) = resolution else {
            Issue.record("expected an absent source")
            return
        }
        #expect(reason.contains("GITHUB_TOKEN"))
        #expect(reason.contains("not set"))
    }

    @Test("a set but empty variable is an error even when optional", arguments: [false, true])
    func environmentEmpty(optional: Bool) {
        let canary = makeCanary()
        let resolver = SecretResolver(environment: ["GITHUB_TOKEN": "", "OTHER_TOKEN": canary])
        let error = Self.resolutionError(
            resolver, Self.credential(.environment(variable: "GITHUB_TOKEN"), optional: optional)
        )
        Self.expectSourceError(error, canary: canary, mentions: ["credential 'github'", "GITHUB_TOKEN", "is empty"])
    }

    @Test("a value with a line break or control character is an error", arguments: [
        "\n", "\r", "\r\n", "\u{0}", "\u{1B}", "\u{7F}",
    ])
    func environmentControlCharacters(separator: String) {
        let canary = makeCanary()
        for optional in [false, true] {
            let resolver = SecretResolver(environment: ["GITHUB_TOKEN": canary + separator + "X-Injected: \(canary)"])
            let error = Self.resolutionError(
                resolver, Self.credential(.environment(variable: "GITHUB_TOKEN"), optional: optional)
            )
            Self.expectSourceError(
                error, canary: canary, mentions: ["credential 'github'", "line break or control character"]
            )
        }
    }

    @Test("a trailing newline in an environment variable is not stripped")
    func environmentTrailingNewline() {
        let canary = makeCanary()
        let resolver = SecretResolver(environment: ["GITHUB_TOKEN": canary + "\n"])
        let error = Self.resolutionError(resolver, Self.credential(.environment(variable: "GITHUB_TOKEN")))
        Self.expectSourceError(error, canary: canary, mentions: ["line break"])
    }

    // MARK: - file:

    @Test("a token file resolves to its contents without one trailing line ending", arguments: ["", "\n", "\r\n"])
    func fileValue(ending: String) throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            let path = try directory.write(canary + ending, to: "token", mode: 0o600)
            let resolution = try SecretResolver(environment: [:]).resolve(Self.credential(.file(path: path)))
            Self.expectValue(resolution, equals: canary)
        }
    }

    @Test("an owner-read-only file (0400) is accepted")
    func fileReadOnly() throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            let path = try directory.write(canary, to: "token", mode: 0o400)
            let resolution = try SecretResolver(environment: [:]).resolve(Self.credential(.file(path: path)))
            Self.expectValue(resolution, equals: canary)
        }
    }

    @Test("only one trailing newline is stripped; a second one is refused")
    func fileTwoNewlines() throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            let path = try directory.write(canary + "\n\n", to: "token")
            let error = Self.resolutionError(SecretResolver(environment: [:]), Self.credential(.file(path: path)))
            Self.expectSourceError(error, canary: canary, mentions: ["line break or control character"])
        }
    }

    @Test("a file with an inner line break is refused")
    func fileInnerLineBreak() throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            let path = try directory.write("\(canary)\nX-Evil: \(canary)\n", to: "token")
            let error = Self.resolutionError(SecretResolver(environment: [:]), Self.credential(.file(path: path)))
            Self.expectSourceError(error, canary: canary, mentions: ["credential 'github'", "line break"])
        }
    }

    @Test("a file readable by group or others is refused with chmod 600 advice", arguments: [
        0o644, 0o640, 0o604, 0o660, 0o606, 0o610, 0o601,
    ] as [mode_t])
    func fileModeRefused(mode: mode_t) throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            let path = try directory.write(canary + "\n", to: "token", mode: mode)
            for optional in [false, true] {
                let error = Self.resolutionError(
                    SecretResolver(environment: [:]), Self.credential(.file(path: path), optional: optional)
                )
                Self.expectSourceError(
                    error, canary: canary,
                    mentions: ["credential 'github'", "file:\(path)", "has mode \(String(mode, radix: 8))", "chmod 600"]
                )
            }
        }
    }

    @Test("a missing file on a required credential is an error")
    func fileMissingRequired() throws {
        try withTemporaryDirectory { directory in
            let path = directory.file("absent-token")
            let error = Self.resolutionError(SecretResolver(environment: [:]), Self.credential(.file(path: path)))
            Self.expectSourceError(error, canary: makeCanary(), mentions: ["credential 'github'", "does not exist"])
        }
    }

    @Test("a missing file on an optional credential is absent, naming the path")
    func fileMissingOptional() throws {
        try withTemporaryDirectory { directory in
            let path = directory.file("absent-token")
            let resolution = try SecretResolver(environment: [:])
                .resolve(Self.credential(.file(path: path), optional: true))
            guard case .absent(let reason) = resolution else {
                Issue.record("expected an absent source")
                return
            }
            #expect(reason.contains(path))
            #expect(reason.contains("does not exist"))
        }
    }

    @Test("a directory instead of a file is an error even when optional", arguments: [false, true])
    func fileIsDirectory(optional: Bool) throws {
        try withTemporaryDirectory { directory in
            let path = directory.file("token.d")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            chmod(path, 0o700)
            let error = Self.resolutionError(
                SecretResolver(environment: [:]), Self.credential(.file(path: path), optional: optional)
            )
            Self.expectSourceError(error, canary: makeCanary(), mentions: ["not a regular file"])
        }
    }

    @Test("an empty file, or one holding only a newline, is an error even when optional", arguments: [
        ("", false), ("", true), ("\n", false), ("\r\n", true),
    ])
    func fileEmpty(contents: String, optional: Bool) throws {
        try withTemporaryDirectory { directory in
            let path = try directory.write(contents, to: "token")
            let error = Self.resolutionError(
                SecretResolver(environment: [:]), Self.credential(.file(path: path), optional: optional)
            )
            Self.expectSourceError(error, canary: makeCanary(), mentions: ["credential 'github'", "is empty"])
        }
    }

    @Test("a file larger than 64 KiB is refused")
    func fileTooLarge() throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            var bytes: [UInt8] = []
            while bytes.count <= 64 * 1024 { bytes += Array(canary.utf8) }
            let path = try directory.write(bytes, to: "token")
            let error = Self.resolutionError(SecretResolver(environment: [:]), Self.credential(.file(path: path)))
            Self.expectSourceError(error, canary: canary, mentions: ["larger than 64 KiB"])
        }
    }

    @Test("a file of exactly 64 KiB is accepted, one byte more is not")
    func fileSizeBoundary() throws {
        try withTemporaryDirectory { directory in
            let exact = String(repeating: "k", count: 64 * 1024)
            let okPath = try directory.write(exact, to: "exact")
            let resolution = try SecretResolver(environment: [:]).resolve(Self.credential(.file(path: okPath)))
            Self.expectValue(resolution, equals: exact)

            let overPath = try directory.write(exact + "k", to: "over")
            let error = Self.resolutionError(SecretResolver(environment: [:]), Self.credential(.file(path: overPath)))
            Self.expectSourceError(error, canary: makeCanary(), mentions: ["larger than 64 KiB"])
        }
    }

    @Test("a path that runs through a regular file is an error, not absent, even when optional")
    func fileUnderAFile() throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            let parent = try directory.write(canary, to: "not-a-directory")
            let path = parent + "/token"
            let error = Self.resolutionError(
                SecretResolver(environment: [:]), Self.credential(.file(path: path), optional: true)
            )
            Self.expectSourceError(error, canary: canary, mentions: ["cannot read \(path)"])
        }
    }

    @Test("a configured file source resolves with the location from the YAML")
    func fromParsedConfiguration() throws {
        try withTemporaryDirectory { directory in
            let canary = makeCanary()
            let path = try directory.write(canary, to: "token", mode: 0o644)
            let yaml = "credentials:\n  deploy:\n    optional: true\n    source: file:\(path)\n"
            let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "deploy.yaml")
            let credential = try #require(configuration.credentials.first)
            let error = Self.resolutionError(SecretResolver(environment: [:]), credential)
            let description = error?.description ?? ""
            let leaked = description.contains(canary)
            #expect(!leaked, "error message leaked the secret")
            let located = description.hasPrefix("deploy.yaml:4: credential 'deploy' (file:\(path)): ")
            #expect(located, "error is not at the source line")
        }
    }
}
