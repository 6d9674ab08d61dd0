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
            if composed.null != nil {
                // `---` alone (or with a comment) is an empty document too.
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
            configuration.listen = try parseAddress(text, at: location)
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
            try parseAudit(&audit, into: &configuration)
        }
        if var admin = try top.mapping("admin") {
            if let (text, location) = try admin.string("listen") {
                configuration.adminListen = try parseListen(text, at: location)
            }
            try admin.rejectUnknownKeys()
        }
        if var timeouts = try top.mapping("timeouts") {
            let settings: [(String, WritableKeyPath<Timeouts, Duration>)] = [
                ("connect", \.connect), ("tls_handshake", \.tlsHandshake), ("first_byte", \.firstByte), ("idle", \.idle),
                ("drain", \.drain),
            ]
            for (key, path) in settings {
                if let node = timeouts.value(key) {
                    configuration.timeouts[keyPath: path] = try parseDuration(node, key: "timeouts.\(key)", reader: timeouts)
                }
            }
            try timeouts.rejectUnknownKeys()
        }
        if var credentials = try top.mapping("credentials") {
            configuration.credentials = try parseCredentials(&credentials)
        }
        if let ruleNodes = try top.sequence("rules") {
            configuration.rules = try parseRules(ruleNodes, file: file, credentials: configuration.credentials)
        }
        if var policy = try top.mapping("policy") {
            configuration.policy = try parsePolicy(&policy)
        }
        if var listenTLS = try top.mapping("listen_tls") {
            configuration.listenTLS = try parseListenTLS(
                &listenTLS, at: top.location(ofKey: "listen_tls", fallback: root)
            )
        }
        if var clients = try top.mapping("clients") {
            configuration.clients = try parseClients(&clients, configuration: configuration)
        }
        if let watch = try top.bool("watch") { configuration.watch = watch }
        try top.rejectUnknownKeys()
        return configuration
    }

    /// Parses a listen address, refusing anything that is not loopback (the admin endpoint's rule).
    public static func parseListen(_ text: String, at location: SourceLocation) throws(ConfigurationError) -> HostPort {
        guard let address = HostPort(parsing: text) else {
            throw ConfigurationError(
                "listen address '\(text)' is not HOST:PORT (for example 127.0.0.1:8080)", at: location
            )
        }
        guard address.isLoopback else {
            // The admin endpoint has no authentication of its own: it must not be reachable from other machines.
            throw ConfigurationError(
                "listen address '\(text)' is not loopback; this listener accepts only 127.0.0.1, ::1 or localhost "
                    + "so that no other machine can reach it",
                at: location
            )
        }
        return address
    }

    /// Whether `name` may name a credential: letters, digits, `-`, `_` and `.`.
    public static func isValidName(_ name: String) -> Bool {
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
