import NIOCore

/// Counts the bytes of one tunnel and records it once, when both directions are done.
final class TunnelAccounting {
    private var record: ExchangeRecord
    private let runtime: ProxyRuntime
    private var closedSides = 0

    init(record: ExchangeRecord, runtime: ProxyRuntime) {
        self.record = record
        self.runtime = runtime
        runtime.inFlight.add(1, ordering: .relaxed)  // a tunnel is in flight until both sides close
    }

    func countFromClient(_ bytes: Int) { record.bytesIn += bytes }
    func countFromServer(_ bytes: Int) { record.bytesOut += bytes }

    /// Called once by each side's handler when its channel closes.
    func sideClosed() {
        closedSides += 1
        if closedSides == 2 {
            runtime.record(record.event())
            runtime.inFlight.subtract(1, ordering: .relaxed)
        }
    }
}

@available(*, unavailable)
extension TunnelAccounting: Sendable {}

/// One half of a blind tunnel: what one channel reads, its partner writes.
///
/// Reads are only requested while the partner can take writes, so a slow side slows the fast one instead of
/// growing a buffer. End of input on one side becomes end of output on the other (half-closure), so protocols that
/// signal completion by closing their sending side still work.
final class TunnelGlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: TunnelGlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let accounting: TunnelAccounting
    private let isClientSide: Bool

    private init(accounting: TunnelAccounting, isClientSide: Bool) {
        self.accounting = accounting
        self.isClientSide = isClientSide
    }

    /// A connected pair: the first goes in the client's pipeline, the second in the upstream's.
    static func matchedPair(accounting: TunnelAccounting) -> (client: TunnelGlueHandler, server: TunnelGlueHandler) {
        let client = TunnelGlueHandler(accounting: accounting, isClientSide: true)
        let server = TunnelGlueHandler(accounting: accounting, isClientSide: false)
        client.partner = server
        server.partner = client
        return (client, server)
    }

    /// A blind tunnel mostly moves bulk data: let reads grow up to 256 KiB and up to 512 KiB wait for the
    /// partner, so a transfer costs a few large system calls rather than many 64 KiB ones. The read buffer shrinks
    /// back when traffic is small, and the write bound still stops a fast side from outrunning a slow one.
    static func tuneForBulkTransfer(_ channel: Channel) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(
            .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 2048, maximum: 262_144)
        )
        try options.setOption(.writeBufferWaterMark, value: .init(low: 262_144, high: 524_288))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if isClientSide {
            accounting.countFromClient(buffer.readableBytes)
        } else {
            accounting.countFromServer(buffer.readableBytes)
        }
        partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        accounting.sideClosed()
        partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: Called by the partner

    private func partnerWrite(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

@available(*, unavailable)
extension TunnelGlueHandler: Sendable {}
