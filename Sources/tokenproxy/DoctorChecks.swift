import Foundation
import TokenProxyCA
import TokenProxyCore

/// What `tokenproxy doctor` checks in the environment a client runs in, without sending any request: the proxy
/// variables, whether each runtime's CA setting includes the proxy CA, whether the proxy answers, and the clock.
///
/// It inspects the variables each runtime reads (in the runtime's own order of precedence) rather than running the
/// runtimes: that needs no network, names the exact variable to fix, and works for runtimes not installed here.
struct DoctorChecks {
    /// The environment to judge (normally the process's own).
    let environment: [String: String]
    /// The proxy CA clients must trust.
    let authority: CertificateAuthority
    /// The time to judge the clock against.
    let now: Date

    /// One runtime and the variables that decide what it trusts, first match wins.
    struct Runtime {
        let name: String
        let variables: [String]
        /// Whether, with none of them set, the runtime uses the system store.
        let usesSystemStoreByDefault: Bool
    }

    /// The runtimes checked. curl and git use the system store unless told otherwise; requests uses certifi's
    /// bundle and Node its built-in roots, which never include a local CA.
    static let runtimes = [
        Runtime(name: "curl", variables: ["CURL_CA_BUNDLE", "SSL_CERT_FILE"], usesSystemStoreByDefault: true),
        Runtime(
            name: "python requests", variables: ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"],
            usesSystemStoreByDefault: false
        ),
        Runtime(name: "node", variables: ["NODE_EXTRA_CA_CERTS"], usesSystemStoreByDefault: false),
        Runtime(name: "git", variables: ["GIT_SSL_CAINFO"], usesSystemStoreByDefault: true),
    ]

    /// Every finding, in a fixed order.
    func findings() -> [CheckFinding] {
        proxyFindings() + runtimes() + [clock()]
    }

    private func proxyFindings() -> [CheckFinding] {
        let value = environment["HTTPS_PROXY"] ?? environment["https_proxy"]
        guard let value, !value.isEmpty else {
            return [
                CheckFinding(
                    .error, check: "proxy-env",
                    "HTTPS_PROXY is not set, so clients go straight to the APIs; run 'eval \"$(tokenproxy env)\"' or "
                        + "start programs with 'tokenproxy run -- CMD'"
                )
            ]
        }
        var findings = [CheckFinding(.ok, check: "proxy-env", "HTTPS_PROXY=\(value)")]
        if (environment["HTTP_PROXY"] ?? environment["http_proxy"]) == nil {
            findings.append(
                CheckFinding(
                    .warning, check: "proxy-env", "HTTP_PROXY is not set; plain http:// requests bypass the proxy")
            )
        }
        let authority = value.replacingOccurrences(of: "http://", with: "").split(separator: "/").first.map(String.init)
        guard let authority, let address = HostPort(parsing: authority, defaultPort: 80) else {
            findings.append(
                CheckFinding(.error, check: "proxy", "HTTPS_PROXY=\(value) is not http://HOST:PORT; fix the variable")
            )
            return findings
        }
        if let problem = ProxyReachability.problem(connectingTo: address) {
            findings.append(
                CheckFinding(.error, check: "proxy", "\(problem); start it with 'tokenproxy serve'")
            )
        } else {
            findings.append(CheckFinding(.ok, check: "proxy", "the proxy at \(address) accepts connections"))
        }
        return findings
    }

    private func runtimes() -> [CheckFinding] {
        let marker = Self.body(of: (try? authority.certificatePEM) ?? "")
        return Self.runtimes.map { runtime in
            let check = "ca:\(runtime.name)"
            if let variable = runtime.variables.first(where: { !(environment[$0] ?? "").isEmpty }),
                let path = environment[variable]
            {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    return CheckFinding(.error, check: check, "\(runtime.name): \(variable)=\(path) cannot be read")
                }
                guard Self.body(of: text).contains(marker) else {
                    return CheckFinding(
                        .error, check: check,
                        "\(runtime.name): \(variable)=\(path) does not contain the proxy CA; point it at "
                            + (runtime.variables == ClientEnvironment.additionalCAVariables
                                ? absolutePath(authority.paths.certificate)
                                : absolutePath(authority.paths.directory + "/" + TrustBundle.fileName))
                    )
                }
                return CheckFinding(.ok, check: check, "\(runtime.name) trusts the proxy CA (\(variable))")
            }
            if runtime.usesSystemStoreByDefault, let store = Self.systemStore(),
                Self.body(of: store.text).contains(marker)
            {
                return CheckFinding(
                    .ok, check: check, "\(runtime.name) trusts the proxy CA (system store \(store.path))")
            }
            return CheckFinding(
                .error, check: check,
                "\(runtime.name) does not trust the proxy CA: set \(runtime.variables[0]) (see 'tokenproxy env') "
                    + "or run 'tokenproxy ca trust'"
            )
        }
    }

    private func clock() -> CheckFinding {
        let certificate = authority.certificate
        // The CA is backdated an hour at creation; a clock before that point has gone backwards since.
        if now < certificate.notValidBefore {
            return CheckFinding(
                .error, check: "clock",
                "the clock (\(now.formatted(Date.ISO8601FormatStyle()))) is before the CA was created; fix the "
                    + "system time (timedatectl set-ntp true), or TLS will fail"
            )
        }
        if now > certificate.notValidAfter {
            return CheckFinding(
                .error, check: "clock",
                "the CA expired \(certificate.notValidAfter.formatted(Date.ISO8601FormatStyle())); run "
                    + "'tokenproxy ca rotate' (or fix the clock if it is wrong)"
            )
        }
        return CheckFinding(
            .ok, check: "clock", "the clock (\(now.formatted(Date.ISO8601FormatStyle()))) is within the CA's validity"
        )
    }

    /// The system's PEM store, if there is one.
    private static func systemStore() -> (path: String, text: String)? {
        TrustBundle.systemBundleCandidates.lazy.compactMap { path in
            (try? String(contentsOfFile: path, encoding: .utf8)).map { (path, $0) }
        }.first
    }

    /// PEM text without line breaks and spaces, so one certificate can be found in a bundle however it is wrapped.
    private static func body(of pem: String) -> String {
        pem.replacingOccurrences(of: "-----BEGIN CERTIFICATE-----", with: "")
            .replacingOccurrences(of: "-----END CERTIFICATE-----", with: "")
            .filter { !$0.isWhitespace }
    }
}
