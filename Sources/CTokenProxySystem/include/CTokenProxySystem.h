#ifndef C_TOKENPROXY_SYSTEM_H
#define C_TOKENPROXY_SYSTEM_H

/// Makes this process produce no core dump and refuses ptrace attachment by other processes of the same user
/// (RLIMIT_CORE = 0 and, on Linux, PR_SET_DUMPABLE = 0). Returns 0 on success, or the errno of the first failure.
/// A C shim because prctl(2) is variadic and cannot be called from Swift.
int c_tokenproxy_disable_core_dumps(void);

/// Whether the process is currently dumpable (1), not dumpable (0), or unknown (-1).
int c_tokenproxy_is_dumpable(void);

#endif
