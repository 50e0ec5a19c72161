import ArgumentParser
import Foundation
import RenamerCrypto

struct HashToken: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-token",
        abstract: "Read a bearer token on standard input and print its SHA-256 hex, for token_sha256.",
        discussion: "One trailing newline is ignored, so `echo token | asset-renamer hash-token` works too."
    )

    func run() throws {
        var input = FileHandle.standardInput.readDataToEndOfFile()
        if input.last == UInt8(ascii: "\n") { input.removeLast() }
        if input.last == UInt8(ascii: "\r") { input.removeLast() }
        guard !input.isEmpty else {
            FileHandle.standardError.write(Data("asset-renamer: hash-token: no token on standard input\n".utf8))
            throw ExitCode(2)
        }
        print(Digest.sha256Hex(input))
    }
}
