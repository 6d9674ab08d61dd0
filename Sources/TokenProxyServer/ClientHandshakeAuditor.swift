import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import TokenProxyCore

/// Records a client whose TLS handshake with the proxy's TLS listener failed (an expired, untrusted or otherwise
/// rejected client certificate), then gets out of the way once a handshake completes.
///
/// Such a client never gets to send a request, so there is no HTTP answer to give: the TLS alert is the refusal,
/// and this record (decision `denied`, status 0) is how the audit log learns of it.
final class ClientHandshakeAuditor: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let runtime: ProxyRuntime
    private var recorded = false

    init(runtime: ProxyRuntime) {
        self.runtime = runtime
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !recorded {
            recorded = true
            let address = context.channel.remoteAddress
            var record = ExchangeRecord(
                client: "\(address?.ipAddress ?? "?"):\(address?.port ?? 0)", method: .RAW(value: "TLS"), host: "",
                port: context.channel.localAddress?.port ?? 0, path: nil
            )
            record.decision = .denied
            record.reason = "TLS handshake with the client failed: " + String(String(describing: error).prefix(300))
            runtime.record(record.event())
        }
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ClientHandshakeAuditor: Sendable {}
