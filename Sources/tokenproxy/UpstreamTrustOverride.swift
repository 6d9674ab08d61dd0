import Foundation
import TokenProxyCore

/// `TOKENPROXY_UPSTREAM_CA_BUNDLE=FILE`: extra PEM roots for upstream servers when the configuration names none.
///
/// For a private CA in front of an API (a corporate TLS inspector, a staging server, a test origin) without editing
/// the shipped configuration. It can only *add* roots beside the system store, never remove verification; setting it
/// as well as `upstream.ca_bundle` is refused rather than silently picking one.
enum UpstreamTrustOverride {
    /// The variable's name.
    static let variable = "TOKENPROXY_UPSTREAM_CA_BUNDLE"

    /// Sets `upstream.ca_bundle` from the variable, if it is set and not empty.
    static func apply(
        to configuration: inout ProxyConfiguration,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        guard let bundle = environment[variable], !bundle.isEmpty else { return }
        if let configured = configuration.upstreamCABundle {
            throw CLIFailure(
                "\(variable) is set and \(configuration.file ?? "the configuration") already has "
                    + "upstream.ca_bundle \(configured); unset the variable or merge the two bundles into one file"
            )
        }
        configuration.upstreamCABundle = bundle
    }
}
