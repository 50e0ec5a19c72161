import Foundation
import HTTPTypes
import Hummingbird

/// Answers `501` to a request whose `Transfer-Encoding` names any coding but `chunked` (SPEC §10):
/// the daemon decodes none, and `gzip, chunked` read as plain chunked would hand the routes
/// compressed bytes as if they were JSON.
///
/// The body is read and dropped first, whatever its framing: left unread, Hummingbird would read it
/// after the answer and, on a framing error, write a second answer. The request deadlines bound how
/// long that takes.
struct TransferCodingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let coding = Self.unsupportedCoding(request.headers) else { return try await next(request, context) }
        do {
            for try await _ in request.body {}
        } catch {}
        return Problem(
            .notImplemented,
            "unsupported-transfer-coding",
            "Transfer-Encoding \(coding) is not supported; send the body as is or chunked",
            headers: [.connection: "close"]
        ).response
    }

    /// The first coding other than `chunked` in the request's `Transfer-Encoding` lines, if any.
    static func unsupportedCoding(_ headers: HTTPFields) -> String? {
        for field in headers where field.name == .transferEncoding {
            for coding in field.value.split(separator: ",") {
                let name = coding.trimmingCharacters(in: .whitespaces).lowercased()
                if name != "chunked" { return name.isEmpty ? "(empty)" : name }
            }
        }
        return nil
    }
}
