// inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch. The
// instances and the watch registry are in sentry/vfs/notify.h.
#include <errno.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/errno_status.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/notify.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

using A = ArgKind;

int64_t Err(const absl::Status& s) { return -cv::StatusToErrno(s); }

int64_t DoInit(Task& t, int flags) {
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) return -EINVAL;
  uint64_t limit;
  {
    std::lock_guard<std::mutex> lock(t.thread_group().mu);
    limit = t.thread_group().rlimits[RLIMIT_NOFILE].rlim_cur;
  }
  auto file = std::make_shared<vfs::Inotify>(flags & IN_NONBLOCK);
  return t.fd_table().Install(std::move(file), flags & IN_CLOEXEC, limit);
}

int64_t InotifyInit(Task& t, const SyscallArgs&) { return DoInit(t, 0); }

int64_t InotifyInit1(Task& t, const SyscallArgs& a) {
  return DoInit(t, static_cast<int>(a[0]));
}

// The instance at `fd`: -EBADF if none (O_PATH fds count as none, as
// fdget), -EINVAL if it is another kind of file.
int64_t GetInstance(Task& t, int fd, std::shared_ptr<vfs::Inotify>* out) {
  vfs::FileRef f = t.fd_table().Get(fd);
  if (f == nullptr || f->is_path()) return -EBADF;
  *out = std::dynamic_pointer_cast<vfs::Inotify>(f);
  return *out == nullptr ? -EINVAL : 0;
}

int64_t InotifyAddWatch(Task& t, const SyscallArgs& a) {
  const uint32_t mask = static_cast<uint32_t>(a[2]);
  // Linux's order: the mask, then the fd, then the path.
  if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) return -EINVAL;
  if ((mask & vfs::kInotifyAllBits) == 0) return -EINVAL;
  std::shared_ptr<vfs::Inotify> in;
  if (int64_t err = GetInstance(t, static_cast<int>(a[0]), &in); err != 0) {
    return err;
  }
  std::string path;
  if (int err = t.CopyInString(a[1], vfs::kPathMax, &path); err != 0) {
    return err;
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  vfs::ResolveContext ctx = vfs::MakeResolveContext(t.fs(), &who);
  int rflags = (mask & IN_DONT_FOLLOW) ? 0 : vfs::kFollowFinal;
  absl::StatusOr<vfs::Path> p = vfs::ResolvePath(ctx, path, rflags);
  if (!p.ok()) return Err(p.status());
  if ((mask & IN_ONLYDIR) && !p->dentry->IsDir()) return -ENOTDIR;
  // Watching needs read permission on the file.
  absl::StatusOr<struct stat> st = p->inode()->Stat();
  if (!st.ok()) return Err(st.status());
  if (int err = vfs::CheckPermission(*st, who, vfs::kMayRead); err != 0) {
    return err;
  }
  return in->AddWatch(*p, mask);
}

int64_t InotifyRmWatch(Task& t, const SyscallArgs& a) {
  std::shared_ptr<vfs::Inotify> in;
  if (int64_t err = GetInstance(t, static_cast<int>(a[0]), &in); err != 0) {
    return err;
  }
  return in->RemoveWatch(static_cast<int>(a[1]));
}

}  // namespace

void RegisterInotifySyscalls(SyscallTable& table) {
  table.Register(SYS_inotify_init, InotifyInit);
  table.Register(SYS_inotify_init1, InotifyInit1, {A::kHex});
  table.Register(SYS_inotify_add_watch, InotifyAddWatch,
                 {A::kFd, A::kPath, A::kHex});
  table.Register(SYS_inotify_rm_watch, InotifyRmWatch, {A::kFd, A::kInt});
}

}  // namespace sentry
