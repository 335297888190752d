// The stub region: the code blob of stub.S placed at a fixed address near the
// top of the address space, and the seccomp filter that confines every stub
// process's syscalls to it.
#ifndef CVISOR_PLATFORM_PTRACE_STUB_H_
#define CVISOR_PLATFORM_PTRACE_STUB_H_

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/ptrace/tracee.h"

namespace platform::ptrace_internal {

// The region holds the stub code (one read-execute page) and one scratch
// read-write page.
inline constexpr uint64_t kStubRegionSize = 2 * 4096;

// Maps the stub region in this (the sentry's) process, so that the stub
// template forked from it finds it at the same address. Tries just below
// the top of the 47-bit address space and steps down past whatever is in the
// way (the main thread's stack may sit there when ASLR is off), never
// crossing a 4 GiB boundary (the filter compares the low 32 bits).
absl::StatusOr<StubAddresses> MapStubRegion();
void UnmapStubRegion(const StubAddresses& addrs);

// The stub's seccomp filter: a syscall is allowed only from the stub region
// on x86-64; from the [vsyscall] page it traps (SIGSYS, the call skipped);
// anything else kills the process. Under PTRACE_SYSEMU the application's
// syscalls stop at entry and are skipped before seccomp runs, so the filter
// only ever sees the stub's own (injected) syscalls -- unless tracing was
// somehow escaped, which is what it is for.
std::vector<sock_filter> StubSeccompFilter(uint64_t base, uint64_t size);

}  // namespace platform::ptrace_internal

#endif  // CVISOR_PLATFORM_PTRACE_STUB_H_
