// The gofer's seccomp filter: once the gofer has confined itself, it needs
// only the calls that serve requests on its one socket.
#ifndef CVISOR_GOFER_FILTER_H_
#define CVISOR_GOFER_FILTER_H_

#include "absl/status/status.h"

namespace gofer {

// ASan and TSan runtimes make syscalls of their own (pipe2, sigaltstack,
// reading /proc/self/maps, ...) at unpredictable moments. In such builds
// the filter is installed with a logging default action instead of a
// trapping one: same allow-list, not enforced.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kFilterEnforced = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kFilterEnforced = false;
#else
inline constexpr bool kFilterEnforced = true;
#endif
#else
inline constexpr bool kFilterEnforced = true;
#endif

// Exit status of a gofer killed for a forbidden syscall (128 + SIGSYS, what
// a shell would show for a process killed by SIGSYS).
inline constexpr int kSeccompViolationExit = 159;

// Installs the allow-list (see filter.cc) for a gofer serving `sock`. Any
// other call traps (when kFilterEnforced); the SIGSYS handler writes the
// syscall number to the log and ends the process with kSeccompViolationExit.
// Irreversible.
absl::Status InstallGoferFilter(int sock);

}  // namespace gofer

#endif  // CVISOR_GOFER_FILTER_H_
