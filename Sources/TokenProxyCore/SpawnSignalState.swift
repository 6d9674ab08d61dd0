import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The signal state a spawned child starts with.
///
/// Why it must be set: Swift concurrency's threads block SIGTERM and SIGINT, and service lifecycle ignores them; a
/// child inherits both the mask and ignored dispositions through exec, and would then survive every polite stop.
public enum SpawnSignalState {
    /// Sets `attributes` so the child starts with no signal blocked and `signals` at their default actions, in a
    /// process group of its own when `ownProcessGroup` is true (so a stop reaches the helpers it starts too).
    public static func apply(
        to attributes: inout posix_spawnattr_t, defaulting signals: [Int32], ownProcessGroup: Bool = false
    ) {
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaulted = sigset_t()
        sigemptyset(&defaulted)
        for signal in signals {
            sigaddset(&defaulted, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaulted)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
    }
}
