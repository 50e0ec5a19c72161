import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import RenamerServer

/// Requests no route matches: problem documents, `405` with `Allow` for known paths.
@Suite("Unmatched routes")
struct UnmatchedRouteTests {
    @Test(arguments: [
        ("/healthz", HTTPRequest.Method.post, "GET"), ("/v1/renames", .put, "GET, POST"), ("/v1/renames/rn_1", .patch, "DELETE, GET"),
        ("/v1/notifications/cloudinary", .get, "POST"),
    ])
    func knownPathsAnswer405WithAllow(_ path: String, _ method: HTTPRequest.Method, _ allow: String) async throws {
        let components = RenamerComponents(configuration: try await testConfiguration(), logger: Logger(label: "test"))
        try await buildApplication(components).test(.router) { client in
            try await client.execute(uri: path, method: method) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(Set(response.headers[.allow]?.components(separatedBy: ", ") ?? []) == Set(allow.components(separatedBy: ", ")))
                #expect(response.headers[.contentType] == "application/problem+json")
            }
        }
    }

    @Test(arguments: ["/", "/v1", "/v1/renames/rn_1/extra", "/healthz/x"])
    func unknownPathsAnswer404Problems(_ path: String) async throws {
        let components = RenamerComponents(configuration: try await testConfiguration(), logger: Logger(label: "test"))
        try await buildApplication(components).test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                #expect(problem?["type"] as? String == "urn:asset-renamer:problem:not-found")
            }
        }
    }

    @Test func routedRequestsAreUntouched() async throws {
        let components = RenamerComponents(configuration: try await testConfiguration(), logger: Logger(label: "test"))
        try await buildApplication(components).test(.router) { client in
            // A matched route answers for itself (here: no token), never 404/405.
            try await client.execute(uri: "/v1/renames/rn_1", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
