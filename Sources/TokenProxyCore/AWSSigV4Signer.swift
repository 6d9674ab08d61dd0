import Crypto
import Foundation

/// AWS credentials: an access key ID, its secret access key and, for temporary credentials, a session token.
///
/// Its `description`, `debugDescription` and reflection show the access key ID (an identifier AWS does not treat
/// as secret) and `<redacted>` for the rest, so credentials that reach a log or a test failure show nothing.
public struct AWSCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The access key ID, e.g. `AKIA…` (long-term) or `ASIA…` (temporary).
    public var accessKeyID: String
    /// The secret access key, which only ever enters the signing key derivation.
    public var secretAccessKey: Secret
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    public var sessionToken: Secret?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Whether the access key ID or the session token holds bytes that must never go into an HTTP header.
    ///
    /// Both are written into headers verbatim, so a caller should refuse credentials for which this is `true`
    /// rather than sign with them. (The secret access key never reaches a header, only an HMAC key.)
    public var containsHeaderUnsafeBytes: Bool {
        Secret(accessKeyID).containsHeaderUnsafeBytes || (sessionToken?.containsHeaderUnsafeBytes ?? false)
    }

    public var description: String {
        let token = sessionToken == nil ? "nil" : "<redacted>"
        return "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>, sessionToken: \(token))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyID": accessKeyID, "secretAccessKey": "<redacted>",
                "sessionToken": sessionToken == nil ? "nil" : "<redacted>",
            ],
            displayStyle: .struct
        )
    }
}

/// Signs requests with AWS Signature Version 4, header-based (`Authorization: AWS4-HMAC-SHA256 …`).
///
/// The proxy re-signs a client's request with the real credentials: the client signed it (or not) with a
/// placeholder, so its `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token` are replaced. The caller:
///
/// 1. removes every header in ``SignedHeaders/headersToRemove`` (case-insensitively),
/// 2. adds every header in ``SignedHeaders/headersToSet``,
/// 3. forwards the request with its method, path, query and remaining headers unchanged.
///
/// The signature then covers exactly that header set, except the headers a proxy must not forward anyway
/// (hop-by-hop, `Proxy-*`, those the `Connection` header names) and `Expect`, `User-Agent` and `X-Amzn-Trace-Id`,
/// which are left unsigned, as the AWS SDKs leave them, because intermediaries change them. Every other header the
/// caller passes is signed, so a header added or changed after signing (by the caller or anything on the way)
/// breaks the signature, and one the caller removes must not be passed in. The request must carry a `Host` header
/// (pass an HTTP/2 `:authority` as `host`): AWS requires it to be signed.
public struct AWSSigV4Signer: Sendable {
    /// How the request path becomes the canonical URI.
    public enum URIEncodingMode: Sendable, Hashable {
        /// S3: the path is signed as sent (each segment encoded exactly once), never normalised.
        case s3
        /// Every other service: the path is normalised (`.`, `..` and empty segments removed) and each segment
        /// is encoded once more than on the wire.
        case standard
    }

    /// The payload hash that leaves the body out of the signature (S3 only accepts it over TLS).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The hex SHA-256 of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The region in the credential scope, e.g. `us-east-1`.
    public var region: String
    /// The signing name of the service in the credential scope, e.g. `s3`, `sts`, `execute-api`.
    public var service: String

    /// Creates a signer for one region and service.
    public init(region: String, service: String) {
        self.region = region
        self.service = service
    }

