import NIOCore
import NIOHTTP1
import TokenProxyCore

/// A rule's `scrub_responses: true` applied to one response: the injected value is replaced by the credential's
/// placeholder in the response headers, body and trailers before the client sees them.
///
/// The body is scrubbed as it streams (see ``ResponseScrubber``), so its length may change: the response loses its
/// `Content-Length` and is re-framed (chunked for HTTP/1.1, the stream's end for HTTP/2). A compressed body could
/// hide the value, so the request asks for identity encoding, and a response that is encoded anyway is refused.
struct ResponseScrubbing {
    private var scrubber: ResponseScrubber

    /// Scrubbing for a request `rule` attached `material` to, or `nil` when the rule does not ask for it (or nothing
    /// was attached, or the material is not a single value).
    init?(rule: Rule?, material: InjectableMaterial?, attached: Bool) {
        guard let rule, rule.scrubResponses, attached, case .secret(let secret)? = material else { return nil }
        scrubber = ResponseScrubber(value: secret, replacement: Placeholders.defaultPlaceholder(for: rule.credential))
    }

    /// Asks the origin for an uncompressed response.
    static func requestIdentityEncoding(_ head: inout HTTPRequestHead) {
        head.headers.replaceAll(name: "accept-encoding", with: "identity")
    }

    /// Scrubs the header values of a response head. For a final response, drops `Content-Length` (the body may
    /// change length) and returns a refusal reason if the body is encoded.
    mutating func scrub(_ headers: inout HTTPHeaders, isFinal: Bool) -> String? {
        headers = scrubbed(headers)
        guard isFinal else { return nil }
        headers.remove(name: "content-length")
        let encodings = headers[canonicalForm: "content-encoding"].filter { $0.lowercased() != "identity" }
        if !encodings.isEmpty {
            return "the origin sent a \(encodings.joined(separator: ", "))-encoded response although the rule scrubs "
                + "responses and asked for identity encoding; it was not passed on"
        }
        return nil
    }

    /// Scrubs the next body chunk.
    mutating func scrub(_ buffer: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let bytes = buffer.withUnsafeReadableBytes { scrubber.scrub($0) }
        return allocator.buffer(bytes: bytes)
    }

    /// The held-back end of the body, and the trailers scrubbed.
    mutating func finish(trailers: HTTPHeaders?, allocator: ByteBufferAllocator) -> (ByteBuffer, HTTPHeaders?) {
        let tail = allocator.buffer(bytes: scrubber.finish())
        return (tail, trailers.map { scrubbed($0) })
    }

    private mutating func scrubbed(_ headers: HTTPHeaders) -> HTTPHeaders {
        var result = HTTPHeaders()
        for header in headers {
            result.add(name: header.name, value: scrubber.scrub(text: header.value))
        }
        return result
    }
}
