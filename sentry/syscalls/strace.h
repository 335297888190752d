// --strace: one log line per application syscall, with the task id, the
// syscall's name, its decoded arguments and its result or errno name.
#ifndef CVISOR_SENTRY_SYSCALLS_STRACE_H_
#define CVISOR_SENTRY_SYSCALLS_STRACE_H_

#include <cstdint>
#include <string>

#include "sentry/syscalls/syscall.h"

namespace sentry {

// Formats "name(arg, ...)" from the arguments as they are at entry (strings
// the application passes in must be read before the call can change them).
std::string StraceEntry(Task& task, uint64_t nr, const SyscallArgs& args);
// Logs the whole line once the result is known; output buffers are decoded
// now that the kernel has filled them.
void StraceExit(Task& task, uint64_t nr, const SyscallArgs& args,
                int64_t result, const std::string& entry);

// "ENOENT" for 2, and so on.
const char* ErrnoName(int err);

}  // namespace sentry

#endif  // CVISOR_SENTRY_SYSCALLS_STRACE_H_
