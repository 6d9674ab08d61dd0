import Foundation

/// Reads credential values from their sources.
///
/// Every error names the credential, the source reference and the config location, and never the value.
public struct SecretResolver: Sendable {
    /// The environment `env:` sources read from (the proxy's own environment by default).
    public var environment: [String: String]

    /// Creates a resolver over `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The directory holding the proxy's seal key, for `sealed:` sources (the CA directory).
    public var sealingKeyDirectory: String?
    /// Variables that must not reach `command:` programs because `env:` sources read secrets from them.
    public var secretVariables: Set<String> = []

    /// The outcome of reading one source.
    public enum Resolution: Sendable {
        /// The value was read.
        case value(Secret)
        /// The source is absent and the credential is optional: its rules are disabled. The string says why.
        case absent(String)
    }

    /// Reads the main source of a single-token credential.
    public func resolve(_ credential: CredentialConfiguration) throws(ConfigurationError) -> Resolution {
        try read(credential.source, credential: credential, part: nil)
    }

    /// Reads one source of `credential`; `part` names which (`secret_access_key`) for multi-part credentials.
    ///
    /// Throws when the source is present but broken (empty, unsafe permissions, unreadable, control characters,
    /// a failing command, a blob that does not open), or absent on a credential that is not optional.
    public func read(
        _ source: CredentialSource, credential: CredentialConfiguration, part: String?
    ) throws(ConfigurationError) -> Resolution {
        let place = credential.sourceLocation
        let label = "credential '\(credential.name)'" + (part.map { " \($0)" } ?? "") + " (\(source))"
        let secret: Secret
        switch source {
        case .environment(let variable):
            guard let value = environment[variable] else {
                let reason = "environment variable \(variable) is not set"
                if credential.optional { return .absent(reason) }
                throw ConfigurationError("\(label): \(reason); set it in the proxy's environment", at: place)
            }
            guard !value.isEmpty else {
                throw ConfigurationError("\(label): environment variable \(variable) is empty", at: place)
            }
            secret = Secret(value)
        case .file(let path):
            switch try readSecretFile(path, label: label, at: place) {
            case .some(let value): secret = value
            case .none:
                let reason = "file \(path) does not exist"
                if credential.optional { return .absent(reason) }
                throw ConfigurationError("\(label): \(reason)", at: place)
            }
        case .command(let command):
            do {
                secret = try command.run(
                    environment: command.childEnvironment(from: environment, excluding: secretVariables)
                )
            } catch {
                throw ConfigurationError("\(label): \(error.description)", at: place)
            }
        case .sealed(let sealed):
            guard let sealingKeyDirectory else {
                throw ConfigurationError("\(label): no seal key directory is configured", at: place)
            }
            do {
                secret = try SealingKey.load(directory: sealingKeyDirectory).open(sealed, name: credential.name)
            } catch {
                throw ConfigurationError("\(label): \(error.description)", at: place)
            }
        }
        guard !secret.containsHeaderUnsafeBytes else {
            throw ConfigurationError(
                "\(label): the value contains a line break or control character, which cannot go into a header",
                at: place
            )
        }
        return .value(secret)
    }

    /// Reads a token file, or returns `nil` when it does not exist.
    private func readSecretFile(
        _ path: String, label: String, at place: SourceLocation
    ) throws(ConfigurationError) -> Secret? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw ConfigurationError("\(label): cannot read \(path): \(String(cString: strerror(code)))", at: place)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ConfigurationError("\(label): \(path) is not a regular file", at: place)
        }
        // A token readable by other users is already leaked to them; refuse it like ssh refuses such keys.
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw ConfigurationError(
                "\(label): \(path) has mode \(mode) and is readable by group or others; run chmod 600 \(path)",
                at: place
            )
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ConfigurationError("\(label): cannot open \(path) for reading", at: place)
        }
        defer { try? handle.close() }
        let limit = 64 * 1024
        let data: Data
        do {
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw ConfigurationError("\(label): cannot read \(path): \(ConfigurationLoader.describe(error))", at: place)
        }
        guard data.count <= limit else {
            throw ConfigurationError("\(label): \(path) is larger than 64 KiB; is it really a token?", at: place)
        }
        var bytes = Array(data)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard !bytes.isEmpty else {
            throw ConfigurationError("\(label): \(path) is empty", at: place)
        }
        return Secret(bytes: bytes)
    }
}
