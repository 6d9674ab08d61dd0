/// The well-known token formats that are one run of `[A-Za-z0-9_-]`: GitHub, AWS access key ids, Slack, Stripe,
/// OpenAI and Anthropic keys. Hand-written checks on the run's bytes (prefix, length, alphabet), so near misses such as
/// a `ghp_` with 35 characters or `sk_test_` keys are not findings.
enum TokenShapes {
    /// The kind of the token that is exactly `bytes[run]`, if it has a well-known shape.
    static func kind(of bytes: UnsafeBufferPointer<UInt8>, run: Range<Int>) -> FindingKind? {
        guard run.count >= 20 else { return nil }
        switch bytes[run.lowerBound] {
        case UInt8(ascii: "g"): return github(bytes, run)
        case UInt8(ascii: "A"): return awsAccessKeyID(bytes, run)
        case UInt8(ascii: "x"): return slack(bytes, run)
        case UInt8(ascii: "s"), UInt8(ascii: "r"): return stripe(bytes, run) ?? apiKey(bytes, run)
        default: return nil
        }
    }

    /// `gh[pousr]_` and 36 base62 characters; `github_pat_`, 22 base62, `_`, 59 base62.
    private static func github(_ bytes: UnsafeBufferPointer<UInt8>, _ run: Range<Int>) -> FindingKind? {
        let start = run.lowerBound
        if run.count == 40, ByteClass.hasPrefix(bytes, run, "gh"), bytes[start + 3] == UInt8(ascii: "_"),
            "pousr".utf8.contains(bytes[start + 2]),
            ByteClass.all(bytes, (start + 4)..<run.upperBound, ByteClass.isAlphanumeric)
        {
            return .githubToken
        }
        if run.count == 93, ByteClass.hasPrefix(bytes, run, "github_pat_"),
            ByteClass.all(bytes, (start + 11)..<(start + 33), ByteClass.isAlphanumeric),
            bytes[start + 33] == UInt8(ascii: "_"),
            ByteClass.all(bytes, (start + 34)..<run.upperBound, ByteClass.isAlphanumeric)
        {
            return .githubFineGrainedToken
        }
        return nil
    }

    /// `AKIA` or `ASIA` and 16 upper-case letters or digits.
    private static func awsAccessKeyID(_ bytes: UnsafeBufferPointer<UInt8>, _ run: Range<Int>) -> FindingKind? {
        let body = (run.lowerBound + 4)..<run.upperBound
        guard run.count == 20, ByteClass.hasPrefix(bytes, run, "AKIA") || ByteClass.hasPrefix(bytes, run, "ASIA"),
            ByteClass.all(bytes, body, { ByteClass.isUpper($0) || ByteClass.isDigit($0) })
        else { return nil }
        return .awsAccessKeyID
    }

    /// `xox[abprs]-` and at least 15 more of `[A-Za-z0-9-]`, with digits (Slack's numeric team and user ids).
    private static func slack(_ bytes: UnsafeBufferPointer<UInt8>, _ run: Range<Int>) -> FindingKind? {
        let start = run.lowerBound
        guard ByteClass.hasPrefix(bytes, run, "xox"), "abprs".utf8.contains(bytes[start + 3]),
            bytes[start + 4] == UInt8(ascii: "-"), run.count >= 20
        else { return nil }
        let rest = (start + 5)..<run.upperBound
        guard ByteClass.all(bytes, rest, { ByteClass.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }),
            ByteClass.any(bytes, rest, ByteClass.isDigit)
        else { return nil }
        return .slackToken
    }

    /// `sk_live_` or `rk_live_` and at least 24 base62 characters (test-mode keys are not secrets worth a finding).
    private static func stripe(_ bytes: UnsafeBufferPointer<UInt8>, _ run: Range<Int>) -> FindingKind? {
        guard ByteClass.hasPrefix(bytes, run, "sk_live_") || ByteClass.hasPrefix(bytes, run, "rk_live_"),
            run.count >= 8 + 24, ByteClass.all(bytes, (run.lowerBound + 8)..<run.upperBound, ByteClass.isAlphanumeric)
        else { return nil }
        return .stripeLiveKey
    }

    /// `sk-ant-` (Anthropic), `sk-proj-`/`sk-svcacct-`/`sk-admin-` (OpenAI) and at least 32 more characters; or
    /// `sk-` and at least 32 characters mixing upper case, lower case and digits (OpenAI's older keys).
    private static func apiKey(_ bytes: UnsafeBufferPointer<UInt8>, _ run: Range<Int>) -> FindingKind? {
        guard ByteClass.hasPrefix(bytes, run, "sk-") else { return nil }
        let minimumBody = 32
        if ByteClass.hasPrefix(bytes, run, "sk-ant-") {
            let body = (run.lowerBound + 7)..<run.upperBound
            return body.count >= minimumBody && ByteClass.any(bytes, body, ByteClass.isDigit) ? .anthropicKey : nil
        }
        let openAIPrefixes: [StaticString] = ["sk-proj-", "sk-svcacct-", "sk-admin-"]
        for prefix in openAIPrefixes where ByteClass.hasPrefix(bytes, run, prefix) {
            let body = (run.lowerBound + prefix.utf8CodeUnitCount)..<run.upperBound
            return body.count >= minimumBody && ByteClass.any(bytes, body, ByteClass.isDigit) ? .openAIKey : nil
        }
        let body = (run.lowerBound + 3)..<run.upperBound
        guard body.count >= minimumBody, ByteClass.all(bytes, body, ByteClass.isAlphanumeric),
            ByteClass.any(bytes, body, ByteClass.isDigit), ByteClass.any(bytes, body, ByteClass.isUpper),
            ByteClass.any(bytes, body, ByteClass.isLower)
        else { return nil }
        return .openAIKey
    }
}
