import NIOHTTP1

/// Decides how a message forwarded by the proxy is delimited on the next hop.
///
/// The proxy's encoders run with automatic framing off, so these functions are the single place framing headers
/// are decided: a `Content-Length` is kept, a chunked body stays chunked, and bodies that cannot have one (HEAD
/// responses, 1xx, 204, 304) get no framing at all.
enum MessageFraming {
    /// Prepares the headers of a request going upstream. `headers` has had hop-by-hop headers removed already;
    /// `wasChunked` says whether the client sent the body chunked.
    static func frameRequest(_ headers: inout HTTPHeaders, wasChunked: Bool) {
        if wasChunked {
            headers.remove(name: "content-length")
            headers.add(name: "transfer-encoding", value: "chunked")
        }
    }

    /// Prepares the headers of a response going to the client. `headers` has had hop-by-hop headers removed.
    /// A client speaking HTTP/1.0 cannot read chunked bodies; without a length the body then ends at close. An
    /// HTTP/2 client needs no framing header at all (the stream's end ends the body) and must not get one.
    static func frameResponse(
        _ headers: inout HTTPHeaders, status: HTTPResponseStatus, requestMethod: HTTPMethod, clientSupportsChunked: Bool,
        clientIsHTTP2: Bool = false
    ) {
        if clientIsHTTP2 {
            if status.code == 204 || (100..<200).contains(status.code) { headers.remove(name: "content-length") }
            return
        }
        let code = status.code
        if requestMethod == .HEAD || (100..<200).contains(code) || code == 304 {
            // No body follows; a Content-Length only advertises the size a GET would return.
            return
        }
        if code == 204 {
            headers.remove(name: "content-length")
            return
        }
        if !headers.contains(name: "content-length") && clientSupportsChunked {
            // Chunked or close-delimited upstream: chunked towards the client keeps the connection reusable.
            headers.add(name: "transfer-encoding", value: "chunked")
        }
    }

    /// Whether a request head carries conflicting length information, a request-smuggling vector.
    static func hasConflictingLength(_ headers: HTTPHeaders) -> Bool {
        let lengths = headers[canonicalForm: "content-length"]
        if !headers[canonicalForm: "transfer-encoding"].isEmpty && !lengths.isEmpty { return true }
        return Set(lengths).count > 1
    }
}
