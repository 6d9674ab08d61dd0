import Foundation

/// The HTTP version a client asks for inside an intercepted connection (what it offers the proxy in ALPN).
enum ClientProtocol: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `curl --http1.1`: ALPN `http/1.1` only.
    case http1 = "http1-client"
    /// `curl --http2`: ALPN `h2` first.
    case h2 = "h2-client"

    /// curl's option selecting the version.
    var curlOption: String {
        switch self {
        case .http1: "--http1.1"
        case .h2: "--http2"
        }
    }

    /// What curl's `%{http_version}` reports when the version was negotiated.
    var curlVersion: String {
        switch self {
        case .http1: "1.1"
        case .h2: "2"
        }
    }

    var description: String { rawValue }
}

extension Clients {
    /// One transfer of ``measuredCurl(_:protocol:arguments:maxTime:timeout:feed:)``, from its `--write-out` line.
    struct MeasuredTransfer: Sendable, CustomStringConvertible {
        /// The final response's status, `0` if there was none.
        let httpCode: Int
        /// The status of the proxy's answer to CONNECT, `0` if there was none (or the connection was reused).
        let httpConnect: Int
        /// The HTTP version of the response: `1.1`, `2`, or `0` if there was none.
        let httpVersion: String
        /// New connections this transfer made (`0` when it reused one).
        let newConnections: Int
        /// Response body bytes received.
        let sizeDownload: Int
        /// Request body bytes sent.
        let sizeUpload: Int
        /// The transfer's total time in seconds.
        let timeTotal: Double
        /// curl's exit code for this transfer.
        let exitCode: Int

        var description: String {
            "transfer(code: \(httpCode), connect: \(httpConnect), version: \(httpVersion), connects: "
                + "\(newConnections), down: \(sizeDownload), up: \(sizeUpload), time: \(timeTotal), exit: \(exitCode))"
        }
    }

    /// A ``measuredCurl(_:protocol:arguments:maxTime:timeout:feed:)`` run: the transfers, the response bodies, and
    /// every response header block curl saw (interim responses and trailers included) from `--dump-header`.
    struct MeasuredCurlResult: Sendable, CustomStringConvertible {
        let run: Run
        let transfers: [MeasuredTransfer]
        /// Standard output without the write-out lines: the bodies, unless `-o` sent them elsewhere.
        let body: String
        /// The `--dump-header` file's text: the CONNECT answer, each response head, interim responses and
        /// trailers, in the order curl received them.
        let headerDump: String

        /// The only (or first) transfer's status, `0` if curl reported none.
        var httpCode: Int { transfers.first?.httpCode ?? 0 }

        /// The lower-cased header lines of `headerDump` (status lines excluded), as `(name, value)`.
        var dumpedHeaders: [(name: String, value: String)] {
            headerDump.split(whereSeparator: \.isNewline).compactMap { line in
                guard !line.hasPrefix("HTTP/"), let colon = line.firstIndex(of: ":") else { return nil }
                let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                return (name, value)
            }
        }

        /// Whether the header dump has a field `name` (case-insensitive) with exactly `value`.
        func dumped(_ name: String, _ value: String) -> Bool {
            dumpedHeaders.contains { $0.name == name.lowercased() && $0.value == value }
        }

        /// Whether the header dump has a field `name` at all.
        func dumped(_ name: String) -> Bool {
            dumpedHeaders.contains { $0.name == name.lowercased() }
        }

        var description: String { "MeasuredCurlResult(\(run), \(transfers))" }
    }

    /// Matches the write-out line of ``measuredCurl(_:protocol:arguments:maxTime:timeout:feed:)``.
    private static var measuredPattern:
        Regex<(Substring, Substring, Substring, Substring, Substring, Substring, Substring, Substring, Substring)>
    {
        // A multi-line literal: whitespace is insignificant, so the spaces of the line are escaped.
        #/
        @@m \ code=([0-9]+) \ connect=([0-9]+) \ version=([0-9.]+) \ connects=([0-9]+) \ down=([0-9]+)
        \ up=([0-9]+) \ total=([0-9.]+) \ exit=([0-9]+)@@ \n?
        /#
    }

