import Yams

extension ConfigurationLoader {
    /// The largest body a rule may ask to buffer for placeholder replacement.
    static let maximumBodyLimit = 64 * 1024 * 1024
    /// The body limit when `body: true` names none.
    static let defaultBodyLimit = 1024 * 1024

    /// Parses `rules:`, checking each against the credentials it names.
    static func parseRules(
        _ nodes: [Node], file: String, credentials: [CredentialConfiguration]
    ) throws(ConfigurationError) -> [Rule] {
        var rules: [Rule] = []
        for (index, node) in nodes.enumerated() {
            rules.append(try parseRule(node, index: index, file: file, credentials: credentials))
        }
        return rules
    }

    private static func parseRule(
        _ node: Node, index: Int, file: String, credentials: [CredentialConfiguration]
    ) throws(ConfigurationError) -> Rule {
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

        var path: PathPattern?
        if let (value, pathLocation) = try entry.string("path") {
            do {
                path = try PathPattern(value)
            } catch {
                throw ConfigurationError("rules[\(index)]: \(error.description)", at: pathLocation)
            }
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
        guard let credential = credentials.first(where: { $0.name == credentialName }) else {
            let known = credentials.map(\.name).sorted().joined(separator: ", ")
            throw ConfigurationError(
                "rules[\(index)] names credential '\(credentialName)', which is not defined under credentials:"
                    + (known.isEmpty ? " (none are defined)" : " (defined: \(known))"),
                at: credentialLocation
            )
        }

        let injection: Injection
        if let injectNode = entry.value("inject") {
            var inject = try YAMLMappingReader(injectNode, file: file, context: "rules[\(index)].inject")
            injection = try parseInjection(&inject, near: injectNode)
        } else if case .oauth2 = credential.kind {
            // An OAuth access token is a bearer token by definition.
            injection = .header(name: "Authorization", template: try! InjectionTemplate("Bearer {{secret}}"))
        } else {
            throw ConfigurationError(
                "rules[\(index)] needs 'inject:', for example { header: Authorization, value: \"Bearer {{secret}}\" }",
                at: location
            )
        }
        try checkCompatible(injection, with: credential, rule: index, at: entry.location(ofKey: "inject", fallback: node))

        let allowPlaintext = try entry.bool("allow_plaintext") ?? false
        let require = try entry.bool("require") ?? false
        var bodyLimit: Int?
        if try entry.bool("body") == true {
            bodyLimit = defaultBodyLimit
            if let (limit, limitLocation) = try entry.int("max_body") {
                guard (1...maximumBodyLimit).contains(limit) else {
                    throw ConfigurationError(
                        "rules[\(index)].max_body must be 1–\(maximumBodyLimit) bytes", at: limitLocation
                    )
                }
                bodyLimit = limit
            }
        } else if let (_, limitLocation) = try entry.int("max_body") {
            throw ConfigurationError("rules[\(index)].max_body only applies with body: true", at: limitLocation)
        }
        let scrubResponses = try entry.bool("scrub_responses") ?? false
        try entry.rejectUnknownKeys()
        var rule = Rule(
            index: index, host: host, port: port, path: path, methods: methods, credential: credentialName,
            injection: injection, allowPlaintext: allowPlaintext, require: require, bodyLimit: bodyLimit,
            location: location
        )
        rule.scrubResponses = scrubResponses
        return rule
    }

    /// Parses one `inject:` mapping: exactly one of header/value, basic, query, placeholder, aws_sigv4.
    private static func parseInjection(
        _ inject: inout YAMLMappingReader, near node: Node
    ) throws(ConfigurationError) -> Injection {
        let forms = ["header", "basic", "query", "placeholder", "aws_sigv4"]
        let present = inject.keys.map(\.name).filter { forms.contains($0) }
        guard present.count == 1, let form = present.first else {
            throw ConfigurationError(
                "\(inject.context) needs exactly one of: header (with value), basic, query, placeholder, aws_sigv4",
                at: inject.location(of: node)
            )
        }
        let injection: Injection
        switch form {
        case "header":
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
            injection = .header(name: header, template: try template(valueText, at: valueLocation))
        case "basic":
            guard var basic = try inject.mapping("basic") else {
                throw ConfigurationError("\(inject.context).basic needs username and password", at: inject.location(of: node))
            }
            let (username, usernameLocation) = try basic.requiredString("username", near: node)
            let (password, passwordLocation) = try basic.requiredString("password", near: node)
            let user = try template(username, at: usernameLocation, secretRequired: false)
            let pass = try template(password, at: passwordLocation, secretRequired: false)
            guard user.containsSecret || pass.containsSecret else {
                throw ConfigurationError(
                    "\(inject.context).basic needs {{secret}} in the username or the password", at: passwordLocation
                )
            }
            guard !username.contains(":") else {
                throw ConfigurationError("a Basic username cannot contain ':'", at: usernameLocation)
            }
            try basic.rejectUnknownKeys()
            injection = .basic(username: user, password: pass)
        case "query":
            let (name, nameLocation) = try inject.requiredString("query", near: node)
            guard !name.isEmpty, !name.contains(where: { "&=#?".contains($0) || $0.isWhitespace }) else {
                throw ConfigurationError("'\(name)' is not a usable query parameter name", at: nameLocation)
            }
            injection = .query(name: name)
        case "placeholder":
            guard try inject.bool("placeholder") == true else {
                throw ConfigurationError(
                    "\(inject.context).placeholder must be true", at: inject.location(ofKey: "placeholder", fallback: node)
                )
            }
            injection = .placeholder
        default:
            guard var aws = try inject.mapping("aws_sigv4") else {
                throw ConfigurationError("\(inject.context).aws_sigv4 needs region and service", at: inject.location(of: node))
            }
            let (region, regionLocation) = try aws.requiredString("region", near: node)
            let (service, serviceLocation) = try aws.requiredString("service", near: node)
            for (value, at) in [(region, regionLocation), (service, serviceLocation)]
            where value.isEmpty || !value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
                throw ConfigurationError("'\(value)' is not an AWS region or service name", at: at)
            }
            try aws.rejectUnknownKeys()
            injection = .awsSigV4(region: region, service: service)
        }
        try inject.rejectUnknownKeys()
        return injection
    }

    private static func template(
        _ text: String, at location: SourceLocation, secretRequired: Bool = true
    ) throws(ConfigurationError) -> InjectionTemplate {
        do {
            return try InjectionTemplate(text, secretRequired: secretRequired)
        } catch {
            throw ConfigurationError(error.description, at: location)
        }
    }

    /// AWS signing needs AWS keys, and AWS keys are only ever used to sign.
    private static func checkCompatible(
        _ injection: Injection, with credential: CredentialConfiguration, rule index: Int, at location: SourceLocation
    ) throws(ConfigurationError) {
        switch (injection, credential.kind) {
        case (.awsSigV4, .aws), (.header, .token), (.basic, .token), (.query, .token), (.placeholder, .token),
            (.header, .oauth2):
            return
        case (.awsSigV4, _):
            throw ConfigurationError(
                "rules[\(index)] signs with aws_sigv4, but credential '\(credential.name)' is not of type: aws",
                at: location
            )
        default:
            throw ConfigurationError(
                "rules[\(index)]: credential '\(credential.name)' of type \(credential.kind.typeName) cannot be used with "
                    + "inject \(injection.summary)",
                at: location
            )
        }
    }
}
