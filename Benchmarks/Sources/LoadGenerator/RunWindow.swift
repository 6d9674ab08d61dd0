import NIOCore

/// The run's timeline in monotonic nanoseconds: warm-up, then the measured window, after which no new request
/// starts.
struct RunWindow: Sendable {
    let measureFrom: UInt64
    let measureUntil: UInt64

    init(warmup: TimeAmount, duration: TimeAmount) {
        let now = NIODeadline.now().uptimeNanoseconds
        measureFrom = now + UInt64(warmup.nanoseconds)
        measureUntil = measureFrom + UInt64(duration.nanoseconds)
    }

    static var now: UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// Whether a request that ended at `time` counts.
    func counts(_ time: UInt64) -> Bool {
        time >= measureFrom && time <= measureUntil
    }

    func isOver(_ time: UInt64) -> Bool {
        time > measureUntil
    }
}
