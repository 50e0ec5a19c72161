import Foundation
import Synchronization

/// Starts child processes one at a time. Foundation's `Process.run()` crashed once (a bad memcpy
/// inside it, stress run with two busy loops) while other tests started processes on other
/// threads at the same moment; every test that starts a process goes through here.
public enum ProcessLaunch {
    private static let lock = Mutex(())

    public static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }
}
