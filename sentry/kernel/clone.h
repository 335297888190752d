// clone(2): new processes (a forked stub) and new threads (a stub thread in
// the same address space), each run by a new task on its own host thread.
#ifndef CVISOR_SENTRY_KERNEL_CLONE_H_
#define CVISOR_SENTRY_KERNEL_CLONE_H_

#include <cstdint>

#include "sentry/kernel/task.h"

namespace sentry {

struct CloneArgs {
  uint64_t flags = 0;  // CLONE_* without the exit signal
  int exit_signal = 0;
  uint64_t stack = 0;  // new rsp, 0 to keep the parent's
  uint64_t parent_tid = 0;
  uint64_t child_tid = 0;
  uint64_t tls = 0;
};

// Returns the child's tid in the caller's PID namespace, or -errno.
int64_t Clone(Task& parent, const CloneArgs& args);

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_CLONE_H_
