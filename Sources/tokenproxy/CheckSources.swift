import Foundation
import TokenProxyCA
import TokenProxyCore

/// Each credential's sources resolve: its size when they do (never the value), the reason and `file:line` when not.
struct CredentialSourcesCheck: CheckSource {
    func findings(in context: CheckContext) -> [CheckFinding] {
        switch context.credentials {
        case .failure(let errors):
            return errors.errors.map { CheckFinding(.error, check: "source", at: $0.location, $0.message) }
        case .success(let store):
            var findings: [CheckFinding] = context.configuration.credentials.map { credential in
                guard let value = store.value(named: credential.name) else {
                    return CheckFinding(
                        .ok, check: "source", at: credential.location,
                        "credential \(credential.name): \(credential.source) absent (optional)"
                    )
                }
                return CheckFinding(
                    .ok, check: "source", at: credential.location,
                    "credential \(credential.name): \(credential.source) ok (\(Self.size(of: value)))"
                )
            }
            findings += store.notices.map { CheckFinding(.ok, check: "source", "notice: \($0)") }
            return findings
        }
    }

    /// The size of a value, which says "it is there" without saying anything useful about it.
    private static func size(of value: CredentialValue) -> String {
        switch value {
        case .token(let secret): return "\(secret.count) bytes"
        case .aws(let credentials): return "secret access key \(credentials.secretAccessKey.count) bytes"
        case .oauth2(let client): return "client secret \(client.clientSecret.count) bytes"
        }
    }
}

/// Each rule's host resolves in DNS. A failure is a warning, not an error: offline, glibc answers "Name or service
/// not known" exactly as for a misspelt name, and the configuration may be right. Wildcards and IP literals are
/// skipped.
struct RuleHostsResolveCheck: CheckSource {
    func findings(in context: CheckContext) -> [CheckFinding] {
        guard context.lookUpHosts else { return [] }
        let rules = context.configuration.rules.filter { rule in
            let host = rule.host.description
            return !host.hasPrefix("*.") && IPv4Address(host) == nil && !host.contains(":")
        }
        let outcomes = HostResolver.resolve(rules.map(\.host.description))
        var reported: Set<String> = []
        return rules.compactMap { rule in
            let host = rule.host.description
            guard reported.insert(host).inserted else { return nil }
            switch outcomes[host] ?? .unavailable("not looked up") {
            case .resolved:
                return CheckFinding(.ok, check: "dns", at: rule.location, "rule host \(host) resolves")
            case .notFound(let reason):
                return CheckFinding(
                    .warning, check: "dns", at: rule.location,
                    "rule host \(host) does not resolve (\(reason)); check the spelling, unless this machine is "
                        + "offline (--no-dns skips this)"
                )
            case .unavailable(let reason):
                return CheckFinding(
                    .warning, check: "dns", at: rule.location,
                    "could not look up rule host \(host) (\(reason)); offline? (--no-dns skips this)"
                )
            }
        }
    }
}

/// Rules an earlier rule always matches first, so they can never match.
struct ShadowedRulesCheck: CheckSource {
    func findings(in context: CheckContext) -> [CheckFinding] {
        RuleShadowing.shadowed(in: context.configuration.rules).map { rule, earlier in
            CheckFinding(
                .warning, check: "shadowed-rule", at: rule.location,
                "rule \(rule.index + 1) (\(rule.host) ← \(rule.credential)) can never match: "
                    + "rule \(earlier.index + 1) at \(earlier.location) matches every request it would (first match "
                    + "wins); move it above or remove it"
            )
        }
    }
}

/// Credentials no rule uses: they are read (and held) but never sent anywhere.
struct UnusedCredentialsCheck: CheckSource {
    func findings(in context: CheckContext) -> [CheckFinding] {
        let used = Set(context.configuration.rules.map(\.credential))
        return context.configuration.credentials.filter { !used.contains($0.name) }.map { credential in
            CheckFinding(
                .warning, check: "unused-credential", at: credential.location,
                "credential \(credential.name) has no rule, so it is never sent anywhere; add a rule for it or "
                    + "remove it"
            )
        }
    }
}

/// The CA's validity: an expired or not-yet-valid CA is an error, one expiring within 30 days a warning.
struct CAExpiryCheck: CheckSource {
    static let warningWindow: TimeInterval = 30 * 24 * 3600

    func findings(in context: CheckContext) -> [CheckFinding] {
        let paths = CertificateAuthority.Paths(directory: context.configuration.caDirectory)
        guard CertificateAuthority.exists(at: paths) else {
            return [CheckFinding(.ok, check: "ca", "no CA in \(paths.directory) yet; 'tokenproxy serve' creates one")]
        }
        let authority: CertificateAuthority
        do {
            authority = try CertificateAuthority.load(paths: paths)
        } catch {
            return [CheckFinding(.error, check: "ca", "\(error.description)")]
        }
        let certificate = authority.certificate
        let until = certificate.notValidAfter.formatted(Date.ISO8601FormatStyle())
        if certificate.notValidBefore > context.now {
            return [
                CheckFinding(
                    .error, check: "ca",
                    "CA \(paths.certificate) is not valid before \(certificate.notValidBefore); is this machine's "
                        + "clock right?"
                )
            ]
        }
        if certificate.notValidAfter <= context.now {
            return [
                CheckFinding(
                    .error, check: "ca",
                    "CA \(paths.certificate) expired \(until); run 'tokenproxy ca rotate' and trust the new one"
                )
            ]
        }
        if certificate.notValidAfter.timeIntervalSince(context.now) < Self.warningWindow {
            return [
                CheckFinding(
                    .warning, check: "ca",
                    "CA \(paths.certificate) expires \(until); run 'tokenproxy ca rotate' and trust the new one"
                )
            ]
        }
        return [CheckFinding(.ok, check: "ca", "CA \(paths.certificate) valid until \(until)")]
    }
}
