import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TokenProxyCore

/// Talks to a running proxy's admin endpoint, for `tokenproxy reload`, `revoke`, `unrevoke` and `status`.
public enum AdminClient {
    /// An answer from the admin endpoint.
    public struct Answer: Sendable {
        /// The HTTP status.
        public var status: Int
        /// The body, as text (at most 1 MiB is read).
        public var body: String
    }

    /// Why the admin endpoint could not be asked.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The most of an answer that is read.
    static let bodyLimit = 1 << 20

    /// Sends `method path` (path with its query) to the admin endpoint at `address`.
    public static func send(
        _ method: HTTPMethod, _ path: String, to address: HostPort, timeout: Duration = .seconds(60)
    ) async throws(Failure) -> Answer {
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        var request = HTTPClientRequest(url: "http://\(host):\(address.port)\(path)")
        request.method = method
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.proxy = nil
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let outcome: Result<Answer, any Error>
        do {
            let deadline = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
            let response = try await client.execute(request, timeout: deadline)
            let body = try await response.body.collect(upTo: bodyLimit)
            outcome = .success(Answer(status: Int(response.status.code), body: String(buffer: body)))
        } catch {
            outcome = .failure(error)
        }
        try? await client.shutdown()
        switch outcome {
        case .success(let answer):
            return answer
        case .failure(let error):
            throw Failure(
                description: "cannot reach the admin endpoint at \(address) (\(error)); is the proxy running with "
                    + "admin.listen or --admin-listen, and is that the address?"
            )
        }
    }
}
