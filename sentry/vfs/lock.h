// Advisory file locks: flock(2) locks and fcntl(2) record locks (classic
// POSIX locks owned by a process, and OFD locks owned by an open file
// description). Locks are kept per file identity (st_dev, st_ino), not per
// Inode object, because a file system may hand out several Inode objects
// for one file.
#ifndef CVISOR_SENTRY_VFS_LOCK_H_
#define CVISOR_SENTRY_VFS_LOCK_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "sentry/vfs/file.h"

namespace sentry::vfs {

// Who holds a record lock. POSIX locks belong to the fd table, as Linux's
// fl_owner is the files_struct: `id` is PosixOwnerId(table), `pid` the
// process F_GETLK reports. `alive` (optional) says whether the owner still
// exists: the locks of an owner that has gone (a process that exited) are
// void even if nobody called ReleaseAllPosixLocks. It is called with the
// lock table's mutex held, so it must not block on other locks. OFD locks:
// `id` names the description (the lock functions set it), `pid` shows as
// -1.
struct LockOwner {
  bool ofd = false;
  uint64_t id = 0;
  pid_t pid = 0;
  std::function<bool()> alive;
};

inline uint64_t PosixOwnerId(const void* fd_table) {
  return reinterpret_cast<uintptr_t>(fd_table);
}

// A byte range [start, end], end inclusive; kLockEof is "to the end of the
// file, however long it grows".
inline constexpr uint64_t kLockEof = UINT64_MAX;

// flock(2) on `file`: `op` is LOCK_SH/LOCK_EX/LOCK_UN, maybe | LOCK_NB.
// 0, -EINVAL, -EWOULDBLOCK, or -ERESTARTSYS (kERestartSys) when a signal
// interrupts the wait. Converting a lock first drops the old one, as Linux.
int Flock(FileDescription& file, int op);

// F_SETLK/F_SETLKW/F_OFD_SETLK/F_OFD_SETLKW: `type` is F_RDLCK, F_WRLCK or
// F_UNLCK over [start, end]. With `wait`, sleeps until the range is free
// (-kERestartSys on a signal, -EDEADLK when two processes would wait on
// each other); without, -EAGAIN on a conflict.
int SetRecordLock(FileDescription& file, LockOwner owner, short type,
                  uint64_t start, uint64_t end, bool wait);

// F_GETLK/F_OFD_GETLK: the first lock of another owner that conflicts with
// `type` over [start, end]; returns false if none (the caller reports
// F_UNLCK).
struct LockInfo {
  short type = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  pid_t pid = 0;
};
int GetRecordLock(FileDescription& file, LockOwner owner, short type,
                  uint64_t start, uint64_t end, LockInfo* conflict,
                  bool* found);

// An fd of `file` left the fd table `owner` names (close, dup2 over it,
// close_range, close-on-exec): the table's POSIX locks on that file go, as
// Linux drops them on the close of ANY fd naming the file.
void ReleasePosixLocks(FileDescription& file, uint64_t owner);
// The fd table `owner` names is closed down (exit): all its POSIX locks go
// and their waiters wake at once.
void ReleaseAllPosixLocks(uint64_t owner);

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_LOCK_H_
