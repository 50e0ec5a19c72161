import Metrics

/// The handles of one labelled metric family, each made on the first use of its label value and
/// kept. A swift-metrics handle made per event looks its family up in the registry (the key's
/// arrays and hashes, the registry's lock, a new handle object): ~2,300 instructions, eight times
/// per job end to end (issue 17). Label values come from closed sets (statuses, outcomes), so each
/// family holds a handful.
final class MetricHandles<Value: Hashable & Sendable, Handle: Sendable>: Sendable {
    private let handles = Locked<[Value: Handle]>([:])
    private let make: @Sendable (Value) -> Handle

    init(_ make: @escaping @Sendable (Value) -> Handle) {
        self.make = make
    }

    /// The handle for `value`.
    subscript(_ value: Value) -> Handle {
        handles.withLock { handles in
            if let handle = handles[value] { return handle }
            let handle = make(value)
            handles[value] = handle
            return handle
        }
    }
}

extension MetricHandles where Value == JobStatus, Handle == Counter {
    /// `renamer_jobs_finished_total` by status.
    static func jobsFinished(_ factory: any MetricsFactory) -> MetricHandles {
        MetricHandles { Counter(label: "renamer_jobs_finished_total", dimensions: [("status", $0.rawValue)], factory: factory) }
    }
}
