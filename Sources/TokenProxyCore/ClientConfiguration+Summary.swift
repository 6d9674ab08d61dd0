extension ClientConfiguration {
    /// One line for `check` and startup output: how the client authenticates and what limits it has (names and
    /// source references only, never a key).
    public var summary: String {
        var parts: [String] = []
        if let key { parts.append("key \(key)") }
        if let certificate {
            let names = [certificate.subject.map { "CN=\($0)" }, certificate.alternativeName.map { "SAN=\($0)" }]
            parts.append("mtls " + names.compactMap { $0 }.joined(separator: " "))
        }
        parts.append("environment " + (environment ?? "untagged"))
        if credentials != nil || rules != nil {
            let allowed = (credentials ?? []).sorted() + (rules ?? []).sorted().map { "rules[\($0)]" }
            parts.append("may use " + (allowed.isEmpty ? "no credential" : allowed.joined(separator: ", ")))
        } else {
            parts.append("may use any credential of its environment")
        }
        parts.append(limits.summary)
        return parts.joined(separator: "; ")
    }
}

extension RateLimits {
    /// `rate 10/s burst 5, 1000 requests per UTC day`, or `no rate limit`.
    public var summary: String {
        var parts: [String] = []
        if let rate { parts.append("rate \(rate) burst \(bucketCapacity ?? rate.requests)") }
        if let dailyRequests { parts.append("\(dailyRequests) requests per UTC day") }
        return parts.isEmpty ? "no rate limit" : parts.joined(separator: ", ")
    }
}
