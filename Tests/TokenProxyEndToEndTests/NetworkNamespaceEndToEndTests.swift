import Foundation
import Testing

/// The egress policy against destinations that really exist: a proxy process in a network namespace of its own,
/// where private, link-local, ULA and "public" addresses are local listeners that log every connection, and a test
/// DNS server that changes its answer between two lookups (DNS rebinding).
///
/// Nothing here relies on `allow_private`: the proxy runs with the built-in policy defaults.
@Suite("egress policy in a network namespace", .serialized, .timeLimit(.minutes(2)))
struct NetworkNamespaceEndToEndTests {
    /// Request lines and the status the proxy must answer each with.
    static let cases: [(line: String, status: Int)] = [
        ("CONNECT 10.0.0.5:443 HTTP/1.1", 403),
        ("CONNECT 169.254.169.254:80 HTTP/1.1", 403),
        ("CONNECT [fd00::1]:443 HTTP/1.1", 403),
        ("CONNECT 167772165:443 HTTP/1.1", 403),  // 10.0.0.5
        ("CONNECT 0xa9.0xfe.0xa9.0xfe:80 HTTP/1.1", 403),  // 169.254.169.254
        ("CONNECT 0251.0376.0251.0376:80 HTTP/1.1", 403),
        ("CONNECT [::ffff:a9fe:a9fe]:80 HTTP/1.1", 403),
        ("CONNECT [64:ff9b::a00:5]:443 HTTP/1.1", 403),
        ("CONNECT [2002:a00:5::1]:443 HTTP/1.1", 403),
        ("CONNECT [FD00:0::1]:443 HTTP/1.1", 403),
        ("CONNECT 0177.0.0.1:443 HTTP/1.1", 403),
        ("CONNECT 127.1:80 HTTP/1.1", 403),
        ("CONNECT Metadata.Test.:80 HTTP/1.1", 403),
        ("CONNECT private.test:443 HTTP/1.1", 403),
        ("GET http://169.254.169.254/latest/meta-data/ HTTP/1.1", 403),
        ("GET http://user@metadata.test/latest/meta-data/ HTTP/1.1", 403),
        ("GET http://0x7f.1/ HTTP/1.1", 403),
        ("CONNECT 203.0.113.10:8443 HTTP/1.1", 403),  // not in policy.ports
        ("CONNECT rebind.test:443 HTTP/1.1", 200),  // first answer: 203.0.113.10
        ("CONNECT rebind.test:443 HTTP/1.1", 403),  // its next answer: 127.0.0.1
    ]

    @Test("private, link-local, ULA and odd spellings are refused and never dialled; one lookup per CONNECT")
    func privateDestinationsInNamespace() async throws {
        let directory = try TestDirectory(label: "netns")
        defer { directory.remove() }
        for (name, text) in [
            ("run.sh", NetworkNamespaceScripts.run), ("listeners.py", NetworkNamespaceScripts.listeners),
            ("dns.py", NetworkNamespaceScripts.dns), ("client.py", NetworkNamespaceScripts.client),
        ] {
            _ = try directory.write(text, to: name)
        }
        _ = try directory.write(
            """
            listen: 127.0.0.1:18080
            ca: { dir: "\(directory.file("ns-certs"))" }
            audit: { log: "\(directory.file("ns-audit.jsonl"))", store: null }

            """,
            to: "ns.yaml"
        )
        let clients = Clients(proxyPort: 0, caBundle: "", directory: directory)
        let run = try await clients.run(
            "unshare",
            ["-nm", "sh", directory.file("run.sh"), directory.path, try ProxyProcess.binaryPath()]
                + Self.cases.map(\.line),
            timeout: .seconds(90)
        )
        let stderr = (try? String(contentsOfFile: directory.file("ns-proxy.stderr"), encoding: .utf8)) ?? ""
        #expect(run.exitCode == 0, "unshare: \(run.stderr.suffix(2000)) proxy: \(stderr.suffix(2000))")
        var statuses: [Int: String] = [:]
        for match in run.stdout.matches(of: #/RESULT ([0-9]+) ([^\n]*)/#) {
            statuses[Int(match.1) ?? -1] = String(match.2)
        }
        for (index, expected) in Self.cases.enumerated() {
            let status = statuses[index] ?? "no answer"
            #expect(status.hasPrefix("HTTP/1.1 \(expected.status) "), "\(expected.line) → \(status)")
        }
        #expect(run.stdout.contains("PROXY-EXIT 0"), "proxy did not exit cleanly: \(run.stdout.suffix(500))")

        let accepts = ((try? String(contentsOfFile: directory.file("accepts.log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
        #expect(accepts == ["accept 203.0.113.10:443"], "connections the listeners accepted: \(accepts)")
        let lookups = ((try? String(contentsOfFile: directory.file("dns.log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { $0 == "A rebind.test" }
        #expect(lookups.count == 2, "A queries for rebind.test: \(lookups.count) (one per CONNECT)")

        let audit = (try? String(contentsOfFile: directory.file("ns-audit.jsonl"), encoding: .utf8)) ?? ""
        let records = audit.split(separator: "\n").enumerated().compactMap {
            AuditRecord(line: $0.offset + 1, text: String($0.element))
        }
        let denied = records.filter { $0.decision == "denied" && $0.status == 403 }
        #expect(denied.count == Self.cases.filter { $0.status == 403 }.count, "denied records: \(denied.count)")
        let metadata = denied.first { $0.host == "metadata.test" }
        #expect(metadata?.reason?.contains("169.254.169.254") == true, "\(metadata?.reason ?? "no record")")
        #expect(metadata?.reason?.contains("link-local") == true)
        let mapped = denied.first { $0.host == "::ffff:169.254.169.254" }
        #expect(mapped?.reason?.contains("IPv4-mapped") == true, "\(mapped?.reason ?? "no record")")
        let rebound = denied.first { $0.host == "rebind.test" }
        #expect(rebound?.reason?.contains("rebind.test (127.0.0.1)") == true, "\(rebound?.reason ?? "no record")")
        #expect(records.contains { $0.decision == "tunnel" && $0.host == "rebind.test" })
    }
}
