import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Turns an error from dialling or talking to an upstream into a status and a reason a user can act on.
enum UpstreamFailure {
    /// The status and one-line reason for `error` on the way to `destination`.
    static func describe(_ error: Error, destination: String) -> (status: HTTPResponseStatus, reason: String) {
        switch error {
        case let error as NIOSSLError:
            if case .handshakeFailed(let underlying) = error {
                return (.badGateway, "TLS handshake with \(destination) failed: \(Self.summary(of: underlying))")
            }
            return (.badGateway, "TLS error talking to \(destination): \(error)")
        case let error as NIOSSLExtraError:
            if String(describing: error).lowercased().contains("hostname") {
                return (.badGateway, "the certificate of \(destination) is not valid for that host name")
            }
            return (.badGateway, "TLS error talking to \(destination): \(error)")
        case let error as UpstreamTimeout:
            return (.gatewayTimeout, "\(destination) \(error)")
        case is ChannelError where "\(error)".contains("connectTimeout"):
            return (.gatewayTimeout, "timed out connecting to \(destination)")
        case let error as NIOConnectionError:
            let reasons = error.connectionErrors.map { "\($0.error)" } + (error.dnsAAAAError.map { ["\($0)"] } ?? [])
            if error.connectionErrors.isEmpty {
                return (.badGateway, "cannot resolve \(destination)")
            }
            let first = error.connectionErrors.first.map { Self.explain($0.error) } ?? reasons.first ?? "\(error)"
            return (.badGateway, "cannot connect to \(destination): \(first)")
        case let error as DestinationResolutionError:
            return (.badGateway, error.description)
        case let error as IOError:
            return (.badGateway, "connection to \(destination) failed: \(Self.explain(error))")
        default:
            return (.badGateway, "upstream \(destination) failed: \(Self.shorten("\(error)"))")
        }
    }

    /// `connection refused` rather than NIO's full description of the system call.
    private static func explain(_ error: Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        return shorten("\(error)")
    }

    private static func summary(of error: BoringSSLError) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "its certificate could not be verified (expired, self-signed, or not issued by a trusted CA)"
        }
        return shorten(text)
    }

    private static func shorten(_ text: String) -> String {
        text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}

