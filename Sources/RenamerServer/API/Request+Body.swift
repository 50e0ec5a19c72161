import Hummingbird
import NIOCore

/// Why a request body could not be read.
enum BodyReadError: Error {
    /// Longer than the route's limit: `413`.
    case tooLarge
    /// Its framing is broken, a chunk size that is not hexadecimal for one: `400` (SPEC §10).
    case malformed
}

extension Request {
    /// The whole body, at most `limit` bytes (inclusive).
    func collectBody(upTo limit: Int) async throws(BodyReadError) -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw .tooLarge
        } catch {
            // The HTTP decoder's errors (HTTPParserError) end the body: the connection closes after
            // this answer, which Hummingbird sends as the only one.
            throw .malformed
        }
    }
}
