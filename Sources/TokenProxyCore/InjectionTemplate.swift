/// A header value with one `{{secret}}` slot, such as `Bearer {{secret}}`.
///
/// The template is split once at load time so rendering is a concatenation, not a search.
public struct InjectionTemplate: Sendable, Hashable {
    /// The placeholder users write in `inject.value`.
    public static let secretPlaceholder = "{{secret}}"

    /// Text before the secret.
    public let prefix: String
    /// Text after the secret.
    public let suffix: String

    /// Why a template was refused; `description` is the user-facing reason.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Whether the template has the secret slot (a Basic username may be a plain literal).
    public let containsSecret: Bool

    /// Parses `text`, which must contain `{{secret}}` exactly once (at most once when `secretRequired` is false) and
    /// no other `{{…}}` placeholder.
    public init(_ text: String, secretRequired: Bool = true) throws(Invalid) {
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw Invalid(description: "inject value contains a control character")
        }
        var parts = text.components(separatedBy: Self.secretPlaceholder)
        if parts.count == 1 && !secretRequired {
            for part in parts where part.contains("{{") || part.contains("}}") {
                throw Invalid(description: "unknown placeholder in '\(text)'; only {{secret}} is supported")
            }
            containsSecret = false
            parts.append("")
            prefix = parts[0]
            suffix = ""
            return
        }
        containsSecret = true
        guard parts.count == 2 else {
            throw Invalid(
                description: parts.count == 1
                    ? "inject value must contain {{secret}} where the token goes (for example \"Bearer {{secret}}\")"
                    : "inject value must contain {{secret}} exactly once"
            )
        }
        for part in parts where part.contains("{{") || part.contains("}}") {
            throw Invalid(description: "inject value has an unknown placeholder; only {{secret}} is supported")
        }
        for part in parts where part.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw Invalid(description: "inject value contains a control character")
        }
        prefix = parts[0]
        suffix = parts[1]
    }

    /// The text with `secret` in the slot (or the literal text when there is no slot).
    public func render(_ secret: Secret) -> String {
        guard containsSecret else { return prefix }
        return secret.withUnsafeString { prefix + $0 + suffix }
    }
}
