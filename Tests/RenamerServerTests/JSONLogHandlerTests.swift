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
}
