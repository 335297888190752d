// statfs/fstatfs, and the calls about a file's data on disk: fsync,
// fdatasync, sync, syncfs, sync_file_range, fadvise64, readahead and
// fallocate. The sandbox's file systems keep no dirty state of their own,
// so syncing forwards to the host fd where there is one and otherwise has
// nothing to do; the argument checks are Linux's.
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "common/errno_status.h"
#include "sentry/fs/pipe.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

using A = ArgKind;

constexpr long kPipefsMagic = 0x50495045;  // PIPEFS_MAGIC
// statfs(2) sets this in f_flags to say the ST_* bits are filled in.
constexpr long kStValid = 0x0020;

int64_t Err(const absl::Status& s) { return -cv::StatusToErrno(s); }

bool IsPipe(vfs::FileDescription& f) {
  return fs::PipeFcntl(f, F_GETPIPE_SZ, 0) >= 0;
}

mode_t FileType(vfs::FileDescription& f) {
  absl::StatusOr<struct stat> st = f.Stat();
  return st.ok() ? (st->st_mode & S_IFMT) : 0;
}

// The mount's flags as statfs reports them in f_flags (ST_*), on top of
// what the file system says.
long MountStFlags(const vfs::Mount& m) {
  long f = kStValid;
  int mf = m.flags();
  if (mf & MS_RDONLY) f |= ST_RDONLY;
  if (mf & MS_NOSUID) f |= ST_NOSUID;
  if (mf & MS_NODEV) f |= ST_NODEV;
  if (mf & MS_NOEXEC) f |= ST_NOEXEC;
  if (mf & MS_NOATIME) f |= ST_NOATIME;
  return f;
}

int64_t StatfsOf(Task& t, const vfs::Path& p, uint64_t buf) {
  absl::StatusOr<struct statfs> s = p.inode()->StatFs();
  if (!s.ok()) return Err(s.status());
  s->f_flags |= MountStFlags(*p.mount);
  return t.CopyOutObj(buf, *s);
}

