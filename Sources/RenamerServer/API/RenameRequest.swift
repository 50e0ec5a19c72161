import Foundation
import RenamerConfig
import RenamerCore

/// Reads a `POST /v1/renames` body into a ``RenameOrder`` (SPEC §2), or every field's problem.
enum RenameRequest {
    static let fields: Set<String> = [
        "from_public_id", "to_public_id", "resource_type", "type", "to_type", "overwrite", "invalidate", "cloud",
        "callback_url", "client_reference",
    ]

    /// Reads and checks every field, collecting every problem (422) rather than stopping at the first.
    enum Parsed {
        case valid(RenameOrder)
        case invalid([Problem.FieldError])
    }

    static func parse(_ object: [String: JSONValue]) -> Parsed {
        var errors: [Problem.FieldError] = []
        func fail(_ field: String, _ message: String) { errors.append(.init(field: field, message: message)) }

        if object.keys.contains(where: { !fields.contains($0) }) {
            for key in object.keys.sorted() where !fields.contains(key) { fail(key, "unknown field") }
        }
        func string(_ key: String, required: Bool = false) -> String? {
            switch object[key] {
            case nil, .null:
                if required { fail(key, "is required") }
                return nil
            case .string(let value):
                return value
            case .some(let other):
                fail(key, "must be a string, not \(other.typeName)")
                return nil
            }
        }
        func bool(_ key: String) -> Bool? {
            switch object[key] {
            case nil, .null: return nil
            case .bool(let value): return value
            case .some(let other):
                fail(key, "must be a boolean, not \(other.typeName)")
                return nil
            }
        }
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) -> T? where T.RawValue == String {
            guard let text = string(key) else { return nil }
            guard let value = T(rawValue: text) else {
                fail(key, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return value
        }

        let from = string("from_public_id", required: true)
        let to = string("to_public_id", required: true)
        if let from, let problem = PublicID.problem(from) { fail("from_public_id", problem) }
        if let to, let problem = PublicID.problem(to) { fail("to_public_id", problem) }
        let resourceType = choice("resource_type", ResourceType.self)
        let type = choice("type", DeliveryType.self)
        let toType = choice("to_type", DeliveryType.self)
        let overwrite = bool("overwrite")
        let invalidate = bool("invalidate")
        let cloud = string("cloud")
        if let cloud, cloud.isEmpty { fail("cloud", "must not be empty") }
        let callbackURL = string("callback_url")
        if let callbackURL, let problem = CallbackURL.problem(callbackURL) { fail("callback_url", problem) }
        let clientReference = string("client_reference")
        if let clientReference, clientReference.utf8.count > 256 { fail("client_reference", "must be at most 256 bytes") }
        if let from, let to, from == to, (toType ?? type ?? .upload) == (type ?? .upload) {
            fail("to_public_id", "must differ from from_public_id unless to_type differs")
        }
        guard errors.isEmpty, let from, let to else { return .invalid(errors) }
        var request = RenameOrder(fromPublicID: from, toPublicID: to)
        request.resourceType = resourceType ?? .image
        request.type = type ?? .upload
        request.toType = toType
        request.overwrite = overwrite ?? false
        request.invalidate = invalidate ?? true
        request.cloud = cloud
        request.callbackURL = callbackURL
        request.clientReference = clientReference
        return .valid(request)
    }
}

/// Callback URL rules: absolute http(s), no credentials or dot segments; prefixes match at a
/// boundary (``CallbackURLPolicy``).
enum CallbackURL {
    static func problem(_ url: String) -> String? {
        guard url.utf8.count <= 2048 else { return "must be at most 2048 bytes" }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return "must be an absolute http:// or https:// URL" }
        if components.user != nil || components.password != nil { return "must not contain credentials" }
        let segments = components.path.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0 == "." || $0 == ".." }) { return "must not contain . or .. path segments" }
        return nil
    }

    static func allowed(_ url: String, for client: RenamerConfiguration.Client) -> Bool {
        CallbackURLPolicy.allowed(url, prefixes: client.callbackURLPrefixes)
    }
}
