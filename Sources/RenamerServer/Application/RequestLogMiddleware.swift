import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RenamerCrypto

/// Gives every request an id and logs it once at `info` (SPEC §2; issue "logs and metrics"):
/// `X-Request-Id` from the caller when it is 1–128 visible ASCII characters, else a new one; echoed
/// in the response; added as `request_id` to every log line of the request. The access log line
/// carries method, path (no query: it may hold a job id but never a secret), status and duration.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = request.headers.value(.requestID).flatMap(Self.acceptable) ?? SecureRandom.identifierHex(byteCount: 8)
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        let started = ContinuousClock.now
        let status: Int
        var response: Response
        do {
            response = try await next(request, context)
            status = response.status.code
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
            status = response.status.code
        }
        response.headers[.requestID] = id
        Self.log(context.logger, method: request.method.rawValue, path: request.uri.path, status: status, since: started)
        return response
    }

    /// The access log line (also written by FastAcceptHandler for the requests it answers).
    static func log(_ logger: Logger, method: String, path: String, status: Int, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info(
            "request",
            metadata: [
                "method": "\(method)", "path": "\(path)", "status": .stringConvertible(status),
                "duration_ms": .stringConvertible((milliseconds * 100).rounded() / 100),
            ]
        )
    }

    static func acceptable(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count), value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return value
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
}
