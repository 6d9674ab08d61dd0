/// A credential's secret material in memory, as its kind needs it.
public enum CredentialValue: Sendable {
    /// One token.
    case token(Secret)
    /// AWS access keys.
    case aws(AWSCredentials)
    /// An OAuth client; access tokens are fetched from it at run time.
    case oauth2(OAuth2Client)
}

/// The resolved secrets of an OAuth 2.0 client credential.
public struct OAuth2Client: Sendable {
    /// The configured endpoint, client id and scope.
    public var configuration: OAuth2Configuration
    /// The client secret.
    public var clientSecret: Secret
    /// The refresh token, when the refresh_token grant is used.
    public var refreshToken: Secret?

    /// Creates a client.
    public init(configuration: OAuth2Configuration, clientSecret: Secret, refreshToken: Secret?) {
        self.configuration = configuration
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
    }
}
