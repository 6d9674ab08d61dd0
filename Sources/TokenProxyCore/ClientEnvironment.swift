/// The environment variables that point a client program at the proxy: proxy URLs, every runtime's CA variable and
/// the placeholders of credentials with `env_placeholder:`.
///
/// `tokenproxy run` puts them into the environment of the command it runs; `tokenproxy env` prints them for a shell;
/// `tokenproxy doctor` checks for them. One list, so the three never disagree.
public struct ClientEnvironment: Sendable, Equatable {
    /// The variables in a stable order: proxies, CA variables, then placeholders.
    public let variables: [Variable]

    /// One variable. No value here is ever a secret: the placeholder is useless anywhere but through the proxy.
    public struct Variable: Sendable, Equatable {
        /// The name.
        public var name: String
        /// The value.
        public var value: String
    }

    /// The proxy variables, upper and lower case: curl reads only `http_proxy` in lower case, others prefer upper.
    public static let proxyVariables = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
    /// The bypass variables, set to the loopback names so local services are reached directly.
    public static let noProxyVariables = ["NO_PROXY", "no_proxy"]
    /// The loopback names clients reach directly rather than through the proxy.
    public static let noProxyValue = "localhost,127.0.0.1,::1"
    /// Variables whose value *replaces* the runtime's trust store, so they get the bundle (system roots + proxy CA).
    public static let bundleVariables = [
        "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE",
    ]
    /// Variables whose value is *added* to the runtime's trust store, so they get the proxy CA alone.
    public static let additionalCAVariables = ["NODE_EXTRA_CA_CERTS"]

    /// Builds the variables for a proxy at `proxy` (a loopback address).
    ///
    /// - Parameters:
    ///   - trustBundle: the PEM file with the system roots plus the proxy CA (see `TrustBundle`).
    ///   - caCertificate: the proxy CA's certificate alone.
    ///   - credentials: the configured credentials; those with `envPlaceholder` add `VAR=<placeholder>`.
    /// - Throws: a ``ConfigurationError`` naming both credentials when two claim the same variable.
    public init(
        proxy: HostPort, trustBundle: String, caCertificate: String, credentials: [CredentialConfiguration]
    ) throws(ConfigurationError) {
        let url = "http://\(proxy)"
        var variables = Self.proxyVariables.map { Variable(name: $0, value: url) }
        variables += Self.noProxyVariables.map { Variable(name: $0, value: Self.noProxyValue) }
        variables += Self.bundleVariables.map { Variable(name: $0, value: trustBundle) }
        variables += Self.additionalCAVariables.map { Variable(name: $0, value: caCertificate) }
        var claimed: [String: String] = [:]
        for credential in credentials {
            guard let name = credential.envPlaceholder else { continue }
            if let other = claimed[name] {
                throw ConfigurationError(
                    "credentials '\(other)' and '\(credential.name)' both set env_placeholder \(name); give each its "
                        + "own variable",
                    at: credential.location
                )
            }
            claimed[name] = credential.name
            let placeholder = credential.placeholder ?? Placeholders.defaultPlaceholder(for: credential.name)
            variables.append(Variable(name: name, value: placeholder))
        }
        self.variables = variables
    }

    /// The value of `name`, if this environment sets it.
    public subscript(name: String) -> String? {
        variables.first { $0.name == name }?.value
    }

    /// `base` with these variables set, and with every variable removed that an `env:` source of `credentials`
    /// reads (unless it is set here to a placeholder) or whose value contains one of `secrets`: the child must be
    /// able to reach the APIs through the proxy and nothing else.
    public func applied(
        to base: [String: String], credentials: [CredentialConfiguration], secrets: [Secret]
    ) -> [String: String] {
        var result = base
        for name in CredentialStore.environmentVariables(of: credentials) {
            result.removeValue(forKey: name)
        }
        for (name, value) in result where secrets.contains(where: { $0.occurs(in: value) }) {
            result.removeValue(forKey: name)
        }
        for variable in variables {
            result[variable.name] = variable.value
        }
        return result
    }
}

extension Secret {
    /// Whether this value occurs in `text` (for scrubbing an environment; empty values never occur).
    func occurs(in text: String) -> Bool {
        count > 0 && withUnsafeString { text.contains($0) }
    }
}
