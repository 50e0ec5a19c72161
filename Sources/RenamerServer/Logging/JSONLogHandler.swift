import Foundation
import Logging
import RenamerCore

/// A swift-log handler that writes one JSON object per line:
/// `{"ts":"…","level":"info","msg":"…","logger":"…", <metadata>}`. Metadata given as numbers or
/// booleans (`.stringConvertible(200)`) are written as JSON numbers and booleans; one request id
/// per line (`request_id`: Hummingbird's own `hb.request.id` is left out).
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogOutput

    public init(label: String, output: LogOutput = .standardError) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var json = JSONWriter(capacity: 256)
        json.object { json in
            json.field("ts", RFC3339.string(Date(), milliseconds: true))
            json.field("level", event.level.rawValue)
            json.field("msg", event.message.description)
            json.field("logger", label)
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) where !Self.reserved.contains(key) {
                json.key(key)
                Self.write(value, to: &json)
            }
        }
        json.raw([UInt8(ascii: "\n")])
        output.write(Data(json.bytes))
    }

    /// Keys of every line, which metadata cannot replace, and Hummingbird's request id (the
    /// daemon's `request_id`, echoed as `X-Request-Id`, is the one callers see).
    static let reserved: Set<String> = ["ts", "level", "msg", "logger", "hb.request.id"]

    static func write(_ value: Logger.MetadataValue, to json: inout JSONWriter) {
        switch value {
        case .string(let string): json.string(string)
        case .stringConvertible(let convertible):
            switch convertible {
            case let value as Bool: json.bool(value)
            case let value as Int: json.int(value)
            case let value as Int64: json.int(Int(value))
            case let value as Int32: json.int(Int(value))
            case let value as UInt16: json.int(Int(value))
            case let value as Double where value.isFinite: json.raw(Array(Self.number(value).utf8))
            default: json.string(convertible.description)
            }
        case .array(let array):
            json.array(array) { element, json in write(element, to: &json) }
        case .dictionary(let dictionary):
            json.object { json in
                for (key, element) in dictionary.sorted(by: { $0.key < $1.key }) {
                    json.key(key)
                    write(element, to: &json)
                }
            }
        }
    }
}

extension JSONLogHandler {
    /// A finite double as JSON: integral values without a fraction, others as Swift prints them.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// Where log lines go; writes are serialised so lines never interleave.
public final class LogOutput: Sendable {
    public static let standardError = LogOutput(handle: FileHandle.standardError)
    public static let standardOutput = LogOutput(handle: FileHandle.standardOutput)

    private let handle: Locked<FileHandle>

    public init(handle: FileHandle) {
        self.handle = Locked(handle)
    }

    func write(_ data: Data) {
        handle.withLock { $0.write(data) }
    }
}
