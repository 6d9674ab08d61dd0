import NIOCore
import NIOHTTP1

/// The HTTP/1.1 server handlers the proxy uses on client-facing connections.
///
/// Framing is set by ``MessageFraming`` rather than the encoder, and the decoder forwards bytes left after a
/// CONNECT head to whatever replaces it (a client may start its TLS handshake without waiting for the 200).
enum HTTPPipeline {
    /// The handlers inside an intercepted HTTP/1.1 connection: the codec plus pipelining assistance, so a
    /// pipelined request waits until the previous response is written.
    static func serverHandlers(limits: ProxyLimits) -> [ChannelHandler & RemovableChannelHandler] {
        proxyFacingHandlers(limits: limits) + [HTTPServerPipelineHandler()]
    }

    /// The handlers of a freshly accepted connection: HTTP parsing without pipelining assistance (the first
    /// request decides what the connection becomes).
    static func proxyFacingHandlers(limits: ProxyLimits) -> [ChannelHandler & RemovableChannelHandler] {
        var encoderConfiguration = HTTPResponseEncoder.Configuration()
        encoderConfiguration.automaticallySetFramingHeaders = false
        return [
            HTTPResponseEncoder(configuration: encoderConfiguration),
            ByteToMessageHandler(
                HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits.decoderLimits)
            ),
        ]
    }
}
