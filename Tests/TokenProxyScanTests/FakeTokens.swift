/// Token-shaped test values, built at run time so that this repository's own files hold no token shape for a scan of
/// the repository to find.
enum FakeTokens {
    static let base62 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    static let upperDigits = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// `count` random characters of `alphabet`, with at least one upper case letter, lower case letter and digit
    /// when the alphabet has them (so mixed-alphabet rules always see a mix).
    static func random(_ count: Int, from alphabet: [Character] = base62) -> String {
        var generator = SystemRandomNumberGenerator()
        while true {
            let text = String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
            let wantsUpper = alphabet.contains { $0.isUppercase }
            let wantsLower = alphabet.contains { $0.isLowercase }
            let wantsDigit = alphabet.contains { $0.isNumber }
            if (!wantsUpper || text.contains { $0.isUppercase }) && (!wantsLower || text.contains { $0.isLowercase })
                && (!wantsDigit || text.contains { $0.isNumber })
            {
                return text
            }
        }
    }

    static func github(_ prefix: String = "ghp") -> String { prefix + "_" + random(36) }
    static func githubFineGrained() -> String { "github" + "_pat_" + random(22) + "_" + random(59) }
    static func awsKeyID(_ prefix: String = "AKIA") -> String { prefix + random(16, from: upperDigits) }
    static func awsSecret() -> String { random(18) + "/" + random(10) + "+" + random(10) }
    static func slack(_ letter: String = "b") -> String {
        "xox" + letter + "-" + random(12, from: Array("0123456789")) + "-" + random(13, from: Array("0123456789"))
            + "-" + random(24)
    }
    static func stripe(_ prefix: String = "sk") -> String { prefix + "_live_" + random(24) }
    static func openAI() -> String { "sk-" + "proj-" + random(48) }
    static func openAILegacy() -> String { "sk-" + random(48) }
    static func anthropic() -> String { "sk-" + "ant-api03-" + random(93) + "AA" }
    static func pemBody() -> String { (0..<5).map { _ in random(64) }.joined(separator: "\n") }
    static func privateKeyBlock(_ label: String = "RSA PRIVATE KEY") -> String {
        "-----BEGIN \(label)-----\n" + pemBody() + "\n-----END \(label)-----\n"
    }
}
