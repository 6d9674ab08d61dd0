import Foundation
import Yams

extension ConfigurationLoader {
    /// Parses `credentials:`.
    static func parseCredentials(
        _ reader: inout YAMLMappingReader
    ) throws(ConfigurationError) -> [CredentialConfiguration] {
        var result: [CredentialConfiguration] = []
        var placeholders: [String: String] = [:]
        for (name, keyNode, value) in reader.keys {
            _ = reader.value(name)
            let location = reader.location(of: keyNode)
            guard isValidName(name) else {
                throw ConfigurationError(
                    "credential name '\(name)' may contain only letters, digits, '-', '_' and '.'", at: location
                )
            }
            var entry = try YAMLMappingReader(value, file: reader.file, context: "credentials.\(name)")
            let typeName = try entry.string("type")?.0 ?? "token"
            let kind: CredentialConfiguration.Kind
            let sourceLocation: SourceLocation
            switch typeName {
            case "token":
                let (source, at) = try parseSource(&entry, key: "source", near: value)
                kind = .token(source)
                sourceLocation = at
            case "aws":
                let (accessKeyID, at) = try parseSource(&entry, key: "access_key_id", near: value)
                let (secretAccessKey, secretAt) = try parseSource(&entry, key: "secret_access_key", near: value)
                let sessionToken = try parseOptionalSource(&entry, key: "session_token")
                kind = .aws(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
                sourceLocation = secretAt
                _ = at
            case "oauth2":
                let (configuration, at) = try parseOAuth2(&entry, near: value)
                kind = .oauth2(configuration)
                sourceLocation = at
            default:
                throw ConfigurationError(
                    "credentials.\(name).type '\(typeName)' is unknown (use token, aws or oauth2)",
                    at: entry.location(ofKey: "type", fallback: value)
                )
            }
            let optional = try entry.bool("optional") ?? false
            var placeholder: String?
            if let (text, placeholderLocation) = try entry.string("placeholder") {
                guard text.count >= 8, !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } ?? false })
                else {
                    throw ConfigurationError(
                        "credentials.\(name).placeholder must be at least 8 characters without spaces, so it cannot "
                            + "occur by accident",
                        at: placeholderLocation
                    )
                }
                if let other = placeholders[text] {
                    throw ConfigurationError(
                        "credentials.\(name).placeholder is already the placeholder of '\(other)'", at: placeholderLocation
                    )
                }
                placeholders[text] = name
                placeholder = text
            }
            var refreshInterval: Duration?
            if let ttlNode = entry.value("ttl") {
                refreshInterval = try parseDuration(ttlNode, key: "credentials.\(name).ttl", reader: entry)
            }
            _ = try entry.string("description")
            let environment = try parseEnvironment(&entry)
            let limits = try parseRateLimits(&entry)
            let lifecycle = try parseLifecycle(&entry, kind: kind, near: value)
            let envPlaceholder = try parseEnvPlaceholder(&entry, credential: name)
            try entry.rejectUnknownKeys()
            var credential = CredentialConfiguration(
                name: name, kind: kind, optional: optional, placeholder: placeholder,
                refreshInterval: refreshInterval, location: location, sourceLocation: sourceLocation
            )
            credential.environment = environment
            credential.limits = limits
            lifecycle.apply(to: &credential)
            credential.envPlaceholder = envPlaceholder
            result.append(credential)
        }
        return result
    }

    private static func parseOAuth2(
        _ entry: inout YAMLMappingReader, near node: Node
    ) throws(ConfigurationError) -> (OAuth2Configuration, SourceLocation) {
        let (tokenURL, urlLocation) = try entry.requiredString("token_url", near: node)
        let lowered = tokenURL.lowercased()
        if lowered.hasPrefix("http://") {
            let authority = lowered.dropFirst(7).prefix { $0 != "/" && $0 != "?" }
            guard let hostPort = HostPort(parsing: authority, defaultPort: 80), hostPort.isLoopback else {
                throw ConfigurationError(
                    "\(entry.context).token_url must be https:// (plain http is allowed only on loopback)", at: urlLocation
                )
            }
        } else if !lowered.hasPrefix("https://") {
            throw ConfigurationError("\(entry.context).token_url must be an https:// URL", at: urlLocation)
        }
        let (clientID, _) = try entry.requiredString("client_id", near: node)
        let (clientSecret, secretLocation) = try parseSource(&entry, key: "client_secret", near: node)
        let scope = try entry.string("scope")?.0
        let refreshToken = try parseOptionalSource(&entry, key: "refresh_token")
        return (
            OAuth2Configuration(
                tokenURL: tokenURL, clientID: clientID, clientSecret: clientSecret, scope: scope,
                refreshToken: refreshToken
            ),
            secretLocation
        )
    }

    /// A source written as `env:…`/`file:…`/`sealed:…`, or as `{ command: [argv…], timeout: SECONDS }`.
    static func parseSource(
        _ entry: inout YAMLMappingReader, key: String, near node: Node
    ) throws(ConfigurationError) -> (CredentialSource, SourceLocation) {
        guard let value = entry.value(key) else {
            throw ConfigurationError("\(entry.context) needs '\(key)'", at: entry.location(of: node))
        }
        return (try source(from: value, key: "\(entry.context).\(key)", file: entry.file), entry.location(of: value))
    }

    static func parseOptionalSource(
        _ entry: inout YAMLMappingReader, key: String
    ) throws(ConfigurationError) -> CredentialSource? {
        guard let value = entry.value(key) else { return nil }
        return try source(from: value, key: "\(entry.context).\(key)", file: entry.file)
    }

    private static func source(from node: Node, key: String, file: String) throws(ConfigurationError) -> CredentialSource {
        let location = SourceLocation(file: file, line: node.mark?.line)
        if let text = node.scalar?.string {
            do {
                return try CredentialSource(parsing: text)
            } catch {
                throw ConfigurationError(error.description, at: location)
            }
        }
        var command = try YAMLMappingReader(node, file: file, context: key)
        guard let argvNodes = try command.sequence("command") else {
            throw ConfigurationError(
                "\(key) must be env:NAME, file:PATH, sealed:BLOB or { command: [program, args…] }", at: location
            )
        }
        var argv: [String] = []
        for argument in argvNodes {
            guard let text = argument.scalar?.string else {
                throw ConfigurationError("\(key).command must be a list of strings", at: command.location(of: argument))
            }
            argv.append(text)
        }
        guard let program = argv.first, !program.isEmpty else {
            throw ConfigurationError("\(key).command needs at least the program to run", at: location)
        }
        var timeout = Duration.seconds(10)
        if let timeoutNode = command.value("timeout") {
            timeout = try parseDuration(timeoutNode, key: "\(key).timeout", reader: command)
        }
        var passed: [String] = []
        for variable in try command.sequence("env") ?? [] {
            guard let name = variable.scalar?.string, !name.isEmpty else {
                throw ConfigurationError("\(key).env must list variable names", at: command.location(of: variable))
            }
            passed.append(name)
        }
        try command.rejectUnknownKeys()
        var source = CommandSecretSource(argv: argv, timeout: timeout)
        source.passedVariables = passed
        return .command(source)
    }

    /// A duration written as seconds (`30`) or with a unit (`500ms`, `30s`, `10m`, `2h`, `90d`).
    static func parseDuration(_ node: Node, key: String, reader: YAMLMappingReader) throws(ConfigurationError) -> Duration {
        let location = reader.location(of: node)
        guard let text = node.scalar?.string.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            throw ConfigurationError("\(key) must be a duration such as 30s, 10m or 2h", at: location)
        }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        var number = Substring(text)
        var scale = 1.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = factor
            break
        }
        guard let value = Double(number), value > 0, value.isFinite else {
            throw ConfigurationError("\(key) must be a positive duration such as 30s, 10m or 2h", at: location)
        }
        return .milliseconds(Int64((value * scale * 1000).rounded()))
    }
}
