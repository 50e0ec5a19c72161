import Foundation

/// A type that writes itself as JSON through ``JSONWriter``.
public protocol JSONWritable {
    func write(to json: inout JSONWriter)
}

/// A JSON serializer for the daemon's own fixed-shape bodies (jobs, pages, events, journal rows).
///
/// Foundation's `JSONEncoder` goes through `Encodable`'s generic containers and was the largest
/// single cost of accepting a rename (about a sixth of the daemon's CPU, see docs/PERFORMANCE.md).
/// The shapes written here are fixed, so writing the bytes directly is short and about ten times
/// faster; decoding still uses `Codable`, and tests check that both agree on every field.
/// Strings are escaped as RFC 8259 requires: `"`, `\` and control characters; `/` and non-ASCII
/// are written as they are (UTF-8).
public struct JSONWriter {
    public private(set) var bytes: [UInt8]
    private var first = true

    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Bytes of `value` as JSON.
    public static func encode(_ value: some JSONWritable) -> [UInt8] {
        var writer = JSONWriter()
        value.write(to: &writer)
        return writer.bytes
    }

    // MARK: Structure

    /// Writes `{`, the fields `body` adds with ``field(_:_:)`` and its relatives, and `}`.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        let outer = first
        first = true
        body(&self)
        first = outer
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes a JSON array of `elements`.
    public mutating func array<Element: JSONWritable>(_ elements: some Sequence<Element>) {
        array(elements) { element, json in element.write(to: &json) }
    }

    /// Writes a JSON array, each element written by `write`.
    public mutating func array<Elements: Sequence>(_ elements: Elements, _ write: (Elements.Element, inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var firstElement = true
        for element in elements {
            if !firstElement { bytes.append(UInt8(ascii: ",")) }
            firstElement = false
            write(element, &self)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes `"name":` inside an object; the value must follow.
    public mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes `"name":` for a key known only at run time (escaped like any string).
    public mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    // MARK: Values

    public mutating func null() {
        literal("null")
    }

    private mutating func literal(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                appendEscaped(byte)
                start = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func int(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func bool(_ value: Bool) {
        literal(value ? "true" : "false")
    }

    /// Seconds since 1970 as a number, exactly (journal timestamps).
    public mutating func seconds(_ value: Date) {
        bytes.append(contentsOf: "\(value.timeIntervalSince1970)".utf8)
    }

    /// `value` as a JSON string of standard base64 with padding (Foundation's encoder), appended as
    /// it is: the alphabet needs no escaping, so the encoding skips a `String` and the escape scan.
    public mutating func base64(_ value: [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: Data(value).base64EncodedData())
        bytes.append(UInt8(ascii: "\""))
    }

    /// JSON text written elsewhere, inserted as it is.
    public mutating func raw(_ json: [UInt8]) {
        bytes.append(contentsOf: json)
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), Self.hexDigit(byte >> 4), Self.hexDigit(byte & 0xF)])
        }
    }
}

// MARK: Fields

extension JSONWriter {
    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    public mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    public mutating func field(_ name: StaticString, _ value: Int?) {
        key(name)
        if let value { int(value) } else { null() }
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// An RFC 3339 timestamp (the API's form).
    public mutating func field(_ name: StaticString, _ value: Date?) {
        key(name)
        guard let value else { return null() }
        // Written in place: the text needs no escaping.
        bytes.append(UInt8(ascii: "\""))
        RFC3339.write(value, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func field<Value: RawRepresentable>(_ name: StaticString, _ value: Value?) where Value.RawValue == String {
        key(name)
        if let value { string(value.rawValue) } else { null() }
    }

    public mutating func field(_ name: StaticString, _ value: (some JSONWritable)?) {
        key(name)
        if let value { value.write(to: &self) } else { null() }
    }
}
