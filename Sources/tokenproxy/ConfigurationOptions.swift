import ArgumentParser
import Foundation
import TokenProxyCore

/// The `--config` option shared by commands that read a configuration.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: ./Config/tokenproxy.yaml if present, else built-in defaults).")
    var config: String?

    /// The path of the shipped workstation configuration, looked for in the working directory.
    static let defaultPath = "Config/tokenproxy.yaml"

    /// Loads the configuration the options name, or the defaults. Exits with the file:line reason on error.
    func load() throws -> ProxyConfiguration {
        let path = config ?? (FileManager.default.fileExists(atPath: Self.defaultPath) ? Self.defaultPath : nil)
        var configuration: ProxyConfiguration
        if let path {
            do {
                configuration = try ConfigurationLoader.load(path: path)
            } catch {
                throw CLIFailure(error.description)
            }
        } else {
            configuration = .workstationDefaults
        }
        try UpstreamTrustOverride.apply(to: &configuration)
        return configuration
    }
}

/// A failure the CLI reports as one line on stderr with exit status 1 (no usage text, no stack).
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints `message` to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

extension ParsableCommand {
    /// Runs `body`, turning ``CLIFailure`` and library errors into `tokenproxy: error: …` and exit status 1.
    static func failingCleanly<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CLIFailure {
            printError("tokenproxy: error: \(error.description)")
            throw ExitCode.failure
        } catch let error as ConfigurationErrors {
            for item in error.errors { printError("tokenproxy: error: \(item)") }
            throw ExitCode.failure
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("tokenproxy: error: \(error)")
            throw ExitCode.failure
        }
    }
}
