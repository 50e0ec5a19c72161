import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, not Foundation's `Process`: on Linux `Process.run()`
/// over-reads a `/proc/self/fd` directory entry now and then and crashes the whole test run
/// (swift-corelibs-foundation PR #5472, in Swift 6.3.1; seen here as a bad memcpy in
/// `Process.run()` under load). The child gets the given descriptors as 0, 1 and 2 and no other
/// (`posix_spawn_file_actions_addclosefrom_np`), default signal handling, and an empty mask. Its
/// exit is an event, observed on a thread of its own.
public final class ChildProcess: Sendable {
    public let processIdentifier: pid_t
    private let exit = OneShot<Int32>()
    /// Signalled once the child has been reaped (for ``waitForExitBlocking()``).
    private let exited = DispatchSemaphore(value: 0)

    /// Starts `executable` (a path) with `arguments`; `environment` replaces the parent's.
    /// `stdin`, `stdout`, `stderr` are descriptors of the parent (nil: `/dev/null`); the caller
    /// still owns and closes them.
    public init(
        executable: String,
        arguments: [String],
        environment: [String: String],
        stdin: Int32? = nil,
        stdout: Int32? = nil,
        stderr: Int32? = nil
    ) throws {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw Failure(description: "cannot open /dev/null: errno \(errno)") }
        defer { close(null) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin ?? null, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout ?? null, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr ?? null, 2)
        // Nothing else of the test process (sockets, journal locks) leaks into the child.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var spawned: pid_t = 0
        let result = posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw Failure(description: "cannot start \(executable): \(String(cString: strerror(result)))") }
        let pid = spawned
        processIdentifier = pid
        let exit = exit
        let exited = exited
        Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            // Like a shell: the exit code, or 128 + the signal that ended it.
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            exit.fulfil(code)
            exited.signal()
        }.start()
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time: Swift's
    /// Glibc module does not declare it.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    public var isRunning: Bool { exit.value == nil }

    /// The exit status (or 128 + signal), nil if it has not exited within `timeout`.
    public func waitForExit(timeout: Duration) async -> Int32? {
        await exit.wait(timeout: timeout)
    }

    /// Blocks the calling thread until the child exits (once; not on the cooperative pool).
    public func waitForExitBlocking() -> Int32 {
        if let code = exit.value { return code }
        exited.wait()
        return exit.value ?? -1
    }

    public func signal(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// A pipe whose ends close on exec (a child gets only what it is given as 0, 1, 2; with
    /// `closefrom` in every spawn a leak would not matter either).
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw Failure(description: "pipe failed: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }
}
