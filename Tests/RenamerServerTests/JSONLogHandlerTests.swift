import Foundation
import Logging
import Testing

@testable import RenamerServer

@Suite("JSON logs")
struct JSONLogHandlerTests {
    @Test func oneObjectPerLineWithMetadata() throws {
        let pipe = Pipe()
        let output = LogOutput(handle: pipe.fileHandleForWriting)
        var logger = Logger(label: "test") { JSONLogHandler(label: $0, output: output) }
        logger[metadataKey: "request_id"] = "req-1"
        logger.info("hello \"world\"\nsecond line", metadata: ["job_id": "rn_1", "tags": ["a", "b"]])
        try pipe.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let lines = data.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0])) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["msg"] as? String == "hello \"world\"\nsecond line")
        #expect(object["request_id"] as? String == "req-1")
        #expect(object["job_id"] as? String == "rn_1")
        #expect(object["tags"] as? [String] == ["a", "b"])
        #expect((object["ts"] as? String)?.hasSuffix("Z") == true)
    }

    /// Numbers and booleans are JSON numbers and booleans; Hummingbird's own request id is left
    /// out, so a line carries one (`request_id`).
    @Test func numbersAndBooleansAreTypedAndOneRequestID() throws {
        let pipe = Pipe()
        let output = LogOutput(handle: pipe.fileHandleForWriting)
        var logger = Logger(label: "test") { JSONLogHandler(label: $0, output: output) }
        logger[metadataKey: "request_id"] = "req-1"
        logger[metadataKey: "hb.request.id"] = "hb-1"
        logger.info(
            "request",
            metadata: [
                "status": .stringConvertible(200), "duration_ms": .stringConvertible(1.25), "whole": .stringConvertible(3.0),
                "ok": .stringConvertible(true), "port": "8080",
            ]
        )
        try pipe.fileHandleForWriting.close()
        let line = pipe.fileHandleForReading.readDataToEndOfFile()
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""status":200"#) && text.contains(#""duration_ms":1.25"#) && text.contains(#""whole":3}"#))
        #expect(text.contains(#""ok":true"#))
        // A value given as a string stays one.
        #expect(text.contains(#""port":"8080""#))
        #expect(!text.contains("hb.request.id") && !text.contains("hb-1"))
        let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        #expect(object["status"] as? Int == 200)
    }
}
