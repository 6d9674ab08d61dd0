import NIOCore
import NIOHTTP1
import TokenProxyCore

extension LeakDetector {
    /// A configured value found in a client's request.
    struct Leak {
        /// The credential whose value it is.
        var credential: String
        /// Where it was: `the request URL`, `the Authorization header`, `the request body`.
        var place: String

        /// The refusal reason (names the credential and where, never the value).
        func reason(destination: String) -> String {
            "leak: the request carried the value of credential '\(credential)' in \(place); "
                + "it was not forwarded to \(destination)"
        }
    }

    /// Searches the request target and every header value of a client's request head.
    func leak(in head: HTTPRequestHead) -> Leak? {
        guard !isEmpty else { return nil }
        if let credential = credential(in: head.uri) { return Leak(credential: credential, place: "the request URL") }
        for header in head.headers {
            if let credential = credential(in: header.value) {
                return Leak(credential: credential, place: "the \(header.name) header")
            }
        }
        return nil
    }

    /// Searches the held start of a request body.
    func leak(in body: ByteBuffer) -> Leak? {
        guard !isEmpty else { return nil }
        let found = body.withUnsafeReadableBytes { credential(in: $0) }
        return found.map { Leak(credential: $0, place: "the request body") }
    }
}
