import Foundation
import NIOHTTP1
import RenamerServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clients that try to hold the server: many idle connections, slow-loris dribblers, oversized
/// headers. Other clients are still served promptly, and the server cuts the holders off at the
/// documented deadlines (README "Limits").
@Suite("Hostile clients")
struct HostileClientTests {
    /// A raw TCP connection to the daemon.
    final class Connection: Sendable {
        let descriptor: Int32

        init(port: Int) throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(descriptor)
                throw POSIXError(.ECONNREFUSED)
            }
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(descriptor) }

        func send(_ text: String) {
            var bytes = Array(text.utf8)
            _ = Glibc.send(descriptor, &bytes, bytes.count, Int32(MSG_NOSIGNAL))
        }

        /// Whether the server closed the connection (EOF or reset); false while it is open and silent.
        var closedByServer: Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count == 0 { return true }
                if count < 0 { return errno == ECONNRESET }
            }
        }
    }

    @Test func holdersAreCutOffAndOthersAreServed() async throws {
        try await Harness.run { harness in
            let port = harness.daemonRun.port
            let idle = try (0..<200).map { _ in try Connection(port: port) }
            let dribblers = try (0..<50).map { _ in try Connection(port: port) }
            for connection in dribblers { connection.send("POST /v1/renames HTTP/1.1\r\nHost: x\r\n") }
            let started = ContinuousClock.now

            // While they hold their connections, a normal client is served, well before the holders
            // are cut off (10 s): the bound separates "served" from "blocked behind them", it is not
            // a latency target (the suite runs beside every other test).
            for _ in 0..<20 {
                let began = ContinuousClock.now
                #expect(try await harness.request(.GET, harness.daemonURL + "/healthz", token: nil).status == 200)
                #expect(ContinuousClock.now - began < .seconds(5))
            }

            // Oversized headers: refused and closed, not buffered.
            let big = try Connection(port: port)
            big.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n")
            #expect(await harness.eventually(timeout: 5) { big.closedByServer })

            // Dribbling a header byte at a time does not extend the head deadline (10 s).
            let dribble = Task {
                while !Task.isCancelled {
                    for connection in dribblers { connection.send("X") }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            defer { dribble.cancel() }
            #expect(await harness.eventually(timeout: 20) { idle.allSatisfy(\.closedByServer) && dribblers.allSatisfy(\.closedByServer) })
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .seconds(9), "cut off before the deadline: \(elapsed)")
            #expect(try await harness.request(.GET, harness.daemonURL + "/healthz", token: nil).status == 200)
        }
    }
}
