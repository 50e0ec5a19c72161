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
///
/// The bytes go to a buffer of its own rather than an `Array`: each `Array.append` checks that the
/// array is unshared and has room, and a job's row took ~17,000 instructions, a fifth of them in
/// those checks (issue 17; a job writes ~5 rows and ~3 bodies). A writer is used by one owner:
/// a copy of it writes to the same buffer.
public struct JSONWriter {
    private let buffer: Buffer
    private var first = true

    public init(capacity: Int = 1024) {
        buffer = Buffer(capacity: capacity)
    }

    /// What has been written.
    public var bytes: [UInt8] {
        [UInt8](UnsafeBufferPointer(start: buffer.base, count: buffer.count))
    }

    /// Bytes of `value` as JSON.
    public static func encode(_ value: some JSONWritable) -> [UInt8] {
        var writer = JSONWriter()
        value.write(to: &writer)
        return writer.bytes
    }

    /// Growable bytes, appended to without checks of sharing.
    private final class Buffer {
        private(set) var base: UnsafeMutablePointer<UInt8>
        private(set) var count = 0
        private var capacity: Int

        init(capacity: Int) {
            self.capacity = Swift.max(capacity, 64)
            base = .allocate(capacity: self.capacity)
        }

        deinit {
            base.deallocate()
        }

        /// Room for `length` more bytes: where they go. ``advance(_:)`` counts them once written.
        @inline(__always)
        func reserve(_ length: Int) -> UnsafeMutablePointer<UInt8> {
            if length > capacity &- count { grow(length) }
            return base + count
        }

        @inline(__always)
        func advance(_ length: Int) {
            count &+= length
        }

        @inline(__always)
        func append(_ byte: UInt8) {
            reserve(1).pointee = byte
            count &+= 1
        }

        @inline(__always)
        func append(_ bytes: UnsafeRawBufferPointer) {
            guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
            reserve(bytes.count).update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
            count &+= bytes.count
        }

        @inline(never)
        private func grow(_ length: Int) {
            let newCapacity = Swift.max(capacity * 2, count + length)
            let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            newBase.update(from: base, count: count)
            base.deallocate()
            base = newBase
            capacity = newCapacity
        }
    }

    // MARK: Structure

    /// Writes `{`, the fields `body` adds with ``field(_:_:)`` and its relatives, and `}`.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        buffer.append(UInt8(ascii: "{"))
        let outer = first
        first = true
        body(&self)
        first = outer
        buffer.append(UInt8(ascii: "}"))
    }

    /// Writes a JSON array of `elements`.
    public mutating func array<Element: JSONWritable>(_ elements: some Sequence<Element>) {
        array(elements) { element, json in element.write(to: &json) }
    }

    /// Writes a JSON array, each element written by `write`.
    public mutating func array<Elements: Sequence>(_ elements: Elements, _ write: (Elements.Element, inout JSONWriter) -> Void) {
        buffer.append(UInt8(ascii: "["))
        var firstElement = true
        for element in elements {
            if !firstElement { buffer.append(UInt8(ascii: ",")) }
            firstElement = false
            write(element, &self)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// Writes `"name":` inside an object; the value must follow.
    public mutating func key(_ name: StaticString) {
        // A one-character literal may be held as a scalar, without bytes to copy from.
        guard name.hasPointerRepresentation else { return key(name.description) }
        let length = name.utf8CodeUnitCount
        var out = buffer.reserve(length &+ 4)
        if !first {
            out.pointee = UInt8(ascii: ",")
            out += 1
        }
        out.pointee = UInt8(ascii: "\"")
        (out + 1).update(from: name.utf8Start, count: length)
        out += length &+ 1
        out.pointee = UInt8(ascii: "\"")
        (out + 1).pointee = UInt8(ascii: ":")
        buffer.advance(first ? length &+ 3 : length &+ 4)
        first = false
    }

    /// Writes `"name":` for a key known only at run time (escaped like any string).
    public mutating func key(_ name: String) {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        string(name)
        buffer.append(UInt8(ascii: ":"))
    }

    // MARK: Values

    public mutating func null() {
        literal("null")
    }

    private mutating func literal(_ text: StaticString) {
        text.withUTF8Buffer { buffer.append(UnsafeRawBufferPointer($0)) }
    }

    public mutating func string(_ value: String) {
        buffer.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            // Runs between escapes are copied whole: most strings are one run.
            let bytes = UnsafeRawBufferPointer(utf8)
            var from = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.append(UnsafeRawBufferPointer(rebasing: bytes[from..<index]))
                appendEscaped(byte)
                from = index + 1
            }
            buffer.append(UnsafeRawBufferPointer(rebasing: bytes[from...]))
        }
        buffer.append(UInt8(ascii: "\""))
    }

    public mutating func int(_ value: Int) {
        // Digits backwards into a scratch area, then copied: no `String`.
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { scratch in
            var index = 20
            repeat {
                index -= 1
                scratch[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            if value < 0 { buffer.append(UInt8(ascii: "-")) }
            buffer.append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[index...]))
        }
    }

    public mutating func bool(_ value: Bool) {
        literal(value ? "true" : "false")
    }

    /// Seconds since 1970 as a number, exactly (journal timestamps).
    public mutating func seconds(_ value: Date) {
        var text = "\(value.timeIntervalSince1970)"
        text.withUTF8 { buffer.append(UnsafeRawBufferPointer($0)) }
    }

    /// An RFC 3339 timestamp as a JSON string (it needs no escaping).
    mutating func timestamp(_ value: Date) {
        let out = buffer.reserve(RFC3339.maxLength &+ 2)
        out.pointee = UInt8(ascii: "\"")
        let length = RFC3339.write(value, milliseconds: false, to: out + 1)
        (out + (length &+ 1)).pointee = UInt8(ascii: "\"")
        buffer.advance(length &+ 2)
    }

    /// `value` as a JSON string of standard base64 with padding (Foundation's encoder), appended as
    /// it is: the alphabet needs no escaping, so the encoding skips a `String` and the escape scan.
    public mutating func base64(_ value: [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        Data(value).base64EncodedData().withUnsafeBytes { buffer.append($0) }
        buffer.append(UInt8(ascii: "\""))
    }

    /// JSON text written elsewhere, inserted as it is.
    public mutating func raw(_ json: [UInt8]) {
        json.withUnsafeBytes { buffer.append($0) }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        buffer.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): buffer.append(byte)
        case 0x08: buffer.append(UInt8(ascii: "b"))
        case 0x0C: buffer.append(UInt8(ascii: "f"))
        case 0x0A: buffer.append(UInt8(ascii: "n"))
        case 0x0D: buffer.append(UInt8(ascii: "r"))
        case 0x09: buffer.append(UInt8(ascii: "t"))
        default:
            let out = buffer.reserve(5)
            out[0] = UInt8(ascii: "u")
            out[1] = UInt8(ascii: "0")
            out[2] = UInt8(ascii: "0")
            out[3] = Self.hexDigit(byte >> 4)
            out[4] = Self.hexDigit(byte & 0xF)
            buffer.advance(5)
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
        timestamp(value)
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
