// close_range(2), registered by RegisterCredsSyscalls (creds.cc).
#include <errno.h>
#include <linux/close_range.h>

#include <cstdint>

#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/fd_table.h"

namespace sentry {

int64_t CloseRange(Task& t, const SyscallArgs& a) {
  const uint32_t first = static_cast<uint32_t>(a[0]);
  const uint32_t last = static_cast<uint32_t>(a[1]);
  const uint32_t flags = static_cast<uint32_t>(a[2]);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return -EINVAL;
  if (first > last) return -EINVAL;
  // UNSHARE: the caller stops sharing its table (CLONE_FILES) before the
  // change, so the processes or threads it shared with keep their fds. A
  // table nobody else holds is already private.
  if ((flags & CLOSE_RANGE_UNSHARE) && t.shared_fd_table().use_count() > 1) {
    t.set_fd_table(t.fd_table().Fork());
  }
  if (flags & CLOSE_RANGE_CLOEXEC) {
    t.fd_table().SetCloseOnExecRange(first, last);
  } else {
    t.fd_table().CloseRange(first, last);
  }
  return 0;
}

}  // namespace sentry
