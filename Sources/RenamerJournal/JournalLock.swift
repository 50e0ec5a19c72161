import Foundation
import RenamerCore

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a journal, held from opening until ``release()`` or the process's end (a
/// crash or kill -9 included: the kernel drops it with the process), so that SQLite mode has exactly
/// one writer (SPEC §8).
///
/// It is `flock(2)` on `<journal>.lock` beside the database, not on the database file itself:
/// SQLite's own POSIX locks on that file would be dropped when any other descriptor of it in the
/// process closed. The holder's pid is written into the lock file for the message a second
/// process prints.
final class JournalLock: Sendable {
    private let descriptor: Locked<Int32?>

    /// Takes the lock of the journal at `journalPath` without waiting.
    ///
    /// - Throws: ``JournalError`` when another process holds it or the lock file cannot be made.
    init(journalPath: String) throws(JournalError) {
        let path = journalPath + ".lock"
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError("cannot create the lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            guard failure == EWOULDBLOCK else { throw JournalError("cannot lock \(path): \(String(cString: strerror(failure)))") }
            let pid = holder.isEmpty ? "" : " (pid \(holder))"
            throw JournalError("\(journalPath) is locked by another process\(pid); in SQLite mode one daemon writes a journal")
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        descriptor = Locked(fd)
    }

    /// Releases the lock; later calls do nothing.
    func release() {
        let held = descriptor.withLock { fd in
            defer { fd = nil }
            return fd
        }
        if let held { close(held) }
    }

    deinit { release() }
}
