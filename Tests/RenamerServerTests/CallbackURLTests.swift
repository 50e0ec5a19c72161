import Testing

@testable import RenamerServer

@Suite("Callback URL rules")
struct CallbackURLTests {
    /// Each rule, asked twice (the second answer comes from memory and must be the same).
    @Test func eachRuleHoldsFromMemoryToo() {
        let cases: [(String, String?)] = [
            ("https://catalog.internal/hooks/renames", nil),
            ("http://127.0.0.1:8080/x?y=1", nil),
            ("ftp://catalog.internal/x", "must be an absolute http:// or https:// URL"),
            ("/relative/path", "must be an absolute http:// or https:// URL"),
            ("https://user:secret@catalog.internal/x", "must not contain credentials"),
            ("https://catalog.internal/a/../b", "must not contain . or .. path segments"),
            ("https://catalog.internal/" + String(repeating: "x", count: 2048), "must be at most 2048 bytes"),
        ]
        for _ in 0..<2 {
            for (url, problem) in cases { #expect(CallbackURL.problem(url) == problem, "\(url.prefix(60))") }
        }
    }
}
