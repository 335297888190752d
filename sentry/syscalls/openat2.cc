// openat2(2): open with a versioned struct open_how and RESOLVE_*
// restrictions on the path walk (sentry/vfs/path.h). Unlike openat, unknown
// flag bits and a mode without O_CREAT are errors.
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/errno_status.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/open.h"
#include "sentry/vfs/vfs.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace sentry {
namespace {

using A = ArgKind;

struct OpenHow {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
constexpr size_t kOpenHowSizeVer0 = 24;
constexpr size_t kPageSize = 4096;

constexpr uint64_t kTmpfileBit = 020000000;  // __O_TMPFILE
constexpr uint64_t kValidOpenFlags =
    O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |
    O_SYNC | O_DSYNC | O_ASYNC | O_DIRECT | vfs::kOLargefile | O_DIRECTORY |
    O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH | kTmpfileBit;
constexpr uint64_t kValidResolve =
    vfs::kResolveNoXdev | vfs::kResolveNoMagiclinks | vfs::kResolveNoSymlinks |
    vfs::kResolveBeneath | vfs::kResolveInRoot | vfs::kResolveCached;
constexpr uint64_t kOPathFlags = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;

int64_t Err(const absl::Status& s) { return -cv::StatusToErrno(s); }

int64_t Openat2(Task& t, const SyscallArgs& a) {
  int dirfd = static_cast<int>(a[0]);
  uint64_t how_addr = a[2];
  uint64_t usize = a[3];
  // copy_struct_from_user: older (smaller) structs are zero-extended, newer
  // ones must be zero beyond what this kernel knows.
  if (usize < kOpenHowSizeVer0) return -EINVAL;
  if (usize > kPageSize) return -E2BIG;
  OpenHow how{};
  if (int err = t.CopyIn(how_addr, &how, sizeof(how)); err != 0) return err;
  if (usize > sizeof(how)) {
    std::vector<unsigned char> rest(usize - sizeof(how));
    if (int err = t.CopyIn(how_addr + sizeof(how), rest.data(), rest.size());
        err != 0) {
      return err;
    }
    for (unsigned char b : rest) {
      if (b != 0) return -E2BIG;
    }
  }
  // build_open_flags, strictly.
  if (how.flags & ~kValidOpenFlags) return -EINVAL;
  if (how.resolve & ~kValidResolve) return -EINVAL;
  if ((how.resolve & vfs::kResolveBeneath) &&
      (how.resolve & vfs::kResolveInRoot)) {
    return -EINVAL;
  }
  int flags = static_cast<int>(how.flags);
  bool will_create = (flags & O_CREAT) || (how.flags & kTmpfileBit);
  if (will_create) {
    if (how.mode & ~static_cast<uint64_t>(07777)) return -EINVAL;
  } else if (how.mode != 0) {
    return -EINVAL;
  }
  if ((flags & O_PATH) && (how.flags & ~kOPathFlags)) return -EINVAL;
  if (how.resolve & vfs::kResolveCached) {
    // Only lookups the dentry cache can answer alone; the sandbox does not
    // tell, so the caller retries without RESOLVE_CACHED, as it must be
    // prepared to.
    return -EAGAIN;
  }

  std::string path;
  if (int err = t.CopyInString(a[1], vfs::kPathMax, &path); err != 0) {
    return err;
  }
  // The start matters even for absolute paths: RESOLVE_IN_ROOT makes it
  // "/", RESOLVE_NO_XDEV compares mounts against it.
  vfs::Path start;
  if (dirfd == AT_FDCWD) {
    start = t.fs().cwd();
  } else if (path.empty() || path[0] != '/' ||
             (how.resolve & (vfs::kResolveInRoot | vfs::kResolveBeneath |
                             vfs::kResolveNoXdev))) {
    vfs::FileRef f = t.fd_table().Get(dirfd);
    if (f == nullptr) return -EBADF;
    if (!f->path().valid() || !f->path().dentry->IsDir()) return -ENOTDIR;
    start = f->path();
  }
  absl::StatusOr<vfs::FileRef> file =
      vfs::OpenAtRestricted(t.fs(), t.creds(), start, path, flags,
                            static_cast<mode_t>(how.mode), how.resolve);
  if (!file.ok()) return Err(file.status());
  uint64_t limit;
  {
    std::lock_guard<std::mutex> lock(t.thread_group().mu);
    limit = t.thread_group().rlimits[RLIMIT_NOFILE].rlim_cur;
  }
  return t.fd_table().Install(*std::move(file), flags & O_CLOEXEC, limit);
}

}  // namespace

void RegisterOpenat2Syscalls(SyscallTable& table) {
  table.Register(SYS_openat2, Openat2, {A::kFd, A::kPath, A::kHex, A::kInt});
}

}  // namespace sentry
