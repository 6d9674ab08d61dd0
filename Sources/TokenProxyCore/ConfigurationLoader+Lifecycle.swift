import Foundation
import Yams

extension ConfigurationLoader {
    /// The lifecycle keys of one credential: `expires`, `not_before`, `previous`, `rotate_every`.
    struct LifecycleSettings {
        var expires: Date?
        var notBefore: Date?
        var previous: CredentialSource?
        var rotateEvery: Duration?

        func apply(to credential: inout CredentialConfiguration) {
            credential.expires = expires
            credential.notBefore = notBefore
            credential.previous = previous
            credential.rotateEvery = rotateEvery
        }
    }

    /// Parses the lifecycle keys of the credential `entry` reads.
    static func parseLifecycle(
        _ entry: inout YAMLMappingReader, kind: CredentialConfiguration.Kind, near node: Node
    ) throws(ConfigurationError) -> LifecycleSettings {
        var settings = LifecycleSettings()
        settings.expires = try parseInstant(&entry, key: "expires")
        settings.notBefore = try parseInstant(&entry, key: "not_before")
        if let expires = settings.expires, let notBefore = settings.notBefore, notBefore >= expires {
            throw ConfigurationError(
                "\(entry.context).not_before must be earlier than its expires",
                at: entry.location(ofKey: "not_before", fallback: node)
            )
        }
        if let previousNode = entry.value("previous") {
            guard case .token = kind else {
                // A rotation window swaps one value for another; AWS key pairs and OAuth clients rotate through
                // their own sources.
                throw ConfigurationError(
                    "\(entry.context).previous is only for single-token credentials (type: token)",
                    at: entry.location(of: previousNode)
                )
            }
            settings.previous = try parseOptionalSource(&entry, key: "previous")
        }
        if let rotateNode = entry.value("rotate_every") {
            settings.rotateEvery = try parseDuration(rotateNode, key: "\(entry.context).rotate_every", reader: entry)
        }
        return settings
    }

    /// An RFC 3339 instant (`2026-12-31T00:00:00Z`, fractional seconds and offsets allowed).
    private static func parseInstant(
        _ entry: inout YAMLMappingReader, key: String
    ) throws(ConfigurationError) -> Date? {
        guard let (text, location) = try entry.string(key) else { return nil }
        guard let date = RFC3339.date(from: text) else {
            throw ConfigurationError(
                "\(entry.context).\(key) '\(text)' is not an RFC 3339 time such as 2026-12-31T00:00:00Z",
                at: location
            )
        }
        return date
    }
}

/// RFC 3339 timestamps, as written in `expires:` and shown by `check` and `/status`.
public enum RFC3339 {
    /// Parses `text` with or without fractional seconds; `nil` when it is not RFC 3339.
    public static func date(from text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    /// `date` in UTC, to the second.
    public static func string(from date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
