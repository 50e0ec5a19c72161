import Foundation
import RenamerConfig
import Synchronization

@testable import RenamerCore

/// A Cloudinary stand-in that answers from a script and records every call.
final class ScriptedCloudinary: CloudinaryAPI {
    struct State {
        var renameScript: [RenameOutcome] = []
        var lookupScript: [String: [LookupOutcome]] = [:]
        var calls: [RenameCall] = []
        var lookups: [String] = []
        var held: [CheckedContinuation<Void, Never>] = []
        var holding = false
    }

    let state = Mutex(State())

    /// Queues outcomes for the next rename calls; when the script is empty, calls succeed.
    func script(_ outcomes: RenameOutcome...) {
        state.withLock { $0.renameScript.append(contentsOf: outcomes) }
    }

    func scriptLookup(_ publicID: String, _ outcomes: LookupOutcome...) {
        state.withLock { $0.lookupScript[publicID, default: []].append(contentsOf: outcomes) }
    }

    /// While holding, rename calls wait until ``release()``.
    func hold() { state.withLock { $0.holding = true } }

    func release() {
        let held = state.withLock { state in
            state.holding = false
            defer { state.held.removeAll() }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }

    var calls: [RenameCall] { state.withLock { $0.calls } }
    var heldCount: Int { state.withLock { $0.held.count } }

    func rename(_ call: RenameCall, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome {
        let (outcome, holding) = state.withLock { state in
            state.calls.append(call)
            let outcome = state.renameScript.isEmpty ? nil : state.renameScript.removeFirst()
            return (outcome, state.holding)
        }
        if holding {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    guard state.holding else { return true }
                    state.held.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        return outcome ?? .renamed(.init(publicID: call.toPublicID, version: 2, secureURL: "https://res.example/\(call.toPublicID)"))
    }

    func lookup(publicID: String, resourceType: ResourceType, type: DeliveryType, cloud: RenamerConfiguration.Cloud) async -> LookupOutcome {
        state.withLock { state in
            state.lookups.append(publicID)
            guard var queue = state.lookupScript[publicID], !queue.isEmpty else { return .notFound }
            let outcome = queue.removeFirst()
            state.lookupScript[publicID] = queue
            return outcome
        }
    }
}

/// Polls `condition` every 5 ms until it holds or `timeout` seconds pass.
func eventually(timeout: Double = 10, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

@_disfavoredOverload
func eventually(timeout: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}
