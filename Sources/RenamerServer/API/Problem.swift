import Foundation
import Hummingbird
import RenamerCore

/// An RFC 9457 problem document (`application/problem+json`), the body of every API error.
struct Problem: Error, Sendable, JSONWritable {
    struct FieldError: Sendable, Equatable, JSONWritable {
        var field: String
        var message: String

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.field("field", field)
                json.field("message", message)
            }
        }
    }

    var type: String
    var title: String
    var status: Int
    var detail: String
    var errors: [FieldError]?
    /// Extra headers (`Retry-After`, `WWW-Authenticate`), not part of the body.
    var headers: HTTPFields = [:]

    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("type", type)
            json.field("title", title)
            json.field("status", status)
            json.field("detail", detail)
            if let errors {
                json.key("errors")
                json.array(errors)
            }
        }
    }

    init(_ status: HTTPResponse.Status, _ slug: String, _ detail: String, errors: [FieldError]? = nil, headers: HTTPFields = [:]) {
        self.type = "urn:asset-renamer:problem:\(slug)"
        self.title = status.reasonPhrase
        self.status = status.code
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    var response: Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        let body = JSONWriter.encode(self)
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, "unauthorized", detail, headers: [.wwwAuthenticate: #"Bearer realm="asset-renamer""#])
    }

    static func unavailable(_ detail: String, retryAfter: Int) -> Problem {
        Problem(.serviceUnavailable, "unavailable", detail, headers: [.retryAfter: String(retryAfter)])
    }

    static func tooManyRequests(_ slug: String, _ detail: String, retryAfter: Int) -> Problem {
        Problem(.tooManyRequests, slug, detail, headers: [.retryAfter: String(max(1, retryAfter))])
    }

    static func notFound(_ detail: String = "no such rename job") -> Problem {
        Problem(.notFound, "not-found", detail)
    }
}
