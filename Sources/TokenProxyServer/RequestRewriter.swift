import Foundation
import NIOCore
import NIOHTTP1
import TokenProxyCore

/// Attaches a rule's credential to a request that is otherwise ready to go upstream.
///
/// Pure apart from the clock used by AWS signing: the head has had hop-by-hop headers removed and framing set,
/// and `body` is present only when the rule asked for the body to be buffered.
enum RequestRewriter {
    /// What was done, for the usage record.
    struct Outcome {
        /// Whether the credential went into the request (a placeholder-only rule with no placeholder attaches nothing).
        var attached: Bool
    }

    /// Applies `rule` with `material` to `head` (and `body`, if buffered).
    static func apply(
        _ rule: Rule,
        material: InjectableMaterial,
        placeholders: Placeholders,
        head: inout HTTPRequestHead,
        body: inout ByteBuffer?,
        now: Date = Date()
    ) -> Outcome {
        switch material {
        case .secret(let secret):
            let swapped = swapPlaceholders(of: rule.credential, with: secret, placeholders: placeholders, in: &head, body: &body)
            switch rule.injection {
            case .header(let name, let template):
                head.headers.replaceAll(name: name, with: template.render(secret))
                return Outcome(attached: true)
            case .basic(let username, let password):
                let pair = username.render(secret) + ":" + password.render(secret)
                head.headers.replaceAll(name: "Authorization", with: "Basic " + Data(pair.utf8).base64EncodedString())
                return Outcome(attached: true)
            case .query(let name):
                let (path, query) = split(head.uri)
                let value = secret.withUnsafeString { $0 }
                head.uri = path + "?" + QueryEncoding.replacingParameter(name, with: value, in: query ?? "")
                return Outcome(attached: true)
            case .placeholder:
                return Outcome(attached: swapped)
            case .awsSigV4:
                return Outcome(attached: false)  // refused at load time: AWS signing needs AWS keys
            }
        case .aws(let credentials):
            guard case .awsSigV4(let region, let service) = rule.injection else { return Outcome(attached: false) }
            sign(&head, body: body, credentials: credentials, region: region, service: service, now: now)
            return Outcome(attached: true)
        }
    }

    /// Whether `rule` needs the whole request body before the request can be sent, and the most it may hold.
    static func bodyBufferLimit(for rule: Rule, head: HTTPRequestHead, limits: ProxyLimits) -> Int? {
        if let limit = rule.bodyLimit { return limit }
        if case .awsSigV4(_, let service) = rule.injection, service != "s3",
            head.headers["x-amz-content-sha256"].isEmpty, hasBody(head)
        {
            // Services other than S3 sign the payload itself, so its hash must be known before the head is sent.
            return limits.maxSignedBodyBytes
        }
        return nil
    }

    /// Whether a request head announces a body.
    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.isChunkedTransferEncoding { return true }
        if let length = head.headers["content-length"].first, let value = Int(length) { return value > 0 }
        return false
    }

    /// The credential names whose placeholders occur in the head (header values and the request target).
    static func placeholdersMentioned(in head: HTTPRequestHead, placeholders: Placeholders) -> Set<String> {
        guard !placeholders.isEmpty else { return [] }
        var found = placeholders.credentialsMentioned(in: head.uri)
        for header in head.headers {
            found.formUnion(placeholders.credentialsMentioned(in: header.value))
        }
        return found
    }

    // MARK: Forms

    private static func swapPlaceholders(
        of credential: String, with secret: Secret, placeholders: Placeholders, in head: inout HTTPRequestHead,
        body: inout ByteBuffer?
    ) -> Bool {
        guard !placeholders.isEmpty else { return false }
        var swapped = false
        // Positions whose value changed; the usual request has none and keeps its headers as read.
        var changes: [Int: String] = [:]
        for (position, header) in head.headers.enumerated() {
            let value = placeholders.replacingInHeader(header.value, credential: credential, with: secret)
            if value != header.value { changes[position] = value }
        }
        if !changes.isEmpty {
            swapped = true
            head.headers = HTTPHeaders(
                head.headers.enumerated().map { position, header in (header.name, changes[position] ?? header.value) }
            )
        }
        let (path, query) = split(head.uri)
        if let query {
            let replaced = placeholders.replacingInQuery(query, credential: credential, with: secret)
            if replaced != query {
                swapped = true
                head.uri = path + "?" + replaced
            }
        }
        if let buffer = body {
            let bytes = Array(buffer.readableBytesView)
            let replaced = placeholders.replacing(inBytes: bytes, credential: credential, with: secret)
            if replaced != bytes {
                swapped = true
                body = ByteBuffer(bytes: replaced)
                if !head.headers.isChunkedTransferEncoding {
                    head.headers.replaceAll(name: "content-length", with: String(replaced.count))
                }
            }
        }
        return swapped
    }

    private static func sign(
        _ head: inout HTTPRequestHead, body: ByteBuffer?, credentials: AWSCredentials, region: String, service: String,
        now: Date
    ) {
        let payloadHash: String
        if let clientHash = head.headers["x-amz-content-sha256"].first {
            // The client hashed (or declared unsigned / streaming) the payload it is sending: keep that claim, the
            // server checks it against the bytes.
            payloadHash = clientHash
        } else if let body {
            payloadHash = AWSSigV4Signer.payloadHash(of: body.readableBytesView)
        } else if hasBody(head) {
            payloadHash = AWSSigV4Signer.unsignedPayload
        } else {
            payloadHash = AWSSigV4Signer.emptyPayloadHash
        }
        let (path, query) = split(head.uri)
        let signer = AWSSigV4Signer(region: region, service: service)
        var headers = head.headers
        // Remove what the client signed with before computing ours, so the signed set is exactly what is sent.
        let removable = ["authorization", "x-amz-date", "x-amz-security-token"]
        for name in removable { headers.remove(name: name) }
        let signed = signer.sign(
            method: head.method.rawValue, path: path, query: query ?? "",
            headers: headers.map { ($0.name, $0.value) }, payloadHash: payloadHash, credentials: credentials, date: now
        )
        for name in signed.headersToRemove { headers.remove(name: name) }
        for (name, value) in signed.headersToSet { headers.add(name: name, value: value) }
        head.headers = headers
    }

    /// `/path?query` → (`/path`, `query`).
    static func split(_ uri: String) -> (path: String, query: String?) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, nil) }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }
}