    /// The hex SHA-256 of `body`, the value to pass as `payloadHash` when the body is signed.
    public static func payloadHash(of body: some Sequence<UInt8>) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(body))
        return Hex.lowercase(hasher.finalize())
    }

    /// Signs a request for header-based SigV4 (an `Authorization` header).
    ///
    /// - Parameters:
    ///   - method: The request method as sent, e.g. `GET`.
    ///   - path: The path as sent on the wire, without the query, e.g. `/foo%20bar`.
    ///   - query: The raw query string without `?` (may be empty). Already-encoded input is not encoded twice;
    ///     `+` is taken as a literal plus sign, not a space.
    ///   - headers: Every request header the request will be forwarded with, as (name, value) pairs in wire
    ///     order; repeated names are signed as one header with the values joined by `,` in that order.
    ///   - payloadHash: The hex SHA-256 of the body, or a literal such as `UNSIGNED-PAYLOAD` or
    ///     `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, used verbatim. (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD` is accepted,
    ///     but its chunks carry signatures chained from this one, which this signer does not recompute.)
    ///   - credentials: The credentials to sign with.
    ///   - date: The signing time; AWS rejects requests more than about 15 minutes from its clock.
    ///   - uriEncodingMode: How the path is canonicalised; `nil` means `.s3` for service `s3`, else `.standard`.
    ///   - includeContentSHA256Header: Whether to set `X-Amz-Content-Sha256` to `payloadHash` (and sign it);
    ///     `nil` means only for service `s3`, which requires it. When `false`, a client-sent
    ///     `X-Amz-Content-Sha256` is kept and signed like any other header.
    /// - Returns: The headers to remove and to set, and the intermediate strings for debugging.
    public func sign(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        payloadHash: String,
        credentials: AWSCredentials,
        date: Date,
        uriEncodingMode: URIEncodingMode? = nil,
        includeContentSHA256Header: Bool? = nil
    ) -> SignedHeaders {
        let mode = uriEncodingMode ?? (service == "s3" ? .s3 : .standard)
        let setsContentSHA256 = includeContentSHA256Header ?? (service == "s3")
        let amzDate = SigV4Canonical.amzDate(date)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"

        // A client-sent security token is removed even when these credentials have none: it belongs to the
        // placeholder credentials the client signed with, and AWS would reject it alongside ours.
        var headersToRemove = ["Authorization", "X-Amz-Date", "X-Amz-Security-Token"]
        if setsContentSHA256 { headersToRemove.append("X-Amz-Content-Sha256") }
        let removed = Set(headersToRemove.map(SigV4Canonical.asciiLowercased))

        // Headers the `Connection` header names are hop-by-hop too (RFC 9110 §7.6.1): the proxy drops them.
        let nominated = Set(
            headers.filter { SigV4Canonical.asciiLowercased($0.name) == "connection" }
                .flatMap { $0.value.split(separator: ",") }
                .map { SigV4Canonical.asciiLowercased(SigV4Canonical.canonicalHeaderValue(String($0))) }
        )

        var valuesByName: [String: [String]] = [:]
        for header in headers {
            let name = SigV4Canonical.asciiLowercased(header.name)
            guard !removed.contains(name), !nominated.contains(name), !SigV4Canonical.isUnsignable(name) else {
                continue
            }
            valuesByName[name, default: []].append(SigV4Canonical.canonicalHeaderValue(header.value))
        }

        var headersToSet: [(name: String, value: String)] = [("X-Amz-Date", amzDate)]
        if setsContentSHA256 { headersToSet.append(("X-Amz-Content-Sha256", payloadHash)) }
        let token = credentials.sessionToken?.withUnsafeString { $0 }
        if let token { headersToSet.append(("X-Amz-Security-Token", token)) }
        for header in headersToSet {
            let name = SigV4Canonical.asciiLowercased(header.name)
            valuesByName[name] = [SigV4Canonical.canonicalHeaderValue(header.value)]
        }

        let names = valuesByName.keys.sorted(by: SigV4Canonical.bytewiseLess)
        let signedHeaderNames = names.joined(separator: ";")
        let canonicalURI = SigV4Canonical.canonicalURI(path: path, mode: mode)
        let canonicalQuery = SigV4Canonical.canonicalQuery(query)

        func canonicalRequest(redactingToken: Bool) -> String {
            let canonicalHeaders = names.map { name in
                let value = redactingToken && name == "x-amz-security-token"
                    ? "<redacted>" : valuesByName[name, default: []].joined(separator: ",")
                return "\(name):\(value)\n"
            }
            .joined()
            return [method, canonicalURI, canonicalQuery, canonicalHeaders, signedHeaderNames, payloadHash]
                .joined(separator: "\n")
        }

        let canonical = canonicalRequest(redactingToken: false)
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, Hex.lowercase(SHA256.hash(data: Array(canonical.utf8))),
        ]
        .joined(separator: "\n")
        let signature = Hex.lowercase(
            HMAC<SHA256>.authenticationCode(
                for: Array(stringToSign.utf8),
                using: signingKey(secret: credentials.secretAccessKey, dateStamp: String(amzDate.prefix(8)))
            )
        )
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaderNames), "
            + "Signature=\(signature)"
        headersToSet.insert(("Authorization", authorization), at: 0)

        return SignedHeaders(
            headersToRemove: headersToRemove,
            headersToSet: headersToSet,
            canonicalRequest: token == nil ? canonical : canonicalRequest(redactingToken: true),
            stringToSign: stringToSign,
            signature: signature
        )
    }

    /// The signing key: HMAC-SHA256 chained over the date, region, service and `aws4_request`, keyed first
    /// with `"AWS4" + secret`.
    private func signingKey(secret: Secret, dateStamp: String) -> SymmetricKey {
        var seed = Array("AWS4".utf8)
        secret.withUnsafeBytes { seed.append(contentsOf: $0) }
        var key = SymmetricKey(data: seed)
        // Best effort only (Swift may have copied the array), but no reason to leave the secret lying around.
        for index in seed.indices { seed[index] = 0 }
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }
}

