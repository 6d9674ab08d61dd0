import Foundation
import Testing

@testable import TokenProxyCore

/// A directory under the system temporary directory, unique to one test, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("tokenproxy-core-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// `name` inside the directory.
    func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    /// Writes `bytes` to `name` with exactly `mode` (whatever the umask) and returns the path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String, mode: mode_t = 0o600) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        guard chmod(target, mode) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return target
    }

    @discardableResult
    func write(_ text: String, to name: String, mode: mode_t = 0o600) throws -> String {
        try write(Array(text.utf8), to: name, mode: mode)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh temporary directory and removes it afterwards.
func withTemporaryDirectory<Result>(_ body: (TemporaryDirectory) throws -> Result) throws -> Result {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try body(directory)
}

/// A value that must never appear in an error message or a description.
func makeCanary() -> String {
    "tpcanary-\(UUID().uuidString)"
}

/// Whether `secret` holds exactly `expected`, computed without handing the value to `#expect`.
func secret(_ secret: Secret?, equals expected: String) -> Bool {
    secret?.withUnsafeString { $0 == expected } ?? false
}

/// The error `ConfigurationLoader.parse` throws for `yaml`, or `nil` if it parses.
func parseError(_ yaml: String, file: String = "test.yaml") -> ConfigurationError? {
    do {
        _ = try ConfigurationLoader.parse(yaml: yaml, file: file)
        return nil
    } catch {
        return error
    }
}

/// A rule built in code, for rule and rule-set tests.
func makeRule(
    index: Int = 0,
    host: String,
    port: Int? = nil,
    path: String? = nil,
    methods: Set<String>? = nil,
    credential: String = "token",
    header: String = "Authorization"
) throws -> Rule {
    Rule(
        index: index,
        host: try HostPattern(host),
        port: port,
        path: try path.map { try PathPattern($0) },
        methods: methods,
        credential: credential,
        injection: .header(name: header, template: try InjectionTemplate("Bearer {{secret}}")),
        location: ConfigLocation(file: "test.yaml", line: index + 1)
    )
}

/// The configuration's source location (Swift Testing has a `SourceLocation` of its own).
typealias ConfigLocation = TokenProxyCore.SourceLocation
