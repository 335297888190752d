// pipe and pipe2: a new pipe (sentry/fs/pipe.h) installed as two fds.
#include "sentry/fs/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <mutex>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

using A = ArgKind;

int64_t DoPipe2(Task& t, uint64_t addr, int flags) {
  // O_NOTIFICATION_PIPE (== O_EXCL) needs CONFIG_WATCH_QUEUE: not offered.
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -EINVAL;
  uint64_t limit;
  {
    std::lock_guard<std::mutex> lock(t.thread_group().mu);
    limit = t.thread_group().rlimits[RLIMIT_NOFILE].rlim_cur;
  }
  auto [r, w] = fs::NewPipe(flags, t.creds().fsuid, t.creds().fsgid);
  bool cloexec = flags & O_CLOEXEC;
  int fds[2];
  fds[0] = t.fd_table().Install(std::move(r), cloexec, limit);
  if (fds[0] < 0) return fds[0];
  fds[1] = t.fd_table().Install(std::move(w), cloexec, limit);
  if (fds[1] < 0) {
    t.fd_table().Remove(fds[0]);
    return fds[1];
  }
  // Linux reserves the fds, copies them out and only then installs them;
  // here they are installed first and taken back if the copy faults, so
  // another thread of the process could glimpse them in between.
  if (int err = t.CopyOut(addr, fds, sizeof fds); err) {
    t.fd_table().Remove(fds[0]);
    t.fd_table().Remove(fds[1]);
    return err;
  }
  return 0;
}

int64_t Pipe(Task& t, const SyscallArgs& a) { return DoPipe2(t, a[0], 0); }

int64_t Pipe2(Task& t, const SyscallArgs& a) {
  return DoPipe2(t, a[0], static_cast<int>(a[1]));
}

}  // namespace

void RegisterPipeSyscalls(SyscallTable& table) {
  table.Register(SYS_pipe, Pipe, {A::kHex});
  table.Register(SYS_pipe2, Pipe2, {A::kHex, A::kOpenFlags});
}

}  // namespace sentry
