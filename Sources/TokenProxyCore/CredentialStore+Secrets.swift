extension CredentialStore {
    /// Every secret value held, of every kind (token, AWS secret key and session token, OAuth client secret and
    /// refresh token), for scrubbing them from places they must never reach, such as a child's environment.
    public var secretValues: [Secret] {
        loadedCredentialNames.flatMap { name -> [Secret] in
            switch value(named: name) {
            case .token(let secret): return [secret]
            case .aws(let credentials):
                return [credentials.secretAccessKey] + [credentials.sessionToken].compactMap { $0 }
            case .oauth2(let client): return [client.clientSecret] + [client.refreshToken].compactMap { $0 }
            case nil: return []
            }
        }
    }
}
