import COpenSSL
import Synchronization

/// Cryptographically secure random bytes from libcrypto's `RAND_bytes`.
public enum SecureRandom {
    /// `count` random bytes, straight from `RAND_bytes` (keys and tokens).
    public static func bytes(count: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return output }
        let ok = output.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(ok == 1, "RAND_bytes failed: the random generator is not seeded")
        return output
    }

    /// A random identifier of `byteCount` bytes written in lowercase hex.
    public static func hexToken(byteCount: Int = 16) -> String {
        Hex.encode(bytes(count: byteCount))
    }

    /// `count` random bytes for an identifier (a job's, an event's, a request's), taken from
    /// ``IdentifierPool``: unpredictable like ``bytes(count:)``, without a `RAND_bytes` call each.
    public static func identifierBytes(count: Int) -> [UInt8] {
        IdentifierPool.shared.take(count)
    }

    /// ``identifierBytes(count:)`` in lowercase hex.
    public static func identifierHex(byteCount: Int) -> String {
        Hex.encode(identifierBytes(count: byteCount))
    }
}

/// `RAND_bytes` output drawn 4 KiB at a time and handed out in slices, each byte once: a call costs
/// ~3,300 instructions whatever its size, and a job took three (its id, its event's id, the
/// request id), ~1 % of its instructions. Only identifiers come from here; keys and tokens never
/// sit in a shared buffer (``SecureRandom/bytes(count:)``).
final class IdentifierPool: Sendable {
    static let shared = IdentifierPool()
    static let size = 4096

    private struct State {
        var bytes = [UInt8](repeating: 0, count: IdentifierPool.size)
        /// Bytes before this offset were handed out (or never drawn).
        var next = IdentifierPool.size
    }

    private let state = Mutex(State())

    func take(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        guard count <= Self.size / 4 else { return SecureRandom.bytes(count: count) }
        return state.withLock { state in
            if state.next + count > Self.size {
                let ok = state.bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
                precondition(ok == 1, "RAND_bytes failed: the random generator is not seeded")
                state.next = 0
            }
            defer { state.next += count }
            return Array(state.bytes[state.next..<(state.next + count)])
        }
    }
}
