/// `listen_tls:`: a second proxy listener that speaks TLS to clients, so they can authenticate with a client
/// certificate (mTLS) and their proxy authentication cannot be read on the network.
public struct ListenTLSConfiguration: Sendable, Hashable {
    /// The address to bind.
    public var listen: HostPort
    /// The PEM certificate chain the listener presents.
    public var certificatePath: String
    /// The PEM private key of that certificate.
    public var privateKeyPath: String
    /// The PEM CA certificates client certificates must chain to; `nil` asks for no client certificate.
    public var clientCAPath: String?
    /// Where `listen_tls:` is written, for messages.
    public var location: SourceLocation

    /// Creates a TLS listener setting.
    public init(
        listen: HostPort, certificatePath: String, privateKeyPath: String, clientCAPath: String?,
        location: SourceLocation
    ) {
        self.listen = listen
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
        self.location = location
    }
}
