/// A value one matcher found in a text: its kind, its byte range and, for a configured token, the credential.
struct ShapeMatch: Hashable, Sendable {
    var kind: FindingKind
    var range: Range<Int>
    var credential: String?

    /// Which of two overlapping matches wins: configured tokens (they name the credential), then the specific
    /// shapes, then the generic rule.
    var precedence: Int {
        switch kind {
        case .configuredToken: 0
        case .genericSecret: 2
        default: 1
        }
    }
}
