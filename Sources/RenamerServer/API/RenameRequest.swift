import Foundation
import RenamerConfig
import RenamerCore

/// Reads the fields of a JSON body, collecting every problem (422) rather than stopping at the
/// first. `prefix` names nested fields: `items[3].` for the items of a batch (SPEC §11).
struct FieldReader {
    let object: [String: JSONValue]
    let prefix: String
    var errors: [Problem.FieldError] = []

    init(_ object: [String: JSONValue], prefix: String = "", allowed: Set<String>) {
        self.object = object
        self.prefix = prefix
        // Unknown fields are 422: a typo such as `overwite` must not pass silently (SPEC §10). Sorted
        // for a stable answer, once there is one to give.
        if !object.keys.allSatisfy(allowed.contains) {
            for key in object.keys.sorted() where !allowed.contains(key) { fail(key, "unknown field") }
        }
    }

    mutating func fail(_ field: String, _ message: String) {
        errors.append(.init(field: prefix + field, message: message))
    }

    mutating func string(_ key: String, required: Bool = false) -> String? {
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

    mutating func bool(_ key: String) -> Bool? {
        switch object[key] {
        case nil, .null: return nil
        case .bool(let value): return value
        case .some(let other):
            fail(key, "must be a boolean, not \(other.typeName)")
            return nil
        }
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) -> T? where T.RawValue == String {
        guard let text = string(key) else { return nil }
        guard let value = T(rawValue: text) else {
            fail(key, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return value
    }

    /// A public ID (or folder) field, checked against Cloudinary's rules.
    mutating func publicID(_ key: String, required: Bool = true) -> String? {
        guard let value = string(key, required: required) else { return nil }
        if let problem = PublicID.problem(value) {
            fail(key, problem)
            return nil
        }
        return value
    }

    /// The fields every kind of job shares: `cloud`, `callback_url`, `client_reference`.
    mutating func common() -> (cloud: String?, callbackURL: String?, clientReference: String?) {
        let cloud = string("cloud")
        if let cloud, cloud.isEmpty { fail("cloud", "must not be empty") }
        let callbackURL = string("callback_url")
        if let callbackURL, let problem = CallbackURL.problem(callbackURL) { fail("callback_url", problem) }
        let clientReference = string("client_reference")
        if let clientReference, clientReference.utf8.count > 256 { fail("client_reference", "must be at most 256 bytes") }
        return (cloud, callbackURL, clientReference)
    }
}

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
        var reader = FieldReader(object, allowed: fields)
        let order = read(&reader)
        guard reader.errors.isEmpty, let order else { return .invalid(reader.errors) }
        return .valid(order)
    }

    /// The rename in `reader`'s object; nil when a required field is missing or invalid (the
    /// reader holds why). Batch items use it with their own prefix and without `callback_url`.
    static func read(_ reader: inout FieldReader) -> RenameOrder? {
        let from = reader.publicID("from_public_id")
        let to = reader.publicID("to_public_id")
        let resourceType = reader.choice("resource_type", ResourceType.self)
        let type = reader.choice("type", DeliveryType.self)
        let toType = reader.choice("to_type", DeliveryType.self)
        let overwrite = reader.bool("overwrite")
        let invalidate = reader.bool("invalidate")
        let (cloud, callbackURL, clientReference) = reader.common()
        if let from, let to, from == to, (toType ?? type ?? .upload) == (type ?? .upload) {
            reader.fail("to_public_id", "must differ from from_public_id unless to_type differs")
        }
        guard let from, let to else { return nil }
        var request = RenameOrder(fromPublicID: from, toPublicID: to)
        request.resourceType = resourceType ?? .image
        request.type = type ?? .upload
        request.toType = toType
        request.overwrite = overwrite ?? false
        request.invalidate = invalidate ?? true
        request.cloud = cloud
        request.callbackURL = callbackURL
        request.clientReference = clientReference
        return request
    }
}

/// Callback URL rules: absolute http(s), no credentials or dot segments; prefixes match at a
/// boundary (``CallbackURLPolicy``).
enum CallbackURL {
    /// What is wrong with `url` as a callback URL, nil when nothing; remembered per URL (callers
    /// send a handful, and parsing one cost ~25,000 instructions per accepted rename).
    static func problem(_ url: String) -> String? {
        guard url.utf8.count <= 2048 else { return "must be at most 2048 bytes" }
        return problems.value(url, check)
    }

    private static let problems = StringMemo<String?>(capacity: 1024)

    private static func check(_ url: String) -> String? {
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
