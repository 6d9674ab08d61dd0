extension Duration {
    /// The duration in seconds, as the APIs that take a `TimeInterval` (sleeps, timeouts, SQLite) want it.
    public var timeInterval: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
