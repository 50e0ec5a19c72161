import Foundation
import Synchronization

@testable import RenamerCore

/// A CDN that answers probes from a script (200 once it runs out, unless `fallback` says otherwise).
final class ScriptedProber: DeliveryProber {
    private let state = Mutex<(script: [ProbeOutcome], urls: [String])>(([], []))
    let fallback: ProbeOutcome

    init(_ outcomes: [ProbeOutcome] = [], fallback: ProbeOutcome = .status(200)) {
        state.withLock { $0.script = outcomes }
        self.fallback = fallback
    }

    var urls: [String] { state.withLock { $0.urls } }

    func probe(url: String, timeout: Double) async -> ProbeOutcome {
        state.withLock { state in
            state.urls.append(url)
            return state.script.isEmpty ? fallback : state.script.removeFirst()
        }
    }
}

/// A callback receiver that answers from a script (200 once it runs out) and records every request.
final class ScriptedTransport: CallbackTransport {
    struct Request: Sendable {
        var url: String
        var headers: [String: String]
        var body: [UInt8]
    }

    private let state = Mutex<(script: [CallbackResponse], requests: [Request])>(([], []))

    init(_ responses: [CallbackResponse] = []) {
        state.withLock { $0.script = responses }
    }

    var requests: [Request] { state.withLock { $0.requests } }

    func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Double) async -> CallbackResponse {
        state.withLock { state in
            state.requests.append(Request(url: url, headers: Dictionary(headers, uniquingKeysWith: { $1 }), body: body))
            return state.script.isEmpty ? .status(200, retryAfter: nil) : state.script.removeFirst()
        }
    }
}