    /// Runs `curl` through the proxy for `urls` in one invocation, in the HTTP version `version` (`nil`: curl's
    /// default), and reports versions, sizes and timings per transfer besides the statuses.
    ///
    /// - Parameters:
    ///   - arguments: extra arguments placed before the URLs.
    ///   - maxTime: curl's own `--max-time`, in seconds.
    ///   - timeout: how long the run may take before it is killed.
    ///   - feed: a shell command whose output is piped into curl's standard input (for `-T -` or `@-` bodies
    ///     produced while they are sent); the run fails if it fails.
    func measuredCurl(
        _ urls: [String],
        protocol version: ClientProtocol?,
        arguments: [String] = [],
        maxTime: Int = 20,
        timeout: Duration? = nil,
        feed: String? = nil
    ) async throws -> MeasuredCurlResult {
        _ = try directory.subdirectory("clients")
        let dumpPath = directory.file("clients/curl-headers-\(UUID().uuidString.prefix(8).lowercased()).txt")
        let writeOut =
            "\\n@@m code=%{http_code} connect=%{http_connect} version=%{http_version} connects=%{num_connects} "
            + "down=%{size_download} up=%{size_upload} total=%{time_total} exit=%{exitcode}@@\\n"
        var argv = [
            "--silent", "--show-error",
            "--max-time", String(maxTime),
            "--proxy", "http://127.0.0.1:\(proxyPort)",
            "--cacert", caBundle,
            "--dump-header", dumpPath,
            "--write-out", writeOut,
        ]
        if let version { argv.append(version.curlOption) }
        argv += arguments
        argv += urls
        let run: Run
        if let feed {
            guard let curl = ChildProcess.which("curl") else { throw ClientError.notInstalled("curl") }
            let script = "set -o pipefail; \(feed) | \"$0\" \"$@\""
            run = try await self.run("bash", ["-c", script, curl] + argv, timeout: timeout)
        } else {
            run = try await self.run("curl", argv, timeout: timeout)
        }
        let transfers = run.stdout.matches(of: Self.measuredPattern).map { match in
            MeasuredTransfer(
                httpCode: Int(match.1) ?? 0,
                httpConnect: Int(match.2) ?? 0,
                httpVersion: String(match.3),
                newConnections: Int(match.4) ?? 0,
                sizeDownload: Int(match.5) ?? 0,
                sizeUpload: Int(match.6) ?? 0,
                timeTotal: Double(match.7) ?? 0,
                exitCode: Int(match.8) ?? 0
            )
        }
        return MeasuredCurlResult(
            run: run,
            transfers: transfers,
            body: run.stdout.replacing(Self.measuredPattern, with: ""),
            headerDump: (try? String(contentsOfFile: dumpPath, encoding: .utf8)) ?? ""
        )
    }

    /// Runs `curl` through the proxy for one URL (see ``measuredCurl(_:protocol:arguments:maxTime:timeout:feed:)``).
    func measuredCurl(
        _ url: String,
        protocol version: ClientProtocol?,
        arguments: [String] = [],
        maxTime: Int = 20,
        timeout: Duration? = nil,
        feed: String? = nil
    ) async throws -> MeasuredCurlResult {
        try await measuredCurl(
            [url], protocol: version, arguments: arguments, maxTime: maxTime, timeout: timeout, feed: feed
        )
    }

    /// The proxy's URL, for clients configured by argument or environment.
    var proxyAddress: String { "http://127.0.0.1:\(proxyPort)" }
}

extension Result where Failure == any Error {
    /// The outcome of `body`, caught: for doing cleanup (an origin's shutdown) before a failure is rethrown.
    static func catching(_ body: () async throws -> Success) async -> Result<Success, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }
}
