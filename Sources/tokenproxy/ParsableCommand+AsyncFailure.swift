import ArgumentParser

extension ParsableCommand {
    /// ``failingCleanly(_:)`` for async work: the same one-line errors and exit status 1.
    static func failingCleanly<T>(async body: () async throws -> T) async throws -> T {
        let result: Result<T, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        return try failingCleanly { try result.get() }
    }
}
