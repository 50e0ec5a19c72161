import Foundation
import RenamerCore
import RenamerServer
import RenamerTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Request framing the daemon refuses (SPEC §10): a malformed chunked body is `400`, a transfer
/// coding other than `chunked` is `501`, each with exactly one answer on the connection.
@Suite("HTTP framing")
struct HTTPFramingTests {
    /// Sends `request` on a new connection and reads until the server closes it (bounded: 10 s
    /// without a byte ends the read), off the cooperative pool.
    /// With `halfClose`, the client shuts its sending side right after the request.
    static func exchange(port: Int, _ request: String, halfClose: Bool = false) async throws -> String {
        try await offload {
            let descriptor = try connectToLoopback(port: port)
            defer { close(descriptor) }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var bytes = Array(request.utf8)
            _ = send(descriptor, &bytes, bytes.count, Int32(MSG_NOSIGNAL))
            if halfClose { shutdown(descriptor, Int32(SHUT_WR)) }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                received += buffer[..<count]
            }
            return String(decoding: received, as: UTF8.self)
        }
    }

    /// The status codes of every response in `text`, in order.
    static func statuses(_ text: String) -> [Int] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
    }

    static func post(_ path: String, headers: [String], body: String) -> String {
        (["POST \(path) HTTP/1.1", "Host: x", "Authorization: Bearer \(Harness.catalogToken)", "Content-Type: application/json"]
            + headers + ["", body]).joined(separator: "\r\n")
    }

    @Test(arguments: ["/v1/renames", "/v1/notifications/cloudinary?cloud=main"])
    func aMalformedChunkIs400(_ path: String) async throws {
        try await Harness.run { harness in
            let request = Self.post(path, headers: ["Transfer-Encoding: chunked"], body: "zz\r\n{}\r\n0\r\n\r\n")
            let answer = try await Self.exchange(port: harness.daemonRun.port, request)
            #expect(Self.statuses(answer) == [400], "\(answer)")
            #expect(answer.contains("application/problem+json"), "\(answer)")
        }
    }

    @Test(arguments: ["gzip, chunked", "gzip", "identity", "GZIP, Chunked"])
    func otherTransferCodingsAre501(_ coding: String) async throws {
        try await Harness.run { harness in
            let body = coding.hasSuffix("chunked") ? "2\r\n{}\r\n0\r\n\r\n" : "{}"
            let request = Self.post("/v1/renames", headers: ["Transfer-Encoding: \(coding)", "Connection: close"], body: body)
            let answer = try await Self.exchange(port: harness.daemonRun.port, request)
            #expect(Self.statuses(answer) == [501], "\(coding): \(answer)")
            #expect(try await harness.allJobs().isEmpty)
        }
    }

    /// `chunked` before another coding leaves the body's length unknown: the HTTP decoder refuses
    /// the head itself (RFC 9112 §6.3: 400 and close), before any route could answer 501.
    @Test func chunkedThenAnotherCodingIsRefusedByTheDecoder() async throws {
        try await Harness.run { harness in
            let request = Self.post("/v1/renames", headers: ["Transfer-Encoding: chunked, gzip"], body: "2\r\n{}\r\n0\r\n\r\n")
            let answer = try await Self.exchange(port: harness.daemonRun.port, request)
            #expect(Self.statuses(answer) == [400], "\(answer)")
            #expect(try await harness.allJobs().isEmpty)
        }
    }
}
