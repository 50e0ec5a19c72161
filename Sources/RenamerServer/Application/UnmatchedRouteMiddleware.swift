import HTTPTypes
import Hummingbird

/// Answers requests no route matched with a problem document instead of Hummingbird's empty 404:
/// `405` with `Allow` when the path exists under other methods, else `404`.
///
/// Add it to the router after every route: Hummingbird puts all middleware in front of the
/// not-found responder, but only earlier middleware in front of the routes, so this one sees only
/// unmatched requests, and the route table it is built from is complete.
struct UnmatchedRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    private let routes: [(path: RouterPath, methods: [HTTPRequest.Method])]

    init(routes: [Router<Context>.RouteDescription]) {
        var table: [(path: RouterPath, methods: [HTTPRequest.Method])] = []
        for route in routes {
            if let index = table.firstIndex(where: { $0.path == route.path }) {
                table[index].methods.append(route.method)
            } else {
                table.append((route.path, [route.method]))
            }
        }
        self.routes = table
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = allowedMethods(for: request.uri.path)
            guard !allowed.isEmpty else { return Problem(.notFound, "not-found", "no such endpoint").response }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            return Problem(
                .methodNotAllowed,
                "method-not-allowed",
                "\(request.method.rawValue) is not allowed here; use \(allow)",
                headers: [.allow: allow]
            ).response
        }
    }

    /// Methods routed for `path`, in registration order.
    func allowedMethods(for path: String) -> [HTTPRequest.Method] {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        let matching = routes.first { route in
            route.path.components.count == components.count
                && zip(route.path.components, components).allSatisfy { element, component in element ~= component }
        }
        return matching?.methods ?? []
    }
}
