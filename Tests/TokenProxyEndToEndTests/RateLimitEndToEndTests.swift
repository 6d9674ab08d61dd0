import Foundation
import Testing

/// Rate limits and daily budgets (`rate:`, `burst:`, `daily_requests:`) counted by a real proxy under concurrent
/// curl transfers.
@Suite("rate limits end to end", .serialized, .timeLimit(.minutes(2)))
struct RateLimitEndToEndTests {
    @Test("curl: 50 concurrent requests against burst 5 → exactly 5 pass, 45 get 429 with Retry-After, all audited")
    func burstUnderConcurrency() async throws {
        var configuration = ProxyConfiguration()
        // 1/h refills one request in an hour: within the test only the burst can pass.
        configuration.credentialSettingsYAML = """
                rate: 1/h
                burst: 5
            """
        try await ProxyFixture.run("rate-burst", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let urls = (1...50).map { "https://localhost:\(origin.port)/limited/\($0)" }
            let result = try await fixture.clients.curl(
                urls, arguments: ["--parallel", "--parallel-immediate", "--parallel-max", "50"]
            )
            let codes = result.transfers.map(\.httpCode)
            #expect(codes.count == 50, "curl reported \(codes.count) transfers: \(fixture.explain(result.run))")
            #expect(codes.filter { $0 == 200 }.count == 5, "status codes: \(codes)")
            #expect(codes.filter { $0 == 429 }.count == 45, "status codes: \(codes)")
            #expect(origin.requests.count == 5, "origin saw \(origin.requests.count) requests, expected 5")

            let more = try await fixture.clients.curl(
                "https://localhost:\(origin.port)/limited/more", arguments: ["--include"]
            )
            #expect(more.httpCode == 429, fixture.explain(more.run))
            let retryAfter = more.body.lowercased().firstMatch(of: #/retry-after: ([0-9]+)/#).flatMap { Int($0.1) }
            let seconds = try #require(retryAfter, "no Retry-After in the 429")
            // One request per hour: the next one is due in (almost) an hour, rounded up to whole seconds.
            #expect((3500...3600).contains(seconds), "Retry-After: \(seconds)")

            let records = await fixture.auditRecords { $0.filter { $0.status == 429 }.count >= 46 }
            let limited = records.filter { $0.status == 429 }
            #expect(limited.count == 46, "429 records: \(limited.count)")
            for record in limited {
                fixture.checkEqual(record.decision, "denied", "decision of a 429")
                fixture.check(
                    record.reason?.hasPrefix("rate limit of credential 'e2e' (1/h, burst 5) exceeded") == true,
                    "reason: \(record.reason ?? "-")"
                )
            }
            #expect(records.filter { $0.decision == "injected" }.count == 5)
        }
    }

    @Test("curl over HTTP/2: each stream on one connection counts (burst 2 → the third request gets 429)")
    func http2StreamsCountOneByOne() async throws {
        var configuration = ProxyConfiguration()
        configuration.credentialSettingsYAML = """
                rate: 1/h
                burst: 2
            """
        try await ProxyFixture.run("rate-h2-streams", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let urls = (1...3).map { "https://localhost:\(origin.port)/stream/\($0)" }
            // Sequential transfers reuse the one intercepted HTTP/2 connection: three streams, one CONNECT.
            let result = try await fixture.clients.curl(urls, arguments: ["--http2"])
            #expect(result.transfers.map(\.httpCode) == [200, 200, 429], fixture.explain(result.run))
            #expect(result.transfers.map(\.newConnections).reduce(0, +) == 1, "transfers: \(result.transfers)")
            #expect(origin.requests.count == 2)
            let records = await fixture.auditRecords { $0.contains { $0.status == 429 } }
            let limited = records.filter { $0.status == 429 }
            #expect(limited.count == 1)
            fixture.checkEqual(limited.first?.path, "/stream/3", "path of the refused stream")
        }
    }

    @Test("curl: a client's daily budget refuses the request after it with 429 until the next UTC day")
    func clientDailyBudget() async throws {
        let key = "tpclientkey-" + UUID().uuidString.lowercased()
        var configuration = ProxyConfiguration()
        configuration.environment["TP_CI_KEY"] = key
        configuration.extraYAML = """
            clients:
              ci:
                key: env:TP_CI_KEY
                daily_requests: 2
            """
        try await ProxyFixture.run("rate-daily", configuration: configuration) { fixture in
            let origin = try await fixture.startOrigin(.valid)
            let url = "https://localhost:\(origin.port)/budget"
            for _ in 1...2 {
                let allowed = try await fixture.clients.curl(url, arguments: ["--proxy-user", "ci:\(key)"])
                #expect(allowed.httpCode == 200, fixture.explain(allowed.run))
            }
            let over = try await fixture.clients.curl(url, arguments: ["--proxy-user", "ci:\(key)", "--include"])
            #expect(over.httpCode == 429, fixture.explain(over.run))
            let retryAfter = over.body.lowercased().firstMatch(of: #/retry-after: ([0-9]+)/#).flatMap { Int($0.1) }
            let seconds = try #require(retryAfter, "no Retry-After in the 429")
            #expect((1...86_400).contains(seconds), "Retry-After: \(seconds)")
            #expect(origin.requests.count == 2)
            let record = try await fixture.auditRecord("daily budget") { $0.status == 429 }
            fixture.check(
                record.reason?.hasPrefix("daily budget of client 'ci' (2 requests per UTC day) is used up") == true,
                "reason: \(record.reason ?? "-")"
            )
            fixture.check(record.client?.hasPrefix("ci@") == true, "client: \(record.client ?? "-")")
        }
    }
}
