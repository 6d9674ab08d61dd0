#ifndef C_TOKENPROXY_SYSTEM_H
#define C_TOKENPROXY_SYSTEM_H

/// Makes this process produce no core dump and refuses ptrace attachment by other processes of the same user
/// (RLIMIT_CORE = 0 and, on Linux, PR_SET_DUMPABLE = 0). Returns 0 on success, or the errno of the first failure.
/// A C shim because prctl(2) is variadic and cannot be called from Swift.
int c_tokenproxy_disable_core_dumps(void);

/// Whether the process is currently dumpable (1), not dumpable (0), or unknown (-1).
int c_tokenproxy_is_dumpable(void);

/// Gives the calling thread (not the whole process) the nice value `niceness`, so background writers yield the CPU
/// to the event loops on a busy machine. Returns 0 on success, or the errno. A C shim because Linux sets a thread's
/// priority by its thread id, which Swift cannot ask for (gettid is reached through the variadic syscall(2)).
int c_tokenproxy_set_thread_niceness(int niceness);

#endif
