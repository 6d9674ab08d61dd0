import Yams

extension ConfigurationLoader {
    /// Parses a proxy listen address (`listen:`, `listen_tls.listen`, `--listen`). Any host is accepted here;
    /// whether a non-loopback one may be used is `serve`'s decision (see ``ListenerExposure``), because it depends
    /// on `clients:` and `--insecure-open`.
    public static func parseAddress(
        _ text: String, at location: SourceLocation
    ) throws(ConfigurationError) -> HostPort {
        guard let address = HostPort(parsing: text) else {
            throw ConfigurationError(
                "listen address '\(text)' is not HOST:PORT (for example 127.0.0.1:8080)", at: location
            )
        }
        return address
    }

    /// Parses `listen_tls: { listen: HOST:PORT, cert: PATH, key: PATH, client_ca: PATH }`.
    static func parseListenTLS(
        _ reader: inout YAMLMappingReader, at mappingLocation: SourceLocation
    ) throws(ConfigurationError) -> ListenTLSConfiguration {
        guard let (text, location) = try reader.string("listen") else {
            throw ConfigurationError("listen_tls needs 'listen' (HOST:PORT)", at: mappingLocation)
        }
        let listen = try parseAddress(text, at: location)
        guard let (certificate, _) = try reader.string("cert") else {
            throw ConfigurationError("listen_tls needs 'cert' (the listener's PEM certificate chain)", at: location)
        }
        guard let (key, _) = try reader.string("key") else {
            throw ConfigurationError("listen_tls needs 'key' (the PEM private key of 'cert')", at: location)
        }
        let clientCA = try reader.string("client_ca")?.0
        try reader.rejectUnknownKeys()
        return ListenTLSConfiguration(
            listen: listen, certificatePath: certificate, privateKeyPath: key, clientCAPath: clientCA,
            location: location
        )
    }

    /// Parses `clients:` and checks each client against the credentials, rules and TLS listener already parsed.
    static func parseClients(
        _ reader: inout YAMLMappingReader, configuration: ProxyConfiguration
    ) throws(ConfigurationError) -> [ClientConfiguration] {
        var result: [ClientConfiguration] = []
        for (name, keyNode, value) in reader.keys {
            _ = reader.value(name)
            let location = reader.location(of: keyNode)
            guard isValidName(name) else {
                throw ConfigurationError(
                    "client name '\(name)' may contain only letters, digits, '-', '_' and '.'", at: location
                )
            }
            var entry = try YAMLMappingReader(value, file: reader.file, context: "clients.\(name)")
            var client = ClientConfiguration(name: name, location: location)
            if entry.keys.contains(where: { $0.name == "key" }) {
                let (source, keyLocation) = try parseSource(&entry, key: "key", near: value)
                client.key = source
                client.keyLocation = keyLocation
            }
            let mtlsLocation = entry.location(ofKey: "mtls", fallback: value)
            if var mtls = try entry.mapping("mtls") {
                client.certificate = try parseCertificateMatch(
                    &mtls, at: mtlsLocation, client: name, configuration: configuration
                )
            }
            guard client.key != nil || client.certificate != nil else {
                throw ConfigurationError(
                    "clients.\(name) needs 'key' (a secret source) or 'mtls' (a client certificate subject or san)",
                    at: location
                )
            }
            client.environment = try parseEnvironment(&entry)
            if let nodes = try entry.sequence("credentials") {
                client.credentials = try parseCredentialNames(
                    nodes, client: client, entry: entry, configuration: configuration
                )
            }
            if let nodes = try entry.sequence("rules") {
                client.rules = try parseRuleIndexes(nodes, client: client, entry: entry, configuration: configuration)
            }
            client.limits = try parseRateLimits(&entry)
            _ = try entry.string("description")
            try entry.rejectUnknownKeys()
            result.append(client)
        }
        return result
    }