/// What ``AWSSigV4Signer`` produced for one request: the header changes to apply, and the intermediate strings
/// for debugging a mismatch.
///
/// `headersToSet` holds the session token in clear (it has to go on the wire), so it must not be logged as such;
/// this type's own `description`, `debugDescription` and reflection show `<redacted>` in its place.
public struct SignedHeaders: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Header names to remove (case-insensitively) before adding ``headersToSet``. Always every header the signer
    /// manages, whether or not the client sent it; removing an absent header does nothing.
    public var headersToRemove: [String]
    /// Headers to add: `Authorization`, `X-Amz-Date`, and `X-Amz-Content-Sha256` and `X-Amz-Security-Token` when
    /// they apply. Contains the session token.
    public var headersToSet: [(name: String, value: String)]
    /// The canonical request that was signed, with the session token's value replaced by `<redacted>`, as AWS
    /// echoes in a `SignatureDoesNotMatch` error.
    public var canonicalRequest: String
    /// The string to sign (it holds only a hash of the canonical request, so nothing secret).
    public var stringToSign: String
    /// The signature, lowercase hex.
    public var signature: String

    /// Creates signed headers.
    public init(
        headersToRemove: [String],
        headersToSet: [(name: String, value: String)],
        canonicalRequest: String,
        stringToSign: String,
        signature: String
    ) {
        self.headersToRemove = headersToRemove
        self.headersToSet = headersToSet
        self.canonicalRequest = canonicalRequest
        self.stringToSign = stringToSign
        self.signature = signature
    }

    /// ``headersToSet`` as `name: value` lines with the session token redacted.
    private var redactedHeadersToSet: [String] {
        headersToSet.map { header in
            SigV4Canonical.asciiLowercased(header.name) == "x-amz-security-token"
                ? "\(header.name): <redacted>" : "\(header.name): \(header.value)"
        }
    }

    public var description: String {
        "SignedHeaders(headersToRemove: \(headersToRemove), headersToSet: \(redactedHeadersToSet), "
            + "signature: \(signature))"
    }

    public var debugDescription: String {
        "SignedHeaders(headersToRemove: \(headersToRemove), headersToSet: \(redactedHeadersToSet), "
            + "canonicalRequest: \(canonicalRequest.debugDescription), stringToSign: \(stringToSign.debugDescription), "
            + "signature: \(signature))"
    }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "headersToRemove": headersToRemove, "headersToSet": redactedHeadersToSet,
                "canonicalRequest": canonicalRequest, "stringToSign": stringToSign, "signature": signature,
            ],
            displayStyle: .struct
        )
    }
}
