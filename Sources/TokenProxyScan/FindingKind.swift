/// What a finding is: a configured token, one of the well-known token formats, or a generic secret assignment.
///
/// The raw values are stable identifiers: they appear in every output format and are the rule ids in SARIF.
public enum FindingKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// The value of a credential in the tokenproxy configuration (matched by fingerprint).
    case configuredToken = "configured-token"
    /// A GitHub classic token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36 base62 characters).
    case githubToken = "github-token"
    /// A GitHub fine-grained personal access token (`github_pat_…`).
    case githubFineGrainedToken = "github-fine-grained-token"
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    case awsAccessKeyID = "aws-access-key-id"
    /// A 40-character AWS secret access key near an access key id.
    case awsSecretAccessKey = "aws-secret-access-key"
    /// A Slack token (`xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-`).
    case slackToken = "slack-token"
    /// A Stripe live secret or restricted key (`sk_live_`, `rk_live_`).
    case stripeLiveKey = "stripe-live-key"
    /// An OpenAI API key (`sk-…`, `sk-proj-…`).
    case openAIKey = "openai-api-key"
    /// An Anthropic API key (`sk-ant-…`).
    case anthropicKey = "anthropic-api-key"
    /// A PEM private key block.
    case privateKey = "private-key"
    /// A high-entropy value assigned to a name like `*_TOKEN`, `*_KEY`, `*_SECRET` or `*PASSWORD*`.
    case genericSecret = "generic-secret"

    /// One sentence saying what was found, for SARIF rule descriptions and help.
    public var summary: String {
        switch self {
        case .configuredToken: "The value of a credential configured in tokenproxy"
        case .githubToken: "A GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)"
        case .githubFineGrainedToken: "A GitHub fine-grained personal access token (github_pat_)"
        case .awsAccessKeyID: "An AWS access key id (AKIA, ASIA)"
        case .awsSecretAccessKey: "An AWS secret access key next to an access key id"
        case .slackToken: "A Slack token (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-)"
        case .stripeLiveKey: "A Stripe live secret or restricted key (sk_live_, rk_live_)"
        case .openAIKey: "An OpenAI API key (sk-, sk-proj-)"
        case .anthropicKey: "An Anthropic API key (sk-ant-)"
        case .privateKey: "A PEM private key block"
        case .genericSecret: "A high-entropy value assigned to a token, key, secret or password name"
        }
    }
}
