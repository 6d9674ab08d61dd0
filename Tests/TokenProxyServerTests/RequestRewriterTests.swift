import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TokenProxyCore

@testable import TokenProxyServer

@Suite("Request rewriting")
struct RequestRewriterTests {
    let secret = Secret("tpcanary-value")
    let placeholders = Placeholders(credentials: [("api", nil), ("other", nil)])

    func rule(_ injection: Injection, bodyLimit: Int? = nil) throws -> Rule {
        Rule(
            index: 0, host: try HostPattern("api.example.com"), credential: "api", injection: injection,
            bodyLimit: bodyLimit, location: SourceLocation(file: "test.yaml", line: 1)
        )
    }

    func head(_ uri: String = "/v1/x", _ headers: [(String, String)] = []) -> HTTPRequestHead {
        HTTPRequestHead(
            version: .http1_1, method: .POST, uri: uri,
            headers: HTTPHeaders([("Host", "api.example.com")] + headers)
        )
    }

    @Test("a header template replaces every client value")
    func header() throws {
        var request = head("/v1/x", [("x-api-key", "client"), ("X-API-KEY", "client2")])
        var body: ByteBuffer?
        let outcome = RequestRewriter.apply(
            try rule(.header(name: "X-Api-Key", template: InjectionTemplate("{{secret}}"))),
            material: .secret(secret), placeholders: placeholders, head: &request, body: &body
        )
        #expect(outcome.attached)
        #expect(request.headers["x-api-key"] == ["tpcanary-value"])
    }

    @Test("basic auth is base64 of username:password with the secret in place")
    func basic() throws {
        var request = head()
        var body: ByteBuffer?
        _ = RequestRewriter.apply(
            try rule(.basic(username: InjectionTemplate("x-access-token", secretRequired: false),
                             password: InjectionTemplate("{{secret}}"))),
            material: .secret(secret), placeholders: placeholders, head: &request, body: &body
        )
        #expect(request.headers["authorization"] == ["Basic " + Data("x-access-token:tpcanary-value".utf8).base64EncodedString()])
    }

    @Test("the query form sets the parameter and keeps the others")
    func query() throws {
        var request = head("/v1/x?a=1&api_key=client")
        var body: ByteBuffer?
        _ = RequestRewriter.apply(
            try rule(.query(name: "api_key")), material: .secret(secret), placeholders: placeholders,
            head: &request, body: &body
        )
        #expect(request.uri == "/v1/x?a=1&api_key=tpcanary-value")
    }

    @Test("placeholder-only rules attach only when a placeholder was sent, and fix the body length")
    func placeholderOnly() throws {
        var plain = head()
        var noBody: ByteBuffer?
        #expect(!RequestRewriter.apply(
            try rule(.placeholder), material: .secret(secret), placeholders: placeholders, head: &plain, body: &noBody
        ).attached)

        var request = head("/v1/x", [("content-length", "24")])
        var body: ByteBuffer? = ByteBuffer(string: "t={{tokenproxy:api}}&x=1")
        #expect(RequestRewriter.apply(
            try rule(.placeholder, bodyLimit: 1024), material: .secret(secret), placeholders: placeholders,
            head: &request, body: &body
        ).attached)
        #expect(body.map { String(buffer: $0) } == "t=tpcanary-value&x=1")
        #expect(request.headers["content-length"] == ["20"])
    }

    @Test("AWS signing replaces the client's signature, date and token")
    func awsSigning() throws {
        var request = head("/bucket/key", [
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIADUMMY/20200101/us-east-1/s3/aws4_request, x"),
            ("X-Amz-Date", "20200101T000000Z"), ("X-Amz-Security-Token", "client-token"),
            ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"), ("Content-Length", "3"),
        ])
        var body: ByteBuffer?
        let credentials = AWSCredentials(accessKeyID: "AKIAREAL", secretAccessKey: Secret("tpcanary-secret"))
        let fixed = Date(timeIntervalSince1970: 1_700_000_000)
        _ = RequestRewriter.apply(
            try rule(.awsSigV4(region: "us-east-1", service: "s3")), material: .aws(credentials),
            placeholders: placeholders, head: &request, body: &body, now: fixed
        )
        let authorization = try #require(request.headers["authorization"].first)
        #expect(request.headers["authorization"].count == 1)
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIAREAL/20231114/us-east-1/s3/aws4_request"))
        #expect(request.headers["x-amz-date"] == ["20231114T221320Z"])
        #expect(request.headers["x-amz-security-token"].isEmpty)
        #expect(request.headers["x-amz-content-sha256"] == ["UNSIGNED-PAYLOAD"])
        #expect(!authorization.contains("tpcanary"))
    }

    @Test("non-S3 AWS services need the body buffered to hash it; S3 and bodiless requests do not")
    func bodyBuffering() throws {
        let limits = ProxyLimits()
        let withBody = head("/", [("content-length", "10")])
        #expect(RequestRewriter.bodyBufferLimit(
            for: try rule(.awsSigV4(region: "us-east-1", service: "sts")), head: withBody, limits: limits
        ) == limits.maxSignedBodyBytes)
        #expect(RequestRewriter.bodyBufferLimit(
            for: try rule(.awsSigV4(region: "us-east-1", service: "s3")), head: withBody, limits: limits
        ) == nil)
        #expect(RequestRewriter.bodyBufferLimit(
            for: try rule(.awsSigV4(region: "us-east-1", service: "sts")), head: head(), limits: limits
        ) == nil)
    }
}
