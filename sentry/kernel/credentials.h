// Credential rules shared by the credential syscalls, clone and execve: how
// the capability sets follow uid changes and execve (capabilities(7)), and
// the side effects of installing new credentials (commit_creds in Linux).
//
// Locking: a task's credentials and its creds.cc state (task.h) are written
// only under kernel().signal_mu(); another thread reads them under that lock,
// the task's own thread may read its own without it.
#ifndef CVISOR_SENTRY_KERNEL_CREDENTIALS_H_
#define CVISOR_SENTRY_KERNEL_CREDENTIALS_H_

#include <cstdint>

#include "sentry/kernel/task.h"

namespace sentry {

// The capabilities this kernel knows: 0 (CAP_CHOWN) to 40
// (CAP_CHECKPOINT_RESTORE), as Linux 5.9 and later.
inline constexpr int kCapLastCap = 40;
inline constexpr uint64_t kAllCaps = (uint64_t{1} << (kCapLastCap + 1)) - 1;
constexpr uint64_t CapBit(int cap) { return uint64_t{1} << cap; }

// Cleared from the effective set when the filesystem uid leaves 0, and
// restored (from the permitted set) when it returns: CHOWN, DAC_OVERRIDE,
// DAC_READ_SEARCH, FOWNER, FSETID, LINUX_IMMUTABLE, MKNOD, MAC_OVERRIDE.
inline constexpr uint64_t kFsCaps = CapBit(0) | CapBit(1) | CapBit(2) |
                                    CapBit(3) | CapBit(4) | CapBit(9) |
                                    CapBit(27) | CapBit(32);

// The securebits Linux 6.1 knows (the sandbox reports that release):
// NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE, and a lock bit
// above each.
inline constexpr uint32_t kSecureAllBits = 0x55;
inline constexpr uint32_t kSecureAllLocks = kSecureAllBits << 1;

// The value prctl(PR_GET_DUMPABLE) gives after credentials change
// (fs.suid_dumpable, whose default is 0).
inline constexpr int kSuidDumpable = 0;

// After setuid/setreuid/setresuid changed the ids from `old` to `next`:
// leaving uid 0 in all of the real, effective and saved uids clears the
// permitted and effective sets (unless SECBIT_KEEP_CAPS) and the ambient set;
// the effective uid leaving 0 clears the effective set, returning to 0
// restores it from the permitted set. Nothing with SECBIT_NO_SETUID_FIXUP.
void FixCapsAfterSetuid(const Credentials& old, Credentials& next);
// After setfsuid: the fs-related capabilities (kFsCaps) follow fsuid 0.
void FixCapsAfterSetfsuid(const Credentials& old, Credentials& next);

// The credentials after execve of a file that has no file capabilities and
// no set-user-ID/set-group-ID bit (the only kind the sandbox runs): a
// process with uid 0 (real or effective) gets bounding | inheritable |
// ambient as permitted, and the effective set is the permitted set if the
// euid is 0, else the ambient set; anyone else keeps only the ambient set.
// Saved and fs ids follow the effective ids; SECBIT_KEEP_CAPS is cleared.
// With `no_new_privs` the permitted set cannot grow (except by ambient).
void ApplyExecCredentials(Credentials& c, bool no_new_privs);

// Makes `next` the task's credentials with Linux's commit_creds side
// effects: when the effective or fs uid/gid changes, or the permitted set
// grows, the process becomes non-dumpable and the parent-death signal is
// cleared. Called on the task's own thread; takes signal_mu().
void CommitCredentials(Task& t, Credentials next);

// execve's credential step, at the point of no return: dumpability reset
// (1, or kSuidDumpable when the effective and real ids differ), then the
// new capability sets committed as above.
void ExecCredentials(Task& t);

// clone: copies what a new thread or process inherits from `parent` besides
// the credentials themselves: no_new_privs, nice and scheduling policy
// (reset by SCHED_RESET_ON_FORK), timer slack; the parent-death signal
// starts cleared. `new_process`: the child has its own ThreadGroup, which
// inherits dumpability (the subreaper flag is not inherited).
void InheritTaskCredsState(Task& parent, Task& child, bool new_process);

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_CREDENTIALS_H_
