import CTokenProxySystem

/// Keeps secrets held in memory out of core files and away from debuggers of the same user.
public enum ProcessHardening {
    /// Sets RLIMIT_CORE to 0 and (on Linux) PR_SET_DUMPABLE to 0. Throws with the reason when the system refuses.
    public static func disableCoreDumps() throws(HardeningError) {
        let result = c_tokenproxy_disable_core_dumps()
        guard result == 0 else {
            throw HardeningError(description: "cannot disable core dumps: \(String(cString: strerror(result)))")
        }
    }

    /// Whether the process may currently dump core (`nil` where the system cannot tell).
    public static var isDumpable: Bool? {
        switch c_tokenproxy_is_dumpable() {
        case 0: return false
        case 1, 2: return true
        default: return nil
        }
    }
}

/// The system refused to harden the process.
public struct HardeningError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
