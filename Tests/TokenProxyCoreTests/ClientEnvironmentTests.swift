import Testing

@testable import TokenProxyCore

@Suite("ClientEnvironment")
struct ClientEnvironmentTests {
    private func credential(_ name: String, variable: String, envPlaceholder: String?, line: Int)
        -> CredentialConfiguration
    {
        var credential = CredentialConfiguration(
            name: name, source: .environment(variable: variable), location: ConfigLocation(file: "c.yaml", line: line)
        )
        credential.envPlaceholder = envPlaceholder
        return credential
    }

    @Test("proxy, bundle and CA variables, and a placeholder per env_placeholder")
    func variables() throws {
        var custom = credential("openai", variable: "TP_OPENAI", envPlaceholder: "OPENAI_API_KEY", line: 3)
        custom.placeholder = "ph_openai_x1"
        let environment = try ClientEnvironment(
            proxy: HostPort(host: "127.0.0.1", port: 41234), trustBundle: "/c/ca-bundle.pem",
            caCertificate: "/c/ca.pem",
            credentials: [
                credential("github", variable: "GITHUB_TOKEN", envPlaceholder: "GITHUB_TOKEN", line: 1), custom,
            ]
        )
        for name in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
            #expect(environment[name] == "http://127.0.0.1:41234")
        }
        #expect(environment["NO_PROXY"] == "localhost,127.0.0.1,::1")
        for name in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE"] {
            #expect(environment[name] == "/c/ca-bundle.pem")
        }
        #expect(environment["NODE_EXTRA_CA_CERTS"] == "/c/ca.pem")
        #expect(environment["GITHUB_TOKEN"] == "{{tokenproxy:github}}")
        #expect(environment["OPENAI_API_KEY"] == "ph_openai_x1")
    }

    @Test("applied: source variables and any variable holding a secret are removed; placeholders win")
    func appliedScrubs() throws {
        let canary = makeCanary()
        let credentials = [
            credential("github", variable: "GITHUB_TOKEN", envPlaceholder: "GITHUB_TOKEN", line: 1),
            credential("stripe", variable: "STRIPE_KEY", envPlaceholder: nil, line: 2),
        ]
        let environment = try ClientEnvironment(
            proxy: HostPort(host: "127.0.0.1", port: 1), trustBundle: "/b", caCertificate: "/c",
            credentials: credentials
        )
        let result = environment.applied(
            to: [
                "GITHUB_TOKEN": canary, "STRIPE_KEY": "sk_test_other", "COPY": "x" + canary + "y", "HOME": "/home/u",
                "HTTPS_PROXY": "http://elsewhere:1",
            ],
            credentials: credentials, secrets: [Secret(canary)]
        )
        #expect(result["GITHUB_TOKEN"] == "{{tokenproxy:github}}")
        #expect(result["STRIPE_KEY"] == nil)
        #expect(result["COPY"] == nil)
        #expect(result["HOME"] == "/home/u")
        #expect(result["HTTPS_PROXY"] == "http://127.0.0.1:1")
        #expect(!result.values.contains { $0.contains(canary) }, "a value holding the secret survived")
    }

    @Test("two credentials claiming one env_placeholder variable are refused, naming both")
    func duplicateVariable() {
        let credentials = [
            credential("a", variable: "A", envPlaceholder: "API_KEY", line: 1),
            credential("b", variable: "B", envPlaceholder: "API_KEY", line: 4),
        ]
        #expect {
            _ = try ClientEnvironment(
                proxy: HostPort(host: "127.0.0.1", port: 1), trustBundle: "/b", caCertificate: "/c",
                credentials: credentials
            )
        } throws: { error in
            let text = "\(error)"
            return text.contains("c.yaml:4") && text.contains("'a'") && text.contains("'b'") && text.contains("API_KEY")
        }
    }

    @Test("env_placeholder is loaded; a name that is not a variable is refused with file:line")
    func loading() throws {
        let yaml = """
            credentials:
              github:
                source: env:GITHUB_TOKEN
                env_placeholder: GITHUB_TOKEN
            rules: []
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "ok.yaml")
        #expect(configuration.credential(named: "github")?.envPlaceholder == "GITHUB_TOKEN")
        let error = parseError(
            yaml.replacingOccurrences(of: "env_placeholder: GITHUB_TOKEN", with: "env_placeholder: 1-BAD"))
        #expect(error?.location == ConfigLocation(file: "test.yaml", line: 4))
        #expect(error?.message.contains("env_placeholder '1-BAD' is not a variable name") == true)
    }
}
