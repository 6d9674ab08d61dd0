/// The credential values in memory and the rules that can use them: the result of resolving a configuration.
public struct CredentialStore: Sendable {
    /// Values by credential name. Only credentials whose source resolved are here.
    private let values: [String: Secret]
    /// The rules whose credential resolved, in configuration order.
    public let rules: RuleSet
    /// One line per optional credential that was skipped, saying why (never a value).
    public let notices: [String]

    /// Resolves every credential of `configuration`.
    ///
    /// Collects every error before throwing, so a user sees all broken sources at once.
    public init(configuration: ProxyConfiguration, resolver: SecretResolver = SecretResolver()) throws(ConfigurationErrors) {
        var values: [String: Secret] = [:]
        var notices: [String] = []
        var errors: [ConfigurationError] = []
        for credential in configuration.credentials {
            do {
                switch try resolver.resolve(credential) {
                case .value(let secret):
                    values[credential.name] = secret
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
        self.values = values
        self.notices = notices
        self.rules = RuleSet(configuration.rules.filter { values[$0.credential] != nil })
    }

    /// Creates a store directly, for tests and embedding.
    public init(values: [String: Secret], rules: [Rule], notices: [String] = []) {
        self.values = values
        self.rules = RuleSet(rules.filter { values[$0.credential] != nil })
        self.notices = notices
    }

    /// The value of the credential named `name`.
    public func secret(named name: String) -> Secret? {
        values[name]
    }

    /// The names of the credentials in memory, sorted.
    public var loadedCredentialNames: [String] {
        values.keys.sorted()
    }
}
