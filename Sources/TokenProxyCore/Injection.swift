/// How a rule attaches its credential to a request.
public enum Injection: Sendable, Hashable {
    /// Sets `name` to a template with the secret in it (`Authorization: Bearer {{secret}}`), replacing any value the
    /// client sent.
    case header(name: String, template: InjectionTemplate)
    /// Sets `Authorization: Basic base64(username:password)`; either side (or both) may hold `{{secret}}`.
    case basic(username: InjectionTemplate, password: InjectionTemplate)
    /// Sets or replaces the query parameter `name` to the secret.
    case query(name: String)
    /// Attaches nothing itself: only placeholders the client sent are swapped for the secret.
    case placeholder
    /// Signs the request with AWS Signature Version 4, replacing any signature the client made.
    case awsSigV4(region: String, service: String)

    /// A short label for status output: the header or parameter touched.
    public var summary: String {
        switch self {
        case .header(let name, _): return name
        case .basic: return "Authorization: Basic"
        case .query(let name): return "?\(name)="
        case .placeholder: return "placeholders"
        case .awsSigV4(let region, let service): return "AWS SigV4 \(service)/\(region)"
        }
    }
}
