import ArgumentParser
import Foundation
import NIOHTTP1
import TokenProxyCore
import TokenProxyServer

/// How a command finds the running proxy's admin endpoint: `--admin HOST:PORT`, else the configuration's
/// `admin.listen`.
struct AdminOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The running proxy's admin endpoint (default: admin.listen).", valueName: "HOST:PORT")
    )
    var admin: String?

    @OptionGroup var configuration: ConfigurationOptions

    /// The admin endpoint's address.
    func address() throws -> HostPort {
        if let admin {
            do throws(ConfigurationError) {
                return try ConfigurationLoader.parseListen(admin, at: SourceLocation(file: "--admin"))
            } catch {
                throw CLIFailure(error.description)
            }
        }
        let loaded = try configuration.load()
        guard let address = loaded.adminListen else {
            throw CLIFailure(
                "no admin endpoint to talk to: pass --admin HOST:PORT, or set admin.listen in "
                    + "\(loaded.file ?? "the configuration (none found; pass --config FILE)")"
            )
        }
        return address
    }

    /// Sends `method path` to the admin endpoint; an answer other than 2xx becomes the error (exit 1), its lines
    /// printed as `tokenproxy: error: …`.
    func send(_ method: HTTPMethod, _ path: String) async throws -> String {
        let answer = try await AdminClient.send(method, path, to: try address())
        guard (200..<300).contains(answer.status) else {
            let lines = answer.body.split(separator: "\n").map(String.init)
            for line in lines.dropLast() { printError("tokenproxy: error: \(line)") }
            throw CLIFailure(lines.last ?? "the admin endpoint answered \(answer.status)")
        }
        return answer.body
    }

    /// `path` with `items` as its query, percent-encoded.
    static func path(_ path: String, _ items: [URLQueryItem]) -> String {
        var components = URLComponents()
        components.path = path
        components.queryItems = items.isEmpty ? nil : items
        return components.string ?? path
    }
}
