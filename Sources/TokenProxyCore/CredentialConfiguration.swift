import Foundation

/// One entry under `credentials:`: a named secret and where to read it.
public struct CredentialConfiguration: Sendable, Hashable {
    /// What kind of secret this is.
    public enum Kind: Sendable, Hashable {
        /// One token from one source (the common case).
        case token(CredentialSource)
        /// AWS access keys, for `aws_sigv4` rules.
        case aws(accessKeyID: CredentialSource, secretAccessKey: CredentialSource, sessionToken: CredentialSource?)
        /// An OAuth 2.0 client whose access tokens the proxy fetches and refreshes.
        case oauth2(OAuth2Configuration)

        /// The word used in `type:`.
        public var typeName: String {
            switch self {
            case .token: return "token"
            case .aws: return "aws"
            case .oauth2: return "oauth2"
            }
        }
    }

    /// The name rules refer to and records carry (never the value).
    public var name: String
    /// What the secret is and where its parts come from.
    public var kind: Kind
    /// When `true`, a source that is absent (unset variable, missing file) disables the rules that use this
    /// credential with a notice instead of refusing to start. A source that is present but broken is still an error.
    public var optional: Bool
    /// A custom placeholder clients may send instead of `{{tokenproxy:NAME}}`.
    public var placeholder: String?
    /// `env_placeholder:` — the variable `tokenproxy run` and `tokenproxy env` set to this credential's placeholder,
    /// for SDKs that refuse to start without a token variable.
    public var envPlaceholder: String?
    /// When set, the sources are read again this often in the background; a failed read keeps the last good value.
    public var refreshInterval: Duration?
    /// The environment tag (`staging`, `prod`…): when set, only clients with the same tag get this credential.
    public var environment: String?
    /// Rate limits and a daily budget for this credential's use, across all clients.
    public var limits = RateLimits()
    /// Where the credential is defined, for error messages.
    public var location: SourceLocation
    /// When set (`expires:`), the credential is out of service from this instant on, with the reason "expired".
    public var expires: Date? = nil
    /// When set (`not_before:`), the credential is out of service before this instant ("not yet valid").
    public var notBefore: Date? = nil
    /// When set (`previous:`), the token being rotated out: sent once more when the origin answers 401 to the
    /// current one and the request can be replayed.
    public var previous: CredentialSource? = nil
    /// When set (`rotate_every:`), the proxy warns once a value has been in use longer than this.
    public var rotateEvery: Duration? = nil
    /// Where its main source is written, for source errors.
    public var sourceLocation: SourceLocation

    /// Creates a credential definition of any kind.
    public init(
        name: String,
        kind: Kind,
        optional: Bool = false,
        placeholder: String? = nil,
        refreshInterval: Duration? = nil,
        location: SourceLocation,
        sourceLocation: SourceLocation? = nil
    ) {
        self.name = name
        self.kind = kind
        self.optional = optional
        self.placeholder = placeholder
        self.refreshInterval = refreshInterval
        self.location = location
        self.sourceLocation = sourceLocation ?? location
    }

    /// Creates a single-token credential read from `source`.
    public init(
        name: String,
        source: CredentialSource,
        optional: Bool = false,
        location: SourceLocation,
        sourceLocation: SourceLocation? = nil
    ) {
        self.init(
            name: name, kind: .token(source), optional: optional, location: location, sourceLocation: sourceLocation
        )
    }

    /// The main source: the token's, the AWS secret key's, or the OAuth client secret's.
    public var source: CredentialSource {
        switch kind {
        case .token(let source): return source
        case .aws(_, let secretAccessKey, _): return secretAccessKey
        case .oauth2(let configuration): return configuration.clientSecret
        }
    }

    /// Every source this credential reads, with a label for messages.
    public var sources: [(label: String, source: CredentialSource)] {
        switch kind {
        case .token(let source):
            return [("source", source)]
        case .aws(let accessKeyID, let secretAccessKey, let sessionToken):
            var result = [("access_key_id", accessKeyID), ("secret_access_key", secretAccessKey)]
            if let sessionToken { result.append(("session_token", sessionToken)) }
            return result
        case .oauth2(let configuration):
            var result = [("client_secret", configuration.clientSecret)]
            if let refreshToken = configuration.refreshToken { result.append(("refresh_token", refreshToken)) }
            return result
        }
    }
}

/// The settings of an `oauth2` credential.
public struct OAuth2Configuration: Sendable, Hashable {
    /// The token endpoint: https, or http on a loopback host.
    public var tokenURL: String
    /// The client identifier (not secret).
    public var clientID: String
    /// Where the client secret comes from.
    public var clientSecret: CredentialSource
    /// The scope to request, space separated.
    public var scope: String?
    /// When set, the refresh_token grant is used instead of client_credentials.
    public var refreshToken: CredentialSource?

    /// Creates OAuth settings.
    public init(
        tokenURL: String, clientID: String, clientSecret: CredentialSource, scope: String? = nil,
        refreshToken: CredentialSource? = nil
    ) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.scope = scope
        self.refreshToken = refreshToken
    }
}
