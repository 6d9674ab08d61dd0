extension UsageEvent {
    /// How the reason of a request sent with a credential's previous value (`previous:`) starts; the usage store
    /// counts such requests by it.
    public static let previousValueReasonPrefix = "previous value of "

    /// The reason recorded for a request that went out with `credential`'s previous value.
    public static func previousValueReason(credential: String) -> String {
        previousValueReasonPrefix + "'\(credential)' used: the origin answered 401 to the current one"
    }
}
