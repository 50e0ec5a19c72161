import Foundation

/// The job's JSON form (SPEC §2): snake_case keys, RFC 3339 UTC timestamps, explicit `null`s.
extension RenameJob: Codable {
    enum CodingKeys: String, CodingKey {
        case id, status, cloud
        case fromPublicID = "from_public_id"
        case toPublicID = "to_public_id"
        case resourceType = "resource_type"
        case type
        case toType = "to_type"
        case overwrite, invalidate
        case clientReference = "client_reference"
        case attempts
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case completedAt = "completed_at"
        case result, invalidation, error, callback
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(cloud, forKey: .cloud)
        try container.encode(fromPublicID, forKey: .fromPublicID)
        try container.encode(toPublicID, forKey: .toPublicID)
        try container.encode(resourceType, forKey: .resourceType)
        try container.encode(type, forKey: .type)
        try container.encode(toType, forKey: .toType)
        try container.encode(overwrite, forKey: .overwrite)
        try container.encode(invalidate, forKey: .invalidate)
        try container.encode(clientReference, forKey: .clientReference)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(RFC3339.string(createdAt), forKey: .createdAt)
        try container.encode(RFC3339.string(updatedAt), forKey: .updatedAt)
        try container.encode(completedAt.map { RFC3339.string($0) }, forKey: .completedAt)
        try container.encode(result, forKey: .result)
        try container.encode(invalidation, forKey: .invalidation)
        try container.encode(error, forKey: .error)
        try container.encode(callback, forKey: .callback)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        client = ""
        status = try container.decode(JobStatus.self, forKey: .status)
        cloud = try container.decode(String.self, forKey: .cloud)
        fromPublicID = try container.decode(String.self, forKey: .fromPublicID)
        toPublicID = try container.decode(String.self, forKey: .toPublicID)
        resourceType = try container.decode(ResourceType.self, forKey: .resourceType)
        type = try container.decode(DeliveryType.self, forKey: .type)
        toType = try container.decodeIfPresent(DeliveryType.self, forKey: .toType)
        overwrite = try container.decode(Bool.self, forKey: .overwrite)
        invalidate = try container.decode(Bool.self, forKey: .invalidate)
        clientReference = try container.decodeIfPresent(String.self, forKey: .clientReference)
        attempts = try container.decode(Int.self, forKey: .attempts)
        createdAt = try RFC3339.decode(container, .createdAt)
        updatedAt = try RFC3339.decode(container, .updatedAt)
        completedAt = try container.decodeIfPresent(String.self, forKey: .completedAt).flatMap(RFC3339.date)
        let result = try container.decodeIfPresent(RenameResult.self, forKey: .result)
        invalidation = try container.decode(Invalidation.self, forKey: .invalidation)
        error = try container.decodeIfPresent(JobError.self, forKey: .error)
        callback = try container.decode(Callback.self, forKey: .callback)
        notifiedAt = nil
        callbackEvent = nil
        self.result = result
    }
}

extension RenameJob.Invalidation: Codable {
    enum CodingKeys: String, CodingKey {
        case status, method
        case confirmedAt = "confirmed_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(method, forKey: .method)
        try container.encode(confirmedAt.map { RFC3339.string($0) }, forKey: .confirmedAt)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(Status.self, forKey: .status)
        method = try container.decodeIfPresent(Method.self, forKey: .method)
        confirmedAt = try container.decodeIfPresent(String.self, forKey: .confirmedAt).flatMap(RFC3339.date)
    }
}

extension RenameJob.Callback: Codable {
    enum CodingKeys: String, CodingKey {
        case url, status, attempts
        case lastStatus = "last_status"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(url, forKey: .url)
        try container.encode(status, forKey: .status)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(lastStatus, forKey: .lastStatus)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decodeIfPresent(String.self, forKey: .url)
        status = try container.decode(Status.self, forKey: .status)
        attempts = try container.decode(Int.self, forKey: .attempts)
        lastStatus = try container.decodeIfPresent(Int.self, forKey: .lastStatus)
    }
}

