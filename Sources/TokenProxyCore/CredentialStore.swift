/// The credential values in memory and the rules that can use them: the result of resolving a configuration.
public struct CredentialStore: Sendable {
    /// Values by credential name. Only credentials whose sources resolved are here.
    private let values: [String: CredentialValue]
    /// The rules whose credential resolved, in configuration order.
    public let rules: RuleSet
    /// Every configured placeholder (of resolved credentials and of disabled ones, so those are refused too).
    public let placeholders: Placeholders
    /// One line per optional credential that was skipped, saying why (never a value).
    public let notices: [String]
    /// Finds the values in memory in what clients send (see ``LeakDetector``).
    public let leakDetector: LeakDetector
    /// Validity windows and revocations: whether each credential may be used now.
    public private(set) var lifecycle = CredentialLifecycle()
    /// The values of `previous:` sources (tokens being rotated out), by credential name.
    public private(set) var previousValues: [String: Secret] = [:]

    /// Resolves every credential of `configuration`.
    ///
    /// Collects every error before throwing, so a user sees all broken sources at once.
    public init(configuration: ProxyConfiguration, resolver: SecretResolver = SecretResolver()) throws(ConfigurationErrors) {
        var resolver = resolver
        if resolver.sealingKeyDirectory == nil { resolver.sealingKeyDirectory = configuration.caDirectory }
        resolver.secretVariables.formUnion(Self.environmentVariables(of: configuration.credentials))
        var values: [String: CredentialValue] = [:]
        var previousValues: [String: Secret] = [:]
        var notices: [String] = []
        var errors: [ConfigurationError] = []
        for credential in configuration.credentials {
            do {
                switch try Self.resolve(credential, resolver: resolver) {
                case .resolved(let value):
                    values[credential.name] = value
                    if let previous = try Self.resolvePrevious(of: credential, resolver: resolver) {
                        previousValues[credential.name] = previous
                    }
                case .absent(let reason):
                    let users = configuration.rules.filter { $0.credential == credential.name }.count
                    notices.append(
                        "credential '\(credential.name)' is optional and \(reason); "
                            + "\(users) rule\(users == 1 ? "" : "s") using it disabled"
                    )
                }
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { throw ConfigurationErrors(errors) }
        self.init(
            values: values, rules: configuration.rules, notices: notices,
            placeholders: Placeholders(credentials: configuration.credentials.map { ($0.name, $0.placeholder) })
        )
        self.lifecycle = CredentialLifecycle(credentials: configuration.credentials)
        self.previousValues = previousValues
    }

    /// Creates a store directly, for tests and embedding.
    public init(
        values: [String: CredentialValue], rules: [Rule], notices: [String] = [], placeholders: Placeholders? = nil
    ) {
        self.values = values
        self.leakDetector = LeakDetector(values: Self.secretValues(of: values))
        self.rules = RuleSet(rules.filter { values[$0.credential] != nil })
        self.notices = notices
        self.placeholders = placeholders ?? Placeholders(credentials: values.keys.map { ($0, nil) })
    }

    /// Creates a store of single tokens, for tests.
    public init(values: [String: Secret], rules: [Rule], notices: [String] = []) {
        self.init(values: values.mapValues { .token($0) }, rules: rules, notices: notices)
    }

    /// The value of the credential named `name`.
    public func value(named name: String) -> CredentialValue? {
        values[name]
    }

    /// The token of the single-token credential named `name`.
    public func secret(named name: String) -> Secret? {
        guard case .token(let secret) = values[name] else { return nil }
        return secret
    }

    /// The names of the credentials in memory, sorted.
    public var loadedCredentialNames: [String] {
        values.keys.sorted()
    }

    /// A copy with `value` for `name` (a refreshed source), keeping everything else.
    public func replacing(_ name: String, with value: CredentialValue) -> CredentialStore {
        var values = self.values
        values[name] = value
        var copy = CredentialStore(values: values, rules: rules.rules, notices: notices, placeholders: placeholders)
        copy.lifecycle = lifecycle
        copy.previousValues = previousValues
        return copy
    }

    /// A copy with `revocations` in force instead of the current ones, keeping everything else.
    public func revoking(_ revocations: [String: Revocation]) -> CredentialStore {
        var copy = self
        copy.lifecycle.revocations = revocations
        return copy
    }

    /// What reading one credential gave.
    public enum Outcome: Sendable {
        /// Every part was read.
        case resolved(CredentialValue)
        /// An optional credential's source is absent; the string says which and why.
        case absent(String)
    }

    /// Reads every source of one credential. An absent part of an optional credential disables it.
    public static func resolve(
        _ credential: CredentialConfiguration, resolver: SecretResolver
    ) throws(ConfigurationError) -> Outcome {
        var secrets: [String: Secret] = [:]
        for (label, source) in credential.sources {
            switch try resolver.read(source, credential: credential, part: label == "source" ? nil : label) {
            case .value(let secret): secrets[label] = secret
            case .absent(let reason): return .absent(reason)
            }
        }
        switch credential.kind {
        case .token:
            return .resolved(.token(secrets["source"]!))
        case .aws:
            let accessKeyID = secrets["access_key_id"]!.withUnsafeString { $0 }
            return .resolved(
                .aws(
                    AWSCredentials(
                        accessKeyID: accessKeyID, secretAccessKey: secrets["secret_access_key"]!,
                        sessionToken: secrets["session_token"]
                    )
                )
            )
        case .oauth2(let configuration):
            return .resolved(
                .oauth2(
                    OAuth2Client(
                        configuration: configuration, clientSecret: secrets["client_secret"]!,
                        refreshToken: secrets["refresh_token"]
                    )
                )
            )
        }
    }

    /// Every secret a client must never send: tokens, AWS secret keys and session tokens, OAuth client secrets and
    /// refresh tokens.
    static func secretValues(of values: [String: CredentialValue]) -> [(credential: String, value: Secret)] {
        var result: [(credential: String, value: Secret)] = []
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            switch value {
            case .token(let secret):
                result.append((name, secret))
            case .aws(let credentials):
                result.append((name, credentials.secretAccessKey))
                if let session = credentials.sessionToken { result.append((name, session)) }
            case .oauth2(let client):
                result.append((name, client.clientSecret))
                if let refresh = client.refreshToken { result.append((name, refresh)) }
            }
        }
        return result
    }

    /// The variables `env:` sources read: they hold secrets, so programs run by `command:` sources never see them.
    public static func environmentVariables(of credentials: [CredentialConfiguration]) -> Set<String> {
        var names: Set<String> = []
        for credential in credentials {
            for (_, source) in credential.sources {
                if case .environment(let variable) = source { names.insert(variable) }
            }
        }
        return names
    }
}
