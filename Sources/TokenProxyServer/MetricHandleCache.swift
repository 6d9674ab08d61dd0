import Synchronization

/// Metric handles kept by their dimensions, so the per-request path finds its counter or timer in a dictionary
/// instead of asking the metrics factory each time (the Prometheus factory sanitises the name and every dimension,
/// then looks the metric up under the registry's lock: several allocations per call).
///
/// Bounded: beyond `capacity` distinct keys, handles are made afresh on each call (still correct, only slower), so
/// a stream of new hosts cannot grow it without limit.
final class MetricHandleCache<Key: Hashable & Sendable, Handle: Sendable>: Sendable {
    private let handles = Mutex<[Key: Handle]>([:])
    private let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// The handle for `key`, made by `make` the first time.
    func handle(for key: Key, make: () -> Handle) -> Handle {
        if let existing = handles.withLock({ $0[key] }) { return existing }
        let created = make()
        return handles.withLock { handles in
            if let raced = handles[key] { return raced }
            if handles.count < capacity { handles[key] = created }
            return created
        }
    }
}