/// RFC 3339 timestamps in UTC with whole seconds: `2026-11-27T10:00:00Z`.
public enum RFC3339 {
    /// `date` rounded down to the second, in UTC. Written by hand: `ISO8601FormatStyle` costs
    /// microseconds per call, and every job body carries two or three timestamps.
    /// With `milliseconds`, three fractional digits follow the seconds (log timestamps).
    public static func string(_ date: Date, milliseconds: Bool = false) -> String {
        String(unsafeUninitializedCapacity: maxLength) { write(date, milliseconds: milliseconds, to: $0.baseAddress!) }
    }

    /// The most bytes ``write(_:milliseconds:to:)`` writes.
    static let maxLength = 24

    /// Writes ``string(_:milliseconds:)``'s text at `start` (room for ``maxLength`` bytes) and
    /// returns its length: the JSON writer's timestamps, two or three per job body.
    static func write(_ date: Date, milliseconds: Bool, to start: UnsafeMutablePointer<UInt8>) -> Int {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let (days, second) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let dayNumber = second < 0 ? days - 1 : days
        let secondOfDay = second < 0 ? second + 86_400 : second
        // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
        let shifted = dayNumber + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let year4 = min(max(year, 0), 9999)
        let fraction = milliseconds ? min(Int((date.timeIntervalSince1970 - date.timeIntervalSince1970.rounded(.down)) * 1000), 999) : 0
        func digit(_ value: Int) -> UInt8 { UInt8(ascii: "0") + UInt8(truncatingIfNeeded: value % 10) }
        var count = 0
        func put(_ byte: UInt8) {
            start[count] = byte
            count += 1
        }
        put(digit(year4 / 1000))
        put(digit(year4 / 100))
        put(digit(year4 / 10))
        put(digit(year4))
        put(UInt8(ascii: "-"))
        put(digit(month / 10))
        put(digit(month))
        put(UInt8(ascii: "-"))
        put(digit(day / 10))
        put(digit(day))
        put(UInt8(ascii: "T"))
        put(digit(secondOfDay / 36_000))
        put(digit(secondOfDay / 3600))
        put(UInt8(ascii: ":"))
        put(digit(secondOfDay / 600 % 6))
        put(digit(secondOfDay / 60))
        put(UInt8(ascii: ":"))
        put(digit(secondOfDay % 60 / 10))
        put(digit(secondOfDay))
        if milliseconds {
            put(UInt8(ascii: "."))
            put(digit(fraction / 100))
            put(digit(fraction / 10))
            put(digit(fraction))
        }
        put(UInt8(ascii: "Z"))
        return count
    }

    public static func date(_ string: String) -> Date? {
        wholeSeconds(string) ?? (try? Date.ISO8601FormatStyle().parse(string))
            ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, the form ``string(_:milliseconds:)`` writes, without a formatter
    /// (stored jobs carry three timestamps each); nil for anything else, left to the formatter.
    static func wholeSeconds(_ string: String) -> Date? {
        let utf8 = string.utf8
        guard utf8.count == 20 else { return nil }
        return utf8.withContiguousStorageIfAvailable { bytes -> Date? in
            guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
                bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z")
            else { return nil }
            func number(_ range: Range<Int>) -> Int? {
                var value = 0
                for index in range {
                    let digit = bytes[index] &- UInt8(ascii: "0")
                    guard digit < 10 else { return nil }
                    value = value * 10 + Int(digit)
                }
                return value
            }
            guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
                let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), hour < 24, minute < 60,
                second < 60
            else { return nil }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            guard (1...monthDays).contains(day) else { return nil }
            // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
            let shiftedYear = month <= 2 ? year - 1 : year
            let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
            let yearOfEra = shiftedYear - era * 400
            let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            let days = era * 146_097 + dayOfEra - 719_468
            return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second))
        } ?? nil
    }

    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = date(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not an RFC 3339 date")
        }
        return date
    }
}
