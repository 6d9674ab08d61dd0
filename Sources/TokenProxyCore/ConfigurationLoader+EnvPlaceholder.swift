extension ConfigurationLoader {
    /// Parses a credential's `env_placeholder: VAR`: a shell-safe variable name that `tokenproxy run` and
    /// `tokenproxy env` set to the credential's placeholder.
    static func parseEnvPlaceholder(
        _ entry: inout YAMLMappingReader, credential: String
    ) throws(ConfigurationError) -> String? {
        guard let (name, location) = try entry.string("env_placeholder") else { return nil }
        guard isEnvironmentVariableName(name) else {
            throw ConfigurationError(
                "credentials.\(credential).env_placeholder '\(name)' is not a variable name "
                    + "(letters, digits and '_', not starting with a digit)",
                at: location
            )
        }
        return name
    }

    /// Whether `name` is a portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isEnvironmentVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !(first >= "0" && first <= "9") else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
                || scalar == "_"
        }
    }
}
