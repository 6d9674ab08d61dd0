import NIOCore
import NIOHTTP1

extension Preparation {
    /// Whether the request must wait for more of its body before it may go: the first `leakScanLimit` bytes are
    /// held and searched for credential values, so a leaked token cannot slip out ahead of the check.
    var awaitingLeakScan: Bool {
        leakScanLimit > 0 && !requestEnded && scanned.readableBytes < leakScanLimit
    }

    /// Keeps a copy of the part of `part` that falls within the scan window.
    mutating func holdForLeakScan(_ part: HTTPClientRequestPart) {
        guard case .body(.byteBuffer(let buffer)) = part else { return }
        let room = leakScanLimit - scanned.readableBytes
        guard room > 0, let slice = buffer.getSlice(at: buffer.readerIndex, length: min(room, buffer.readableBytes))
        else { return }
        var copy = slice
        scanned.writeBuffer(&copy)
    }

    /// Whether the request's body may be held for the scan: not when the client waits for `100 Continue` before
    /// sending it (the origin sends that, and only after it has the head).
    static func mayHoldBody(_ head: HTTPRequestHead) -> Bool {
        !head.headers[canonicalForm: "expect"].contains { $0.lowercased() == "100-continue" }
    }
}