int64_t Statfs(Task& t, const SyscallArgs& a) {
  std::string path;
  if (int err = t.CopyInString(a[0], vfs::kPathMax, &path); err != 0) {
    return err;
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  vfs::ResolveContext ctx = vfs::MakeResolveContext(t.fs(), &who);
  absl::StatusOr<vfs::Path> p = vfs::ResolvePath(ctx, path, vfs::kFollowFinal);
  if (!p.ok()) return Err(p.status());
  return StatfsOf(t, *p, a[1]);
}

int64_t Fstatfs(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = t.fd_table().Get(static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;  // O_PATH is fine (fdget_raw)
  if (f->path().valid()) return StatfsOf(t, f->path(), a[1]);
  if (IsPipe(*f)) {
    struct statfs s = {};
    s.f_type = kPipefsMagic;
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_namelen = 255;
    s.f_flags = kStValid;
    return t.CopyOutObj(a[1], s);
  }
  return -ENOSYS;
}

// fsync/fdatasync: files without ->fsync (pipes, sockets) say EINVAL.
int64_t DoFsync(Task& t, int fd, bool data_only) {
  vfs::FileRef f = t.fd_table().Get(fd);
  if (f == nullptr || f->is_path()) return -EBADF;
  if (IsPipe(*f)) return -EINVAL;
  if (int hfd = f->host_fd(); hfd >= 0 && f->writable()) {
    int rc = data_only ? ::fdatasync(hfd) : ::fsync(hfd);
    // The host fd may be a read-only mapping donation: nothing to flush.
    if (rc != 0 && errno != EBADF && errno != EINVAL) return -errno;
  }
  return 0;
}

int64_t Fsync(Task& t, const SyscallArgs& a) {
  return DoFsync(t, static_cast<int>(a[0]), false);
}

int64_t Fdatasync(Task& t, const SyscallArgs& a) {
  return DoFsync(t, static_cast<int>(a[0]), true);
}

int64_t Sync(Task&, const SyscallArgs&) { return 0; }

int64_t Syncfs(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = t.fd_table().Get(static_cast<int>(a[0]));
  if (f == nullptr || f->is_path()) return -EBADF;
  return 0;
}

int64_t SyncFileRange(Task& t, const SyscallArgs& a) {
  int64_t offset = static_cast<int64_t>(a[1]);
  int64_t nbytes = static_cast<int64_t>(a[2]);
  unsigned flags = static_cast<unsigned>(a[3]);
  constexpr unsigned kValid = SYNC_FILE_RANGE_WAIT_BEFORE |
                              SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER;
  if (flags & ~kValid) return -EINVAL;
  if (offset < 0) return -EINVAL;
  // nbytes == 0 means "to the end of the file".
  if (nbytes != 0) {
    uint64_t end =
        static_cast<uint64_t>(offset) + static_cast<uint64_t>(nbytes);
    if (static_cast<int64_t>(end) < 0) {
      return -EINVAL;
    }
    if (nbytes < 0) return -EINVAL;
  }
  vfs::FileRef f = t.fd_table().Get(static_cast<int>(a[0]));
  if (f == nullptr || f->is_path()) return -EBADF;
  mode_t type = FileType(*f);
  if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK &&
      type != S_IFBLK) {
    return -ESPIPE;
  }
  return 0;
}

int64_t Fadvise64(Task& t, const SyscallArgs& a) {
  int64_t len = static_cast<int64_t>(a[2]);
  int advice = static_cast<int>(a[3]);
  vfs::FileRef f = t.fd_table().Get(static_cast<int>(a[0]));
  if (f == nullptr || f->is_path()) return -EBADF;
  if (FileType(*f) == S_IFIFO) return -ESPIPE;
  if (len < 0) return -EINVAL;
  switch (advice) {
    case POSIX_FADV_NORMAL:
    case POSIX_FADV_RANDOM:
    case POSIX_FADV_SEQUENTIAL:
    case POSIX_FADV_WILLNEED:
    case POSIX_FADV_DONTNEED:
    case POSIX_FADV_NOREUSE:
      return 0;  // advice only: the host's page cache does its own thing
    default:
      return -EINVAL;
  }
}

int64_t Readahead(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = t.fd_table().Get(static_cast<int>(a[0]));
  if (f == nullptr || f->is_path() || !f->readable()) return -EBADF;
  mode_t type = FileType(*f);
  if (type != S_IFREG && type != S_IFBLK) return -EINVAL;
  return 0;
}

int64_t Fallocate(Task& t, const SyscallArgs& a) {
  int mode = static_cast<int>(a[1]);
  int64_t offset = static_cast<int64_t>(a[2]);
  int64_t len = static_cast<int64_t>(a[3]);
  vfs::FileRef f = t.fd_table().Get(static_cast<int>(a[0]));
  if (f == nullptr || f->is_path()) return -EBADF;
  // vfs_fallocate's checks, in its order.
  if (offset < 0 || len <= 0) return -EINVAL;
  constexpr int kSupported = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
                             FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE |
                             FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
  if (mode & ~kSupported) return -EOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) {
    return -EOPNOTSUPP;
  }
  if ((mode & FALLOC_FL_PUNCH_HOLE) &&
      (mode & ~(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))) {
    return -EOPNOTSUPP;
  }
  if (!f->writable()) return -EBADF;
  if ((mode & ~FALLOC_FL_KEEP_SIZE) && (f->flags() & O_APPEND)) return -EPERM;
  mode_t type = FileType(*f);
  if (type == S_IFIFO) return -ESPIPE;
  if (type == S_IFDIR) return -EISDIR;
  if (type != S_IFREG && type != S_IFBLK) return -ENODEV;
  if (offset > INT64_MAX - len) return -EFBIG;
  return f->Fallocate(mode, offset, len);
}

}  // namespace

void RegisterStatfsSyscalls(SyscallTable& table) {
  table.Register(SYS_statfs, Statfs, {A::kPath, A::kHex});
  table.Register(SYS_fstatfs, Fstatfs, {A::kFd, A::kHex});
  table.Register(SYS_fsync, Fsync, {A::kFd});
  table.Register(SYS_fdatasync, Fdatasync, {A::kFd});
  table.Register(SYS_sync, Sync);
  table.Register(SYS_syncfs, Syncfs, {A::kFd});
  table.Register(SYS_sync_file_range, SyncFileRange,
                 {A::kFd, A::kInt, A::kInt, A::kHex});
  table.Register(SYS_fadvise64, Fadvise64, {A::kFd, A::kInt, A::kInt, A::kInt});
  table.Register(SYS_readahead, Readahead, {A::kFd, A::kInt, A::kInt});
  table.Register(SYS_fallocate, Fallocate, {A::kFd, A::kHex, A::kInt, A::kInt});
}

}  // namespace sentry
