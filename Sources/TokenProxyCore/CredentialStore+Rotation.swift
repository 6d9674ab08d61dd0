extension CredentialStore {
    /// Reads the `previous:` source of `credential` (the token being rotated out), if it names one.
    ///
    /// Read with the same rules as the main source: an absent source of a non-optional credential is an error, so a
    /// rotation window is opened and closed by editing the configuration, never by accident.
    static func resolvePrevious(
        of credential: CredentialConfiguration, resolver: SecretResolver
    ) throws(ConfigurationError) -> Secret? {
        guard let previous = credential.previous else { return nil }
        switch try resolver.read(previous, credential: credential, part: "previous") {
        case .value(let secret): return secret
        case .absent: return nil
        }
    }
}
