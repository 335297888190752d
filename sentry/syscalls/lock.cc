// File locks: flock(2), and fcntl(2)'s record locks (F_SETLK, F_SETLKW,
// F_GETLK and the OFD forms), leases, F_NOTIFY and memfd seals. The lock
// tables are in sentry/vfs/lock.h.
#include "sentry/vfs/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstdint>
#include <limits>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/file_ops.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif

namespace sentry {
namespace {

using A = ArgKind;

// POSIX locks belong to the fd table (Linux's files_struct is fl_owner):
// they survive as long as the process's table, and a close of any fd of the
// file drops them.
vfs::LockOwner PosixOwner(Task& t) {
  vfs::LockOwner o;
  o.ofd = false;
  o.id = vfs::PosixOwnerId(t.shared_fd_table().get());
  o.pid = t.thread_group().tgid();
  // Gone once the table is, or once the process is a zombie (its Task may
  // hold the table a little longer, but Linux has dropped the locks before
  // the parent can reap it). Never blocks: if the tree lock is busy, the
  // owner counts as alive for now and a waiter looks again shortly.
  o.alive = [files = std::weak_ptr<vfs::FdTable>(t.shared_fd_table()),
             tg = std::weak_ptr<ThreadGroup>(t.shared_thread_group()),
             k = &t.kernel()] {
    if (files.expired()) return false;
    std::shared_ptr<ThreadGroup> g = tg.lock();
    if (g == nullptr) return false;
    std::unique_lock<std::mutex> lock(k->signal_mu(), std::try_to_lock);
    if (!lock.owns_lock()) return true;
    return !g->zombie;
  };
  return o;
}

// OFD locks: the lock functions fill in the description as the owner.
vfs::LockOwner OfdOwner() {
  vfs::LockOwner o;
  o.ofd = true;
  return o;
}

// Turns a struct flock into a byte range as Linux's flock_to_posix_lock:
// -EINVAL for a bad whence or a range starting before 0, -EOVERFLOW for one
// ending past the largest offset.
int64_t LockRange(vfs::FileDescription& f, const struct flock& fl,
                  uint64_t* start, uint64_t* end) {
  int64_t base;
  switch (fl.l_whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = f.Seek(0, SEEK_CUR);
      if (base < 0) base = 0;
      break;
    case SEEK_END: {
      absl::StatusOr<struct stat> st = f.Stat();
      if (!st.ok()) return -EIO;
      base = st->st_size;
      break;
    }
    default:
      return -EINVAL;
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (fl.l_start > 0 && base > kMax - fl.l_start) return -EOVERFLOW;
  int64_t s = base + fl.l_start;
  if (s < 0) return -EINVAL;
  int64_t e;
  if (fl.l_len > 0) {
    if (fl.l_len - 1 > kMax - s) return -EOVERFLOW;
    e = s + fl.l_len - 1;
  } else if (fl.l_len < 0) {
    e = s - 1;
    s += fl.l_len;
    if (s < 0) return -EINVAL;
  } else {
    *start = static_cast<uint64_t>(s);
    *end = vfs::kLockEof;
    return 0;
  }
  *start = static_cast<uint64_t>(s);
  *end = static_cast<uint64_t>(e);
  return 0;
}

int64_t GetLk(Task& t, vfs::FileDescription& f, uint64_t arg, bool ofd) {
  struct flock fl;
  if (int err = t.CopyInObj(arg, &fl); err != 0) return err;
  if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK) return -EINVAL;
  if (ofd && fl.l_pid != 0) return -EINVAL;
  uint64_t start, end;
  if (int64_t err = LockRange(f, fl, &start, &end); err != 0) return err;
  vfs::LockOwner owner = ofd ? OfdOwner() : PosixOwner(t);
  vfs::LockInfo info;
  bool found = false;
  if (int err =
          vfs::GetRecordLock(f, owner, fl.l_type, start, end, &info, &found);
      err != 0) {
    return err;
  }
  if (!found) {
    fl.l_type = F_UNLCK;
  } else {
    fl.l_type = info.type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(info.start);
    fl.l_len = info.end == vfs::kLockEof
                   ? 0
                   : static_cast<off_t>(info.end - info.start + 1);
    fl.l_pid = info.pid;
  }
  return t.CopyOutObj(arg, fl);
}

int64_t SetLk(Task& t, vfs::FileDescription& f, uint64_t arg, bool ofd,
              bool wait) {
  struct flock fl;
  if (int err = t.CopyInObj(arg, &fl); err != 0) return err;
  if (ofd && fl.l_pid != 0) return -EINVAL;
  switch (fl.l_type) {
    case F_RDLCK:
      if (!f.readable()) return -EBADF;
      break;
    case F_WRLCK:
      if (!f.writable()) return -EBADF;
      break;
    case F_UNLCK:
      break;
    default:
      return -EINVAL;
  }
  uint64_t start, end;
  if (int64_t err = LockRange(f, fl, &start, &end); err != 0) return err;
  vfs::LockOwner owner = ofd ? OfdOwner() : PosixOwner(t);
  return vfs::SetRecordLock(f, std::move(owner), fl.l_type, start, end, wait);
}

int64_t Flock(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = t.fd_table().Get(static_cast<int>(a[0]));
  if (f == nullptr || f->is_path()) return -EBADF;
  return vfs::Flock(*f, static_cast<int>(a[1]));
}

}  // namespace

int64_t FcntlLockOrSeal(Task& t, vfs::FileRef f, unsigned cmd, uint64_t arg,
                        bool* handled) {
  *handled = true;
  switch (cmd) {
    case F_GETLK:
      return GetLk(t, *f, arg, false);
    case F_OFD_GETLK:
      return GetLk(t, *f, arg, true);
    case F_SETLK:
    case F_SETLKW:
      return SetLk(t, *f, arg, false, cmd == F_SETLKW);
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return SetLk(t, *f, arg, true, cmd == F_OFD_SETLKW);
    case F_GETLEASE:
      // Nobody holds leases here.
      return F_UNLCK;
    case F_SETLEASE: {
      // Leases are for regular files only. The sandbox cannot break leases,
      // so it never grants one: EAGAIN, Linux's answer when other opens of
      // the file conflict, and also its answer for removing a lease one
      // does not hold.
      absl::StatusOr<struct stat> st = f->Stat();
      if (!st.ok() || !S_ISREG(st->st_mode)) return -EINVAL;
      if (arg != F_UNLCK && arg != F_RDLCK && arg != F_WRLCK) return -EINVAL;
      return -EAGAIN;
    }
    case F_NOTIFY: {
      // dnotify is not offered: directories say EINVAL; anything else is
      // ENOTDIR, as Linux checks that first.
      absl::StatusOr<struct stat> st = f->Stat();
      if (!st.ok() || !S_ISDIR(st->st_mode)) return -ENOTDIR;
      return -EINVAL;
    }
    case F_ADD_SEALS:
    case F_GET_SEALS: {
      // Only memfds carry seals; theirs live with the host file.
      int fd = f->host_fd();
      if (fd < 0) return -EINVAL;
      int rc = ::fcntl(fd, static_cast<int>(cmd), static_cast<int>(arg));
      return rc < 0 ? -errno : rc;
    }
    default:
      *handled = false;
      return -EINVAL;
  }
}

void ReleasePosixLocksOnClose(Task& t, vfs::FileDescription& file) {
  vfs::ReleasePosixLocks(file, vfs::PosixOwnerId(t.shared_fd_table().get()));
}

void RegisterLockSyscalls(SyscallTable& table) {
  table.Register(SYS_flock, Flock, {A::kFd, A::kHex});
}

}  // namespace sentry
