import Foundation
import NIOHTTP1
import RenamerServer
import RenamerTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clients that try to hold the server: many idle connections, slow-loris dribblers, oversized
/// headers. Other clients are still served promptly, and the server cuts the holders off at the
/// documented deadlines (README "Limits").
@Suite("Hostile clients")
struct HostileClientTests {
    /// A raw TCP connection to the daemon. Connecting blocks, so connections are made through
    /// ``open(_:port:)`` on a Dispatch thread; sending and reading never wait.
    final class Connection: Sendable {
        let descriptor: Int32

        private init(port: Int) throws {
            descriptor = try connectToLoopback(port: port)
        }

        /// Opens `count` connections to `port`, off the cooperative pool.
        static func open(_ count: Int, port: Int) async throws -> [Connection] {
            try await offload { try (0..<count).map { _ in try Connection(port: port) } }
        }

        deinit { close(descriptor) }

        func send(_ text: String) {
            var bytes = Array(text.utf8)
            _ = Glibc.send(descriptor, &bytes, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }

        /// Whether the server closed the connection (EOF or reset); false while it is open and
        /// silent. Reads what has arrived without waiting for more.
        var closedByServer: Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count == 0 { return true }
                if count < 0 { return errno == ECONNRESET }
            }
        }
    }

    @Test func holdersAreCutOffAndOthersAreServed() async throws {
        try await Harness.run { harness in
            let port = harness.daemonRun.port
            // The server's head deadline (10 s) starts when it accepts, so no connection can be cut
            // off before `beforeConnecting` + 10 s. Whether the normal client was served while the
            // holders held on can only be told if its requests end before that; on a machine too
            // busy for that (the whole suite shares two cores) the round is tried again.
            var beforeConnecting = ContinuousClock.now
            var idle: [Connection] = []
            var dribblers: [Connection] = []
            var told = false
            for _ in 1...3 where !told {
                beforeConnecting = ContinuousClock.now
                idle = try await Connection.open(200, port: port)
                dribblers = try await Connection.open(50, port: port)
                for connection in dribblers { connection.send("POST /v1/renames HTTP/1.1\r\nHost: x\r\n") }
                // While they hold their connections, a normal client is served: every holder is
                // still connected after its answers, so those answers did not wait for the cut-off.
                for _ in 0..<20 {
                    #expect(try await harness.request(.GET, harness.daemonURL + "/healthz", token: nil).status == 200)
                }
                let stillHeld = !idle.contains { $0.closedByServer } && !dribblers.contains { $0.closedByServer }
                if ContinuousClock.now - beforeConnecting < .seconds(9) {
                    #expect(stillHeld, "served only after the holders were cut off")
                    told = true
                }
            }
            #expect(told, "three rounds of 20 requests each took more than 9 s: too slow to tell")

            // Oversized headers: refused and closed, not buffered.
            let big = try await Connection.open(1, port: port)[0]
            big.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n")
            #expect(await harness.eventually(timeout: 30) { big.closedByServer })

            // Dribbling a header byte at a time does not extend the head deadline.
            let dribble = Task {
                while !Task.isCancelled {
                    for connection in dribblers { connection.send("X") }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            defer { dribble.cancel() }
            #expect(await harness.eventually(timeout: 60) { idle.allSatisfy(\.closedByServer) && dribblers.allSatisfy(\.closedByServer) })
            let elapsed = ContinuousClock.now - beforeConnecting
            #expect(elapsed >= .seconds(10), "cut off before the deadline: \(elapsed)")
            #expect(try await harness.request(.GET, harness.daemonURL + "/healthz", token: nil).status == 200)
        }
    }
}
