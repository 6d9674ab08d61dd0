import Foundation
import Yams

/// Loads and validates a YAML configuration file.
///
/// Validation is strict and structural only: unknown keys, wrong types, bad host patterns, bad templates and rules
/// naming a missing credential are all refused here with `file:line`. Whether each credential's source can be read
/// is checked afterwards by ``SecretResolver``, so `check` and `serve` share both steps.
public enum ConfigurationLoader {
    /// Headers a rule may not set: the proxy owns framing, routing and proxy authentication.
    static let forbiddenInjectionHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-authorization",
        "proxy-authenticate", "proxy-connection", "te", "trailer", "upgrade",
    ]

    /// Reads `path` and parses it.
    public static func load(path: String) throws(ConfigurationError) -> ProxyConfiguration {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError("configuration file not found", at: SourceLocation(file: path))
        }
        guard !isDirectory.boolValue else {
            throw ConfigurationError("is a directory, not a configuration file", at: SourceLocation(file: path))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                "cannot read configuration file (check its permissions)", at: SourceLocation(file: path)
            )
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("configuration file is not UTF-8 text", at: SourceLocation(file: path))
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses YAML text; `file` is used in error locations.
    public static func parse(yaml text: String, file: String) throws(ConfigurationError) -> ProxyConfiguration {
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                // An empty file is the built-in defaults, named as coming from this file.
                var defaults = ProxyConfiguration.workstationDefaults
                defaults.file = file
                return defaults
            }
            root = composed
        } catch let error as YamlError {
            throw Self.configurationError(from: error, file: file)
        } catch {
            throw ConfigurationError("cannot parse YAML: \(error)", at: SourceLocation(file: file))
        }

        var top = try YAMLMappingReader(root, file: file, context: "")
        var configuration = ProxyConfiguration.workstationDefaults
        configuration.file = file

        if let (text, location) = try top.string("listen") {
            configuration.listen = try parseListen(text, at: location)
        }
        if var ca = try top.mapping("ca") {
            if let (dir, _) = try ca.string("dir") { configuration.caDirectory = dir }
            try ca.rejectUnknownKeys()
        }
        if var upstream = try top.mapping("upstream") {
            if let (bundle, _) = try upstream.string("ca_bundle") { configuration.upstreamCABundle = bundle }
            try upstream.rejectUnknownKeys()
        }
        if var audit = try top.mapping("audit") {
            configuration.auditLogPath = try audit.string("log")?.0
            try audit.rejectUnknownKeys()
        }
        if var credentials = try top.mapping("credentials") {
            configuration.credentials = try parseCredentials(&credentials)
        }
        if let ruleNodes = try top.sequence("rules") {
            configuration.rules = try parseRules(ruleNodes, file: file, credentials: configuration.credentials)
        }
        try top.rejectUnknownKeys()
        return configuration
    }

    /// Parses a listen address, refusing anything that is not loopback.
    public static func parseListen(_ text: String, at location: SourceLocation) throws(ConfigurationError) -> HostPort {
        guard let address = HostPort(parsing: text) else {
            throw ConfigurationError(
                "listen address '\(text)' is not HOST:PORT (for example 127.0.0.1:8080)", at: location
            )
        }
        guard address.isLoopback else {
            // Until client authentication exists, a non-loopback listener would offer every token to the network.
            throw ConfigurationError(
                "listen address '\(text)' is not loopback; tokenproxy only listens on 127.0.0.1, ::1 or localhost "
                    + "so that no other machine can use its tokens",
                at: location
            )
        }
        return address
    }

    private static func parseCredentials(
        _ reader: inout YAMLMappingReader
    ) throws(ConfigurationError) -> [CredentialConfiguration] {
        var result: [CredentialConfiguration] = []
        for (name, keyNode, value) in reader.keys {
            _ = reader.value(name)
            let location = reader.location(of: keyNode)
            guard isValidName(name) else {
                throw ConfigurationError(
                    "credential name '\(name)' may contain only letters, digits, '-', '_' and '.'", at: location
                )
            }
            var entry = try YAMLMappingReader(value, file: reader.file, context: "credentials.\(name)")
            let (sourceText, sourceLocation) = try entry.requiredString("source", near: value)
            let source: CredentialSource
            do {
                source = try CredentialSource(parsing: sourceText)
            } catch {
                throw ConfigurationError(error.description, at: sourceLocation)
            }
            let optional = try entry.bool("optional") ?? false
            _ = try entry.string("description")
            try entry.rejectUnknownKeys()
            result.append(
                CredentialConfiguration(
                    name: name, source: source, optional: optional, location: location,
                    sourceLocation: sourceLocation
                )
            )
        }
        return result
    }

    private static func parseRules(
        _ nodes: [Node], file: String, credentials: [CredentialConfiguration]
    ) throws(ConfigurationError) -> [Rule] {
        var rules: [Rule] = []
        for (index, node) in nodes.enumerated() {
            var entry = try YAMLMappingReader(node, file: file, context: "rules[\(index)]")
            let location = entry.location(of: node)

            let (hostText, hostLocation) = try entry.requiredString("host", near: node)
            let host: HostPattern
            do {
                host = try HostPattern(hostText)
            } catch {
                throw ConfigurationError(error.description, at: hostLocation)
            }

            var port: Int?
            if let (value, portLocation) = try entry.int("port") {
                guard (1...65535).contains(value) else {
                    throw ConfigurationError("rules[\(index)].port must be 1–65535", at: portLocation)
                }
                port = value
            }

            var pathPrefix: String?
            if let (value, pathLocation) = try entry.string("path") {
                guard value.hasPrefix("/") else {
                    throw ConfigurationError("rules[\(index)].path must start with '/'", at: pathLocation)
                }
                pathPrefix = value
            }

            var methods: Set<String>?
            if let methodNodes = try entry.sequence("methods") {
                var names: Set<String> = []
                for methodNode in methodNodes {
                    guard let name = methodNode.scalar?.string, !name.isEmpty,
                        name.allSatisfy({ $0.isLetter && $0.isASCII })
                    else {
                        throw ConfigurationError(
                            "rules[\(index)].methods must list HTTP method names", at: entry.location(of: methodNode)
                        )
                    }
                    names.insert(name.uppercased())
                }
                methods = names
            }

            let (credentialName, credentialLocation) = try entry.requiredString("credential", near: node)
            guard credentials.contains(where: { $0.name == credentialName }) else {
                let known = credentials.map(\.name).sorted().joined(separator: ", ")
                throw ConfigurationError(
                    "rules[\(index)] names credential '\(credentialName)', which is not defined under credentials:"
                        + (known.isEmpty ? " (none are defined)" : " (defined: \(known))"),
                    at: credentialLocation
                )
            }

            guard var inject = try entry.mapping("inject") else {
                throw ConfigurationError(
                    "rules[\(index)] needs 'inject: { header: NAME, value: \"… {{secret}} …\" }'", at: location
                )
            }
            let injection = try parseInjection(&inject, near: node)

            let allowPlaintext = try entry.bool("allow_plaintext") ?? false
            try entry.rejectUnknownKeys()
            rules.append(
                Rule(
                    index: index, host: host, port: port, pathPrefix: pathPrefix, methods: methods,
                    credential: credentialName, injection: injection, allowPlaintext: allowPlaintext,
                    location: location
                )
            )
        }
        return rules
    }

    private static func parseInjection(
        _ inject: inout YAMLMappingReader, near node: Node
    ) throws(ConfigurationError) -> HeaderInjection {
        let (header, headerLocation) = try inject.requiredString("header", near: node)
        guard isValidHeaderName(header) else {
            throw ConfigurationError("'\(header)' is not a valid HTTP header name", at: headerLocation)
        }
        guard !forbiddenInjectionHeaders.contains(header.lowercased()) else {
            throw ConfigurationError(
                "a rule may not set '\(header)': the proxy manages that header itself", at: headerLocation
            )
        }
        let (valueText, valueLocation) = try inject.requiredString("value", near: node)
        let template: InjectionTemplate
        do {
            template = try InjectionTemplate(valueText)
        } catch {
            throw ConfigurationError(error.description, at: valueLocation)
        }
        try inject.rejectUnknownKeys()
        return HeaderInjection(header: header, template: template)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy { scalar in
                (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
                    || (scalar >= "0" && scalar <= "9") || scalar == "-" || scalar == "_" || scalar == "."
            }
    }

    /// RFC 9110 token characters.
    static func isValidHeaderName(_ name: String) -> Bool {
        let extra: Set<Unicode.Scalar> = ["!", "#", "$", "%", "&", "'", "*", "+", "-", ".", "^", "_", "`", "|", "~"]
        return !name.isEmpty
            && name.unicodeScalars.allSatisfy { scalar in
                (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
                    || extra.contains(scalar)
            }
    }

    private static func configurationError(from error: YamlError, file: String) -> ConfigurationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigurationError("invalid YAML: \(problem)", at: SourceLocation(file: file, line: mark.line))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigurationError(
                "duplicate key \(duplicates.sorted().map { "'\($0)'" }.joined(separator: ", "))",
                at: SourceLocation(file: file, line: context.mark.line)
            )
        default:
            return ConfigurationError("invalid YAML: \(error)", at: SourceLocation(file: file))
        }
    }

    /// A file-system error without Foundation's long wrapper text.
    static func describe(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
            underlying.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(underlying.code))
        {
            return String(cString: strerror(code.rawValue))
        }
        return nsError.localizedDescription
    }
}