    /// Parses a client's `mtls: { subject: CN, san: NAME }`.
    private static func parseCertificateMatch(
        _ mtls: inout YAMLMappingReader, at location: SourceLocation, client: String, configuration: ProxyConfiguration
    ) throws(ConfigurationError) -> ClientConfiguration.CertificateMatch {
        let subject = try mtls.string("subject")
        let san = try mtls.string("san")
        try mtls.rejectUnknownKeys()
        guard subject != nil || san != nil else {
            throw ConfigurationError(
                "clients.\(client).mtls needs 'subject' (a CN) or 'san' (a subject alternative name)", at: location
            )
        }
        guard configuration.listenTLS?.clientCAPath != nil else {
            throw ConfigurationError(
                "clients.\(client).mtls needs a TLS listener that asks for client certificates: "
                    + "listen_tls: { listen: HOST:PORT, cert: PATH, key: PATH, client_ca: PATH }",
                at: location
            )
        }
        return ClientConfiguration.CertificateMatch(subject: subject?.0, alternativeName: san?.0)
    }

    private static func parseCredentialNames(
        _ nodes: [Node], client: ClientConfiguration, entry: YAMLMappingReader, configuration: ProxyConfiguration
    ) throws(ConfigurationError) -> Set<String> {
        var names: Set<String> = []
        for node in nodes {
            let location = entry.location(of: node)
            guard let name = node.scalar?.string else {
                throw ConfigurationError("clients.\(client.name).credentials must list credential names", at: location)
            }
            guard let credential = configuration.credential(named: name) else {
                throw ConfigurationError(
                    "clients.\(client.name).credentials names '\(name)', which is not defined under credentials:",
                    at: location
                )
            }
            if let tag = credential.environment, tag != client.environment {
                throw ConfigurationError(
                    "clients.\(client.name).credentials names '\(name)' of environment '\(tag)', but the client's "
                        + "environment is " + (client.environment.map { "'\($0)'" } ?? "not set")
                        + "; it would always be refused (environment mismatch)",
                    at: location
                )
            }
            names.insert(name)
        }
        return names
    }

    private static func parseRuleIndexes(
        _ nodes: [Node], client: ClientConfiguration, entry: YAMLMappingReader, configuration: ProxyConfiguration
    ) throws(ConfigurationError) -> Set<Int> {
        var indexes: Set<Int> = []
        for node in nodes {
            guard let index = node.int, configuration.rules.indices.contains(index) else {
                throw ConfigurationError(
                    "clients.\(client.name).rules must list rule indexes (0 to \(configuration.rules.count - 1), "
                        + "the N of rules[N])",
                    at: entry.location(of: node)
                )
            }
            indexes.insert(index)
        }
        return indexes
    }

    /// Parses an `environment:` tag: a name like `staging` or `prod`.
    static func parseEnvironment(_ entry: inout YAMLMappingReader) throws(ConfigurationError) -> String? {
        guard let (tag, location) = try entry.string("environment") else { return nil }
        guard isValidName(tag) else {
            throw ConfigurationError(
                "\(entry.context).environment '\(tag)' may contain only letters, digits, '-', '_' and '.'", at: location
            )
        }
        return tag
    }

    /// Parses `rate: N/s|m|h`, `burst: N` and `daily_requests: N` on a credential or a client.
    static func parseRateLimits(_ entry: inout YAMLMappingReader) throws(ConfigurationError) -> RateLimits {
        var limits = RateLimits()
        var rateLocation: SourceLocation?
        if let node = entry.value("rate") {
            let location = entry.location(of: node)
            guard let text = node.scalar?.string, let rate = RateLimits.Rate(parsing: text) else {
                throw ConfigurationError(
                    "\(entry.context).rate must be COUNT/s, COUNT/m or COUNT/h (for example 10/s)", at: location
                )
            }
            limits.rate = rate
            rateLocation = location
        }
        if let (burst, location) = try entry.int("burst") {
            guard burst >= 1 else {
                throw ConfigurationError("\(entry.context).burst must be at least 1", at: location)
            }
            guard rateLocation != nil else {
                throw ConfigurationError(
                    "\(entry.context).burst needs 'rate' (burst is how far requests may run ahead of it)", at: location
                )
            }
            limits.burst = burst
        }
        if let (budget, location) = try entry.int("daily_requests") {
            guard budget >= 1 else {
                throw ConfigurationError("\(entry.context).daily_requests must be at least 1", at: location)
            }
            limits.dailyRequests = budget
        }
        return limits
    }
}
