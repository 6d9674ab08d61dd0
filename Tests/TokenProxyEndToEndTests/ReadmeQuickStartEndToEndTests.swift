import Foundation
import Testing

/// Runs every shell command of README.md's "Quick start" as written, in a network and mount namespace where
/// `api.github.com` is a loopback HTTPS origin (its CA trusted through `TOKENPROXY_UPSTREAM_CA_BUNDLE`), from a
/// copy of the repository's `Config/`, with the built binary on `PATH` as `tokenproxy`.
///
/// The origin answers `/user` with a login only when it receives `Authorization: Bearer <the token>`, so the
/// README's commands pass only if the proxy injected the token that the quick start gave it.
@Suite("README quick start")
struct ReadmeQuickStartEndToEndTests {
    /// The package root (this file is Tests/TokenProxyEndToEndTests/…).
    private static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The fenced ```sh blocks between `## Quick start` and the next `## ` heading, in order.
    static func quickStartCommands(of readme: String) -> [String] {
        guard let start = readme.range(of: "\n## Quick start\n") else { return [] }
        let rest = readme[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        var blocks: [String] = []
        var current: [Substring]?
        for line in section.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```sh" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return blocks
    }

    @Test("the quick start's commands succeed with the token injected, and nothing else holds the token")
    func quickStart() async throws {
        guard getuid() == 0, ChildProcess.which("unshare") != nil, ChildProcess.which("ip") != nil else {
            Issue.record("the README test needs root, unshare and ip (iproute2) for its private network namespace")
            return
        }
        let readme = try String(contentsOf: Self.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let commands = Self.quickStartCommands(of: readme)
        #expect(!commands.isEmpty, "README.md has no ```sh block under '## Quick start'")
        #expect(commands.joined().contains("tokenproxy run -- curl"), "the quick start does not use tokenproxy run")
        try await ProxyFixture.run("readme") { fixture in
            let work = try fixture.directory.subdirectory("work")
            try fixture.directory.write(
                try String(
                    contentsOf: Self.packageRoot.appendingPathComponent("Config/tokenproxy.yaml"), encoding: .utf8),
                to: "work/Config/tokenproxy.yaml"
            )
            let bin = try fixture.directory.subdirectory("bin")
            try FileManager.default.createSymbolicLink(
                atPath: bin + "/tokenproxy", withDestinationPath: try ProxyProcess.binaryPath())
            try fixture.directory.write(commands.joined(separator: "\n") + "\n", to: "quickstart.sh")
            try fixture.directory.write(Self.origin, to: "origin.py")
            let script = try fixture.directory.write(Self.namespaceScript, to: "namespace.sh")
            let run = try await fixture.clients.run(
                "unshare", ["-nm", "bash", script, fixture.directory.path],
                environment: fixture.proxyEnvironment, timeout: .seconds(90)
            )
            #expect(run.exitCode == 0, fixture.explain(run))
            #expect(run.stdout.contains("\"login\": \"quickstart-user\""), fixture.explain(run))
            let audit = (try? String(contentsOfFile: work + "/state/audit.jsonl", encoding: .utf8)) ?? ""
            #expect(audit.contains("\"credential\":\"github\""), "no audit record of the github credential")
            #expect(audit.contains("\"host\":\"api.github.com\""))
        }
    }

    /// Runs inside `unshare -nm`: loopback up, api.github.com → 203.0.113.10 (a public-looking address on the
    /// namespace's loopback device, since the proxy refuses private destinations), an origin on 443 with a fresh CA, then
    /// the quick start with the token on its stdin (for the README's `read`) and nowhere else in its environment.
    private static let namespaceScript = #"""
        set -eu
        dir="$1"
        cd "$dir"
        ip link set lo up
        ip addr add 203.0.113.10/32 dev lo
        cp /etc/hosts hosts
        echo "203.0.113.10 api.github.com" >> hosts
        mount --bind hosts /etc/hosts
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout qs-ca.key -out qs-ca.pem \
            -days 1 -subj "/CN=quick start test CA" 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout api.key -out api.csr \
            -subj "/CN=api.github.com" 2>/dev/null
        printf 'subjectAltName=DNS:api.github.com\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > api.ext
        openssl x509 -req -in api.csr -CA qs-ca.pem -CAkey qs-ca.key -CAcreateserial -out api.pem -days 1 \
            -extfile api.ext 2>/dev/null
        QS_EXPECTED="$TP_E2E_TOKEN" python3 origin.py api.pem api.key > origin.log 2>&1 &
        origin=$!
        for _ in $(seq 1 100); do [ -s origin.ready ] && break; sleep 0.1; done
        token="$TP_E2E_TOKEN"
        unset TP_E2E_TOKEN
        export PATH="$dir/bin:$PATH" TOKENPROXY_UPSTREAM_CA_BUNDLE="$dir/qs-ca.pem"
        cd work
        status=0
        printf '%s\n' "$token" | bash -e ../quickstart.sh || status=$?
        kill "$origin" 2>/dev/null || true
        exit "$status"
        """#

    /// The stand-in for api.github.com: `GET /user` answers the login only for the expected bearer token.
    private static let origin = #"""
        import hmac, json, os, ssl, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer

        expected = ("Bearer " + os.environ["QS_EXPECTED"]).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass  # never log headers

            def do_GET(self):
                got = self.headers.get("Authorization", "").encode()
                ok = self.path == "/user" and hmac.compare_digest(got, expected)
                body = json.dumps({"login": "quickstart-user"} if ok else {"message": "Bad credentials"}, indent=1)
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) + 1))
                self.end_headers()
                self.wfile.write(body.encode() + b"\n")

        server = HTTPServer(("203.0.113.10", 443), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        server.socket = context.wrap_socket(server.socket, server_side=True)
        open("origin.ready", "w").write("up")
        server.serve_forever()
        """#
}
