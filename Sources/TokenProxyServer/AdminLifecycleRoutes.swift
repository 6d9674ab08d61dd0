import Foundation
import NIOCore
import NIOHTTP1
import TokenProxyCore

/// The admin endpoint's operator actions, all `POST`, answered with plain text lines:
///
/// - `POST /reload`: 200 with what changed, or 422 with every `file:line: reason` (the old configuration stays).
/// - `POST /revoke?credential=NAME[&credential=NAME…][&reason=TEXT]`, or `?all=1`: 200, or 404 for an unknown name.
/// - `POST /unrevoke?credential=NAME…` or `?all=1`: 200, or 404 for a credential that is not revoked.
enum AdminLifecycleRoutes {
    /// A response: status, content type, body.
    typealias Response = (HTTPResponseStatus, String, [UInt8])

    private static let text = "text/plain; charset=utf-8"

    /// Why the caller of an admin request is refused, if it is: a `Host` that is not loopback (a page reaching the
    /// port through DNS rebinding), or any `Origin` (every page's request carries one).
    static func callerRefusal(_ head: HTTPRequestHead) -> Response? {
        guard head.headers["origin"].isEmpty else {
            return (.forbidden, text, Array("requests from web pages are refused\n".utf8))
        }
        guard let host = head.headers["host"].first, let parsed = HostPort(parsing: host, defaultPort: 80),
            parsed.isLoopback
        else {
            return (.forbidden, text, Array("the Host header must name a loopback address\n".utf8))
        }
        return nil
    }

    /// Answers a `POST`, completing on `eventLoop` once the controller is done.
    static func respond(
        to head: HTTPRequestHead, controller: LifecycleController?, on eventLoop: EventLoop
    ) -> EventLoopFuture<Response> {
        if let refusal = callerRefusal(head) { return eventLoop.makeSucceededFuture(refusal) }
        guard let controller else {
            return eventLoop.makeSucceededFuture(lines(.notFound, ["this proxy has no lifecycle operations"]))
        }
        let components = URLComponents(string: head.uri)
        let path = components?.path ?? head.uri
        let items = components?.queryItems ?? []
        let names = items.filter { $0.name == "credential" }.compactMap(\.value)
        let all = items.contains { $0.name == "all" && ($0.value == "1" || $0.value == "true") }
        let reason = items.first { $0.name == "reason" }?.value.flatMap { $0.isEmpty ? nil : $0 }
        let promise = eventLoop.makePromise(of: Response.self)
        switch path {
        case "/reload":
            promise.completeWithTask {
                let outcome = await controller.reload(trigger: "admin")
                return lines(outcome.applied ? .ok : .unprocessableEntity, outcome.lines)
            }
        case "/revoke", "/unrevoke":
            guard all != !names.isEmpty else {
                return eventLoop.makeSucceededFuture(
                    lines(.badRequest, ["name one or more credentials (?credential=NAME) or all of them (?all=1)"])
                )
            }
            if let reason, let refusal = reasonRefusal(reason) {
                return eventLoop.makeSucceededFuture(lines(.badRequest, [refusal]))
            }
            let revoking = path == "/revoke"
            promise.completeWithTask {
                do throws(LifecycleController.Failure) {
                    let done = revoking
                        ? try await controller.revoke(all ? nil : names, reason: reason)
                        : try await controller.unrevoke(all ? nil : names)
                    return lines(.ok, done)
                } catch {
                    return lines(error.isNotFound ? .notFound : .badRequest, [error.description])
                }
            }
        default:
            return eventLoop.makeSucceededFuture(lines(.notFound, ["not found: POST /reload, /revoke or /unrevoke"]))
        }
        return promise.futureResult
    }

    /// Why `reason` cannot be recorded: it goes into audit records and log lines, so it is short, printable text.
    private static func reasonRefusal(_ reason: String) -> String? {
        if reason.count > 200 { return "the reason is longer than 200 characters" }
        if reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "the reason contains a control character"
        }
        return nil
    }

    private static func lines(_ status: HTTPResponseStatus, _ lines: [String]) -> Response {
        (status, text, Array((lines.joined(separator: "\n") + "\n").utf8))
    }
}
