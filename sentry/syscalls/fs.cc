// File syscalls: open/close, read/write and their vectored and positional
// forms, lseek, the stat family, getdents, readlink, access, extended
// attributes (xattr.cc), dup, fcntl, the working directory, ioctl, and the
// calls that change the tree (mkdir, mknod, link, symlink, unlink, rename)
// or a file's attributes (chmod, chown, truncate, utimes, umask). Argument
// checks follow Linux's order, so that a call with several things wrong
// fails with the errno Linux gives.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/errno_status.h"
#include "sentry/fs/pipe.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/file_ops.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/notify.h"
#include "sentry/vfs/vfs.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef STATX__RESERVED
#define STATX__RESERVED 0x80000000U
#endif
#ifndef AT_STATX_SYNC_TYPE
#define AT_STATX_SYNC_TYPE 0x6000
#endif

namespace sentry {
namespace {

using A = ArgKind;

// The application's struct stat and struct statx are the x86-64 kernel's,
// which glibc's match.
static_assert(sizeof(struct stat) == 144, "x86-64 struct stat");
static_assert(sizeof(struct statx) == 256, "struct statx");

// Highest user address + 1 (x86-64, 4-level paging): Linux's access_ok
// refuses ranges reaching past it with EFAULT before touching anything.
constexpr uint64_t kUserAddressLimit = 1ULL << 47;
// UIO_MAXIOV.
constexpr uint64_t kMaxIovecs = 1024;
// fchmodat2(2), Linux 6.6; older headers lack the number.
constexpr int kSysFchmodat2 = 452;

bool AccessOk(uint64_t addr, uint64_t len) {
  return addr <= kUserAddressLimit && len <= kUserAddressLimit - addr;
}

class TaskMemory final : public vfs::UserMemory {
 public:
  explicit TaskMemory(Task& t) : t_(t) {}
  int CopyIn(uint64_t addr, void* dst, size_t len) override {
    return t_.CopyIn(addr, dst, len);
  }
  int CopyOut(uint64_t addr, const void* src, size_t len) override {
    return t_.CopyOut(addr, src, len);
  }

 private:
  Task& t_;
};

int64_t Err(const absl::Status& s) { return -cv::StatusToErrno(s); }

uint64_t NofileLimit(Task& t) {
  std::lock_guard<std::mutex> lock(t.thread_group().mu);
  return t.thread_group().rlimits[RLIMIT_NOFILE].rlim_cur;
}

// A path argument: -EFAULT, or -ENAMETOOLONG for 4096 bytes without a NUL.
int CopyInPath(Task& t, uint64_t addr, std::string* path) {
  return t.CopyInString(addr, vfs::kPathMax, path);
}

// The file at `fd` for calls that do I/O on it: O_PATH descriptions are as
// good as closed (Linux's fdget).
vfs::FileRef GetFile(Task& t, int fd) {
  vfs::FileRef f = t.fd_table().Get(fd);
  if (f != nullptr && f->is_path()) return nullptr;
  return f;
}

// The file at `fd` for calls that only name it (fstat, fchdir, dup, fcntl,
// *at dirfds): O_PATH descriptions count (Linux's fdget_raw).
vfs::FileRef GetFileRaw(Task& t, int fd) { return t.fd_table().Get(fd); }

// Where a relative path given to an *at() call starts: the cwd (an invalid
// Path) or dirfd's directory. Absolute paths ignore dirfd entirely.
absl::StatusOr<vfs::Path> DirStart(Task& t, int dirfd, std::string_view path) {
  if (!path.empty() && path[0] == '/') return vfs::Path{};
  if (dirfd == AT_FDCWD) return vfs::Path{};
  vfs::FileRef f = GetFileRaw(t, dirfd);
  if (f == nullptr) return cv::ErrnoStatus(EBADF);
  if (!f->path().valid() || !f->path().dentry->IsDir()) {
    return cv::ErrnoStatus(ENOTDIR);
  }
  return f->path();
}

// What an *at() call names: a path, or with AT_EMPTY_PATH and "" the file
// dirfd refers to (which may be anonymous, like a pipe: then only `file`).
struct Target {
  vfs::Path path;
  vfs::FileRef file;

  absl::StatusOr<struct stat> Stat() const {
    if (file != nullptr) return file->Stat();
    return path.inode()->Stat();
  }
};

absl::StatusOr<Target> ResolveAt(Task& t, int dirfd, const std::string& path,
                                 bool follow, bool empty_ok,
                                 const vfs::AccessIdentity& who) {
  if (path.empty()) {
    if (!empty_ok) return cv::ErrnoStatus(ENOENT);
    if (dirfd == AT_FDCWD) return Target{t.fs().cwd(), nullptr};
    vfs::FileRef f = GetFileRaw(t, dirfd);
    if (f == nullptr) return cv::ErrnoStatus(EBADF);
    return Target{f->path(), f};
  }
  absl::StatusOr<vfs::Path> start = DirStart(t, dirfd, path);
  if (!start.ok()) return start.status();
  vfs::ResolveContext ctx = vfs::MakeResolveContext(t.fs(), &who, *start);
  absl::StatusOr<vfs::Resolved> r =
      vfs::Resolve(ctx, path, follow ? vfs::kFollowFinal : 0);
  if (!r.ok()) return r.status();
  if (r->path.valid()) return Target{std::move(r->path), nullptr};
  // A followed magic link to an anonymous file (/proc/self/fd/N of a
  // pipe): Linux names the pipe itself, so stat and access see it.
  if (r->file == nullptr) return cv::ErrnoStatus(ENOENT);
  return Target{vfs::Path{}, std::move(r->file)};
}

// ---- open / close ----

int64_t DoOpen(Task& t, int dirfd, uint64_t path_addr, int flags, mode_t mode) {
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  absl::StatusOr<vfs::Path> start = DirStart(t, dirfd, path);
  if (!start.ok()) return Err(start.status());
  absl::StatusOr<vfs::FileRef> file =
      vfs::OpenAt(t.fs(), t.creds(), *start, path, flags, mode & 07777);
  if (!file.ok()) return Err(file.status());
  return t.fd_table().Install(*std::move(file), flags & O_CLOEXEC,
                              NofileLimit(t));
}

int64_t Open(Task& t, const SyscallArgs& a) {
  return DoOpen(t, AT_FDCWD, a[0], static_cast<int>(a[1]),
                static_cast<mode_t>(a[2]));
}

int64_t OpenAt(Task& t, const SyscallArgs& a) {
  return DoOpen(t, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]),
                static_cast<mode_t>(a[3]));
}

int64_t Creat(Task& t, const SyscallArgs& a) {
  return DoOpen(t, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC,
                static_cast<mode_t>(a[1]));
}

int64_t Close(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = t.fd_table().Remove(static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  ReleasePosixLocksOnClose(t, *f);
  return 0;
}

// ---- read / write ----

// Reads the iovec array of readv/writev into ranges, as Linux's
// import_iovec: EINVAL for too many or a negative length, EFAULT for an
// unreadable array or a range outside user memory; the total is capped at
// MAX_RW_COUNT by shortening the ranges.
int ImportIovecs(Task& t, uint64_t addr, uint64_t count,
                 std::vector<vfs::IoSequence::Range>* ranges, size_t* total) {
  *total = 0;
  if (count > kMaxIovecs) return -EINVAL;
  if (count == 0) return 0;
  std::vector<struct iovec> iov(count);
  if (int err = t.CopyIn(addr, iov.data(), count * sizeof(struct iovec));
      err != 0) {
    return err;
  }
  for (const struct iovec& v : iov) {
    if (static_cast<ssize_t>(v.iov_len) < 0) return -EINVAL;
  }
  ranges->reserve(count);
  for (const struct iovec& v : iov) {
    uint64_t base = reinterpret_cast<uint64_t>(v.iov_base);
    size_t len = v.iov_len;
    if (!AccessOk(base, len)) return -EFAULT;
    len = std::min(len, vfs::kMaxRwCount - *total);
    *total += len;
    ranges->push_back({base, len});
  }
  return 0;
}

// A write that fails with EPIPE (no reader left) also sends the writer
// SIGPIPE, as Linux does for pipes and sockets.
int64_t Written(Task& t, int64_t n) {
  if (n == -EPIPE) {
    t.kernel().SignalThread(
        t.tid(),
        MakeSigInfo(SIGPIPE, SI_USER, t.thread_group().tgid(), t.creds().ruid));
  }
  return n;
}

int64_t Read(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr || !f->readable()) return -EBADF;
  if (!AccessOk(a[1], a[2])) return -EFAULT;
  size_t count = std::min<uint64_t>(a[2], vfs::kMaxRwCount);
  TaskMemory mem(t);
  vfs::IoSequence io = vfs::IoSequence::User(mem, a[1], count);
  return vfs::NotifyRead(*f, f->Read(io));
}

int64_t Write(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr || !f->writable()) return -EBADF;
  if (!AccessOk(a[1], a[2])) return -EFAULT;
  size_t count = std::min<uint64_t>(a[2], vfs::kMaxRwCount);
  TaskMemory mem(t);
  vfs::IoSequence io = vfs::IoSequence::User(mem, a[1], count);
  return Written(t, vfs::NotifyWrite(*f, f->Write(io)));
}

// Positional I/O: EINVAL for a negative offset comes before EBADF, and
// ESPIPE for a stream before the access mode, as on Linux.
int64_t PositionalIo(Task& t, const SyscallArgs& a, bool write) {
  int64_t pos = static_cast<int64_t>(a[3]);
  if (pos < 0) return -EINVAL;
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  if (f->stream()) return -ESPIPE;
  if (!(write ? f->writable() : f->readable())) return -EBADF;
  if (!AccessOk(a[1], a[2])) return -EFAULT;
  if (static_cast<int64_t>(static_cast<uint64_t>(pos) + a[2]) < 0) {
    return -EINVAL;
  }
  size_t count = std::min<uint64_t>(a[2], vfs::kMaxRwCount);
  TaskMemory mem(t);
  vfs::IoSequence io = vfs::IoSequence::User(mem, a[1], count);
  return write ? vfs::NotifyWrite(*f, f->PWrite(io, pos))
               : vfs::NotifyRead(*f, f->PRead(io, pos));
}

int64_t PRead64(Task& t, const SyscallArgs& a) {
  return PositionalIo(t, a, /*write=*/false);
}

int64_t PWrite64(Task& t, const SyscallArgs& a) {
  return PositionalIo(t, a, /*write=*/true);
}

int64_t VectorIo(Task& t, const SyscallArgs& a, bool write) {
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr || !(write ? f->writable() : f->readable())) return -EBADF;
  std::vector<vfs::IoSequence::Range> ranges;
  size_t total;
  if (int err = ImportIovecs(t, a[1], a[2], &ranges, &total); err != 0) {
    return err;
  }
  if (total == 0) return 0;
  TaskMemory mem(t);
  vfs::IoSequence io = vfs::IoSequence::User(mem, std::move(ranges));
  return write ? Written(t, vfs::NotifyWrite(*f, f->Write(io)))
               : vfs::NotifyRead(*f, f->Read(io));
}

int64_t ReadV(Task& t, const SyscallArgs& a) {
  return VectorIo(t, a, /*write=*/false);
}

int64_t WriteV(Task& t, const SyscallArgs& a) {
  return VectorIo(t, a, /*write=*/true);
}

// preadv/pwritev and their v2 forms. The offset is one register on x86-64
// (pos_h is ignored); for the v2 forms -1 means the file offset, as
// readv/writev.
int64_t DoPositionalV(Task& t, const SyscallArgs& a, bool write, bool v2) {
  int64_t pos = static_cast<int64_t>(a[3]);
  const bool at_offset = v2 && pos == -1;
  if (!at_offset && pos < 0) return -EINVAL;
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  if (!at_offset && f->stream()) return -ESPIPE;
  if (write ? !f->writable() : !f->readable()) return -EBADF;
  std::vector<vfs::IoSequence::Range> ranges;
  size_t total;
  if (int err = ImportIovecs(t, a[1], a[2], &ranges, &total); err != 0) {
    return err;
  }
  if (total == 0) return 0;
  // Hints that change nothing here are accepted; RWF_NOWAIT and the
  // per-call append modes are not implemented, which Linux reports for a
  // file that cannot honour them as EOPNOTSUPP.
  if (v2 && (static_cast<int>(a[5]) & ~(RWF_HIPRI | RWF_DSYNC | RWF_SYNC))) {
    return -EOPNOTSUPP;
  }
  TaskMemory mem(t);
  vfs::IoSequence io = vfs::IoSequence::User(mem, std::move(ranges));
  if (at_offset) {
    return write ? Written(t, vfs::NotifyWrite(*f, f->Write(io)))
                 : vfs::NotifyRead(*f, f->Read(io));
  }
  if (static_cast<int64_t>(static_cast<uint64_t>(pos) + total) < 0) {
    return -EINVAL;
  }
  return write ? vfs::NotifyWrite(*f, f->PWrite(io, pos))
               : vfs::NotifyRead(*f, f->PRead(io, pos));
}

int64_t PReadV(Task& t, const SyscallArgs& a) {
  return DoPositionalV(t, a, /*write=*/false, /*v2=*/false);
}
int64_t PWriteV(Task& t, const SyscallArgs& a) {
  return DoPositionalV(t, a, /*write=*/true, /*v2=*/false);
}
int64_t PReadV2(Task& t, const SyscallArgs& a) {
  return DoPositionalV(t, a, /*write=*/false, /*v2=*/true);
}
int64_t PWriteV2(Task& t, const SyscallArgs& a) {
  return DoPositionalV(t, a, /*write=*/true, /*v2=*/true);
}

int64_t LSeek(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  unsigned whence = static_cast<unsigned>(a[2]);
  if (whence > SEEK_HOLE) return -EINVAL;
  return f->Seek(static_cast<int64_t>(a[1]), static_cast<int>(whence));
}

// ---- stat ----

int64_t CopyOutStat(Task& t, uint64_t addr,
                    const absl::StatusOr<struct stat>& st) {
  if (!st.ok()) return Err(st.status());
  return t.CopyOutObj(addr, *st);
}

int64_t Fstat(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = GetFileRaw(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  return CopyOutStat(t, a[1], f->Stat());
}

int64_t DoFstatat(Task& t, int dirfd, uint64_t path_addr, uint64_t buf,
                  int flags) {
  // statx's sync-type bits are accepted and ignored (both at once too).
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH |
                AT_STATX_SYNC_TYPE)) {
    return -EINVAL;
  }
  std::string path;
  // Since Linux 6.11 a NULL path with AT_EMPTY_PATH means "".
  if (!(path_addr == 0 && (flags & AT_EMPTY_PATH))) {
    if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  absl::StatusOr<Target> target =
      ResolveAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW),
                flags & AT_EMPTY_PATH, who);
  if (!target.ok()) return Err(target.status());
  return CopyOutStat(t, buf, target->Stat());
}

int64_t Stat(Task& t, const SyscallArgs& a) {
  return DoFstatat(t, AT_FDCWD, a[0], a[1], 0);
}

int64_t Lstat(Task& t, const SyscallArgs& a) {
  return DoFstatat(t, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
}

int64_t NewFstatat(Task& t, const SyscallArgs& a) {
  return DoFstatat(t, static_cast<int>(a[0]), a[1], a[2],
                   static_cast<int>(a[3]));
}

int64_t Statx(Task& t, const SyscallArgs& a) {
  int dirfd = static_cast<int>(a[0]);
  int flags = static_cast<int>(a[2]);
  uint32_t mask = static_cast<uint32_t>(a[3]);
  if (mask & STATX__RESERVED) return -EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return -EINVAL;
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH |
                AT_STATX_SYNC_TYPE)) {
    return -EINVAL;
  }
  std::string path;
  if (!(a[1] == 0 && (flags & AT_EMPTY_PATH))) {
    if (int err = CopyInPath(t, a[1], &path); err != 0) return err;
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  absl::StatusOr<Target> target =
      ResolveAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW),
                flags & AT_EMPTY_PATH, who);
  if (!target.ok()) return Err(target.status());
  absl::StatusOr<struct stat> st = target->Stat();
  if (!st.ok()) return Err(st.status());
  struct statx sx;
  memset(&sx, 0, sizeof sx);
  // What the file systems know is the classic stat: report that (whatever
  // was asked for, as Linux does), plus the mount id when there is a mount.
  sx.stx_mask = STATX_BASIC_STATS;
  sx.stx_blksize = st->st_blksize;
  sx.stx_nlink = st->st_nlink;
  sx.stx_uid = st->st_uid;
  sx.stx_gid = st->st_gid;
  sx.stx_mode = st->st_mode;
  sx.stx_ino = st->st_ino;
  sx.stx_size = st->st_size;
  sx.stx_blocks = st->st_blocks;
  sx.stx_atime = {st->st_atim.tv_sec,
                  static_cast<uint32_t>(st->st_atim.tv_nsec), 0};
  sx.stx_mtime = {st->st_mtim.tv_sec,
                  static_cast<uint32_t>(st->st_mtim.tv_nsec), 0};
  sx.stx_ctime = {st->st_ctim.tv_sec,
                  static_cast<uint32_t>(st->st_ctim.tv_nsec), 0};
  sx.stx_rdev_major = major(st->st_rdev);
  sx.stx_rdev_minor = minor(st->st_rdev);
  sx.stx_dev_major = major(st->st_dev);
  sx.stx_dev_minor = minor(st->st_dev);
  if (target->path.valid()) {
    sx.stx_mask |= STATX_MNT_ID;
    sx.stx_mnt_id = target->path.mount->id();
  }
  return t.CopyOutObj(a[4], sx);
}

// ---- directories and links ----

int64_t DoGetDents(Task& t, const SyscallArgs& a, vfs::DirentFormat format) {
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  uint32_t count = static_cast<uint32_t>(a[2]);
  if (!AccessOk(a[1], count)) return -EFAULT;
  TaskMemory mem(t);
  vfs::IoSequence io = vfs::IoSequence::User(mem, a[1], count);
  return vfs::NotifyRead(*f, f->GetDents(io, format));
}

int64_t GetDents64(Task& t, const SyscallArgs& a) {
  return DoGetDents(t, a, vfs::DirentFormat::kDirent64);
}

int64_t GetDents(Task& t, const SyscallArgs& a) {
  return DoGetDents(t, a, vfs::DirentFormat::kDirent);
}

int64_t DoReadlinkat(Task& t, int dirfd, uint64_t path_addr, uint64_t buf,
                     int bufsiz) {
  if (bufsiz <= 0) return -EINVAL;
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  // readlinkat takes "" for dirfd itself (an O_PATH|O_NOFOLLOW symlink).
  absl::StatusOr<Target> target =
      ResolveAt(t, dirfd, path, /*follow=*/false, /*empty_ok=*/true, who);
  if (!target.ok()) return Err(target.status());
  if (!target->path.valid() || !target->path.dentry->IsSymlink()) {
    return path.empty() ? -ENOENT : -EINVAL;
  }
  absl::StatusOr<std::string> link = target->path.inode()->Readlink();
  if (!link.ok()) return Err(link.status());
  size_t n = std::min(link->size(), static_cast<size_t>(bufsiz));
  if (int err = t.CopyOut(buf, link->data(), n); err != 0) return err;
  return static_cast<int64_t>(n);
}

int64_t Readlink(Task& t, const SyscallArgs& a) {
  return DoReadlinkat(t, AT_FDCWD, a[0], a[1], static_cast<int>(a[2]));
}

int64_t ReadlinkAt(Task& t, const SyscallArgs& a) {
  return DoReadlinkat(t, static_cast<int>(a[0]), a[1], a[2],
                      static_cast<int>(a[3]));
}

// ---- access ----

int64_t DoFaccessat(Task& t, int dirfd, uint64_t path_addr, int mode,
                    int flags) {
  if (mode & ~(R_OK | W_OK | X_OK)) return -EINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
    return -EINVAL;
  }
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  // access(2) checks as the real ids — for the whole lookup, not only the
  // file — unless AT_EACCESS asks for the effective (file system) ones.
  const Credentials& creds = t.creds();
  vfs::AccessIdentity who =
      (flags & AT_EACCESS) ? vfs::FsIdentity(creds) : vfs::RealIdentity(creds);
  absl::StatusOr<Target> target =
      ResolveAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW),
                flags & AT_EMPTY_PATH, who);
  if (!target.ok()) return Err(target.status());
  if (mode == F_OK) return 0;
  absl::StatusOr<struct stat> st = target->Stat();
  if (!st.ok()) return Err(st.status());
  if ((mode & W_OK) && target->path.valid() &&
      vfs::WriteIsReadOnly(target->path, *st)) {
    return -EROFS;
  }
  // R_OK, W_OK and X_OK are the MAY_READ, MAY_WRITE and MAY_EXEC bits.
  return vfs::CheckPermission(*st, who, mode);
}

int64_t Access(Task& t, const SyscallArgs& a) {
  return DoFaccessat(t, AT_FDCWD, a[0], static_cast<int>(a[1]), 0);
}

int64_t FaccessAt(Task& t, const SyscallArgs& a) {
  return DoFaccessat(t, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]),
                     0);
}

int64_t FaccessAt2(Task& t, const SyscallArgs& a) {
  return DoFaccessat(t, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]),
                     static_cast<int>(a[3]));
}

// ---- dup / fcntl ----

int64_t Dup(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = GetFileRaw(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  return t.fd_table().Install(std::move(f), false, NofileLimit(t));
}

// dup3's checks in Linux's order; fds are unsigned there, so a negative
// newfd is a huge one: EBADF against the limit.
int64_t DoDup3(Task& t, uint32_t oldfd, uint32_t newfd, int flags) {
  if (flags & ~O_CLOEXEC) return -EINVAL;
  if (oldfd == newfd) return -EINVAL;
  uint64_t limit = NofileLimit(t);
  if (newfd >= limit) return -EBADF;
  vfs::FileRef f = GetFileRaw(t, static_cast<int>(oldfd));
  if (f == nullptr || oldfd > INT32_MAX) return -EBADF;
  // The file dup2 closes at newfd loses the process's POSIX locks.
  vfs::FileRef replaced = GetFileRaw(t, static_cast<int>(newfd));
  int rc = t.fd_table().InstallAt(static_cast<int>(newfd), std::move(f),
                                  flags & O_CLOEXEC, limit);
  if (rc >= 0 && replaced != nullptr) ReleasePosixLocksOnClose(t, *replaced);
  return rc;
}

int64_t Dup2(Task& t, const SyscallArgs& a) {
  uint32_t oldfd = static_cast<uint32_t>(a[0]);
  uint32_t newfd = static_cast<uint32_t>(a[1]);
  if (oldfd == newfd) {
    // dup2(fd, fd) only checks that fd is open.
    if (oldfd > INT32_MAX ||
        GetFileRaw(t, static_cast<int>(oldfd)) == nullptr) {
      return -EBADF;
    }
    return newfd;
  }
  return DoDup3(t, oldfd, newfd, 0);
}

int64_t Dup3(Task& t, const SyscallArgs& a) {
  return DoDup3(t, static_cast<uint32_t>(a[0]), static_cast<uint32_t>(a[1]),
                static_cast<int>(a[2]));
}

int64_t Fcntl(Task& t, const SyscallArgs& a) {
  int fd = static_cast<int>(a[0]);
  unsigned cmd = static_cast<unsigned>(a[1]);
  uint64_t arg = a[2];
  vfs::FileRef f = GetFileRaw(t, fd);
  if (f == nullptr) return -EBADF;
  // An O_PATH fd answers only the fd-level commands.
  if (f->is_path() && cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC &&
      cmd != F_GETFD && cmd != F_SETFD && cmd != F_GETFL) {
    return -EBADF;
  }
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      uint64_t limit = NofileLimit(t);
      if (arg >= limit || arg > INT32_MAX) return -EINVAL;
      return t.fd_table().Install(std::move(f), cmd == F_DUPFD_CLOEXEC, limit,
                                  static_cast<int>(arg));
    }
    case F_GETFD: {
      bool cloexec = false;
      if (t.fd_table().Get(fd, &cloexec) == nullptr) return -EBADF;
      return cloexec ? FD_CLOEXEC : 0;
    }
    case F_SETFD:
      return t.fd_table().SetCloseOnExec(fd, arg & FD_CLOEXEC);
    case F_GETFL:
      return f->flags();
    case F_SETFL:
      return f->SetFlags(static_cast<int>(arg));
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
      return fs::PipeFcntl(*f, cmd, arg);  // -EBADF unless a pipe
    default: {
      // Locks, leases, notifications and seals (lock.cc); owners and
      // signals come with the files that need them.
      bool handled = false;
      int64_t rc = FcntlLockOrSeal(t, std::move(f), cmd, arg, &handled);
      return handled ? rc : -EINVAL;
    }
  }
}

// ---- working directory ----

int64_t GetCwd(Task& t, const SyscallArgs& a) {
  std::string name = t.fs().PathName(t.fs().cwd());
  uint64_t size = a[1];
  if (name.size() + 1 > size) return -ERANGE;
  if (int err = t.CopyOut(a[0], name.c_str(), name.size() + 1); err != 0) {
    return err;
  }
  return static_cast<int64_t>(name.size() + 1);
}

int64_t Chdir(Task& t, const SyscallArgs& a) {
  std::string path;
  if (int err = CopyInPath(t, a[0], &path); err != 0) return err;
  return Err(vfs::ChangeDirectory(t.fs(), t.creds(), path));
}

int64_t Fchdir(Task& t, const SyscallArgs& a) {
  vfs::FileRef f = GetFileRaw(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  const vfs::Path& p = f->path();
  if (!p.valid() || !p.dentry->IsDir()) return -ENOTDIR;
  absl::StatusOr<struct stat> st = p.inode()->Stat();
  if (!st.ok()) return Err(st.status());
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  if (int err = vfs::CheckPermission(*st, who, vfs::kMayExec); err != 0) {
    return err;
  }
  t.fs().SetCwd(p);
  return 0;
}

// ---- changing the tree: mkdir, mknod, link, symlink, unlink, rename ----

// The start of a relative path for a call that changes the tree.
int64_t Start(Task& t, int dirfd, const std::string& path, vfs::Path* out) {
  absl::StatusOr<vfs::Path> start = DirStart(t, dirfd, path);
  if (!start.ok()) return Err(start.status());
  *out = *std::move(start);
  return 0;
}

int64_t DoMkdirat(Task& t, int dirfd, uint64_t path_addr, mode_t mode) {
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  vfs::Path start;
  if (int64_t err = Start(t, dirfd, path, &start); err != 0) return err;
  return Err(vfs::MkdirAt(t.fs(), t.creds(), start, path, mode));
}

int64_t Mkdir(Task& t, const SyscallArgs& a) {
  return DoMkdirat(t, AT_FDCWD, a[0], static_cast<mode_t>(a[1]));
}

int64_t MkdirAt(Task& t, const SyscallArgs& a) {
  return DoMkdirat(t, static_cast<int>(a[0]), a[1], static_cast<mode_t>(a[2]));
}

int64_t DoMknodat(Task& t, int dirfd, uint64_t path_addr, mode_t mode,
                  uint64_t dev) {
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  vfs::Path start;
  if (int64_t err = Start(t, dirfd, path, &start); err != 0) return err;
  // The kernel takes the old 32-bit encoding of the device number.
  dev_t d = makedev((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
  return Err(vfs::MknodAt(t.fs(), t.creds(), start, path, mode, d));
}

int64_t Mknod(Task& t, const SyscallArgs& a) {
  return DoMknodat(t, AT_FDCWD, a[0], static_cast<mode_t>(a[1]),
                   static_cast<uint32_t>(a[2]));
}

int64_t MknodAt(Task& t, const SyscallArgs& a) {
  return DoMknodat(t, static_cast<int>(a[0]), a[1], static_cast<mode_t>(a[2]),
                   static_cast<uint32_t>(a[3]));
}

int64_t DoUnlinkat(Task& t, int dirfd, uint64_t path_addr, int flags) {
  if (flags & ~AT_REMOVEDIR) return -EINVAL;
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  vfs::Path start;
  if (int64_t err = Start(t, dirfd, path, &start); err != 0) return err;
  return Err(vfs::UnlinkAt(t.fs(), t.creds(), start, path, flags));
}

int64_t Rmdir(Task& t, const SyscallArgs& a) {
  return DoUnlinkat(t, AT_FDCWD, a[0], AT_REMOVEDIR);
}

int64_t Unlink(Task& t, const SyscallArgs& a) {
  return DoUnlinkat(t, AT_FDCWD, a[0], 0);
}

int64_t UnlinkAt(Task& t, const SyscallArgs& a) {
  return DoUnlinkat(t, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]));
}

int64_t DoSymlinkat(Task& t, uint64_t target_addr, int dirfd,
                    uint64_t path_addr) {
  std::string target;
  if (int err = CopyInPath(t, target_addr, &target); err != 0) return err;
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  vfs::Path start;
  if (int64_t err = Start(t, dirfd, path, &start); err != 0) return err;
  return Err(vfs::SymlinkAt(t.fs(), t.creds(), target, start, path));
}

int64_t Symlink(Task& t, const SyscallArgs& a) {
  return DoSymlinkat(t, a[0], AT_FDCWD, a[1]);
}

int64_t SymlinkAt(Task& t, const SyscallArgs& a) {
  return DoSymlinkat(t, a[0], static_cast<int>(a[1]), a[2]);
}

int64_t DoLinkat(Task& t, int olddirfd, uint64_t old_addr, int newdirfd,
                 uint64_t new_addr, int flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  std::string old_path;
  if (int err = CopyInPath(t, old_addr, &old_path); err != 0) return err;
  std::string new_path;
  if (int err = CopyInPath(t, new_addr, &new_path); err != 0) return err;
  // Linking an fd's file by AT_EMPTY_PATH is for CAP_DAC_READ_SEARCH only.
  if ((flags & AT_EMPTY_PATH) && old_path.empty() &&
      !t.creds().HasCap(CAP_DAC_READ_SEARCH)) {
    return -ENOENT;
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  absl::StatusOr<Target> old =
      ResolveAt(t, olddirfd, old_path, flags & AT_SYMLINK_FOLLOW,
                flags & AT_EMPTY_PATH, who);
  if (!old.ok()) return Err(old.status());
  if (!old->path.valid()) return -ENOENT;  // an anonymous file
  vfs::Path start;
  if (int64_t err = Start(t, newdirfd, new_path, &start); err != 0) return err;
  return Err(vfs::LinkAt(t.fs(), t.creds(), old->path, start, new_path));
}

int64_t Link(Task& t, const SyscallArgs& a) {
  return DoLinkat(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
}

int64_t LinkAt(Task& t, const SyscallArgs& a) {
  return DoLinkat(t, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]), a[3],
                  static_cast<int>(a[4]));
}

int64_t DoRenameat2(Task& t, int olddirfd, uint64_t old_addr, int newdirfd,
                    uint64_t new_addr, unsigned flags) {
  std::string old_path;
  if (int err = CopyInPath(t, old_addr, &old_path); err != 0) return err;
  std::string new_path;
  if (int err = CopyInPath(t, new_addr, &new_path); err != 0) return err;
  vfs::Path old_start;
  if (int64_t err = Start(t, olddirfd, old_path, &old_start); err != 0) {
    return err;
  }
  vfs::Path new_start;
  if (int64_t err = Start(t, newdirfd, new_path, &new_start); err != 0) {
    return err;
  }
  return Err(vfs::RenameAt2(t.fs(), t.creds(), old_start, old_path, new_start,
                            new_path, flags));
}

int64_t Rename(Task& t, const SyscallArgs& a) {
  return DoRenameat2(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
}

int64_t RenameAt(Task& t, const SyscallArgs& a) {
  return DoRenameat2(t, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]),
                     a[3], 0);
}

int64_t RenameAt2(Task& t, const SyscallArgs& a) {
  return DoRenameat2(t, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]),
                     a[3], static_cast<unsigned>(a[4]));
}

// ---- attributes: chmod, chown, truncate, utimes, umask ----

// The file a *at() attribute call names; `flags` may hold
// AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH (the caller checked the rest).
int64_t AttrTarget(Task& t, int dirfd, uint64_t path_addr, int flags,
                   vfs::Path* out) {
  std::string path;
  if (int err = CopyInPath(t, path_addr, &path); err != 0) return err;
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  absl::StatusOr<Target> target =
      ResolveAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW),
                flags & AT_EMPTY_PATH, who);
  if (!target.ok()) return Err(target.status());
  // Anonymous files (pipes, sockets) have no attributes the sandbox keeps.
  if (!target->path.valid()) return -EPERM;
  *out = std::move(target->path);
  return 0;
}

// The file an f*() attribute call names: O_PATH descriptions are EBADF.
int64_t FdTarget(Task& t, int fd, vfs::Path* out) {
  vfs::FileRef f = GetFile(t, fd);
  if (f == nullptr) return -EBADF;
  if (!f->path().valid()) return -EPERM;
  *out = f->path();
  return 0;
}

int64_t DoFchmodat(Task& t, int dirfd, uint64_t path_addr, mode_t mode,
                   int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  vfs::Path p;
  if (int64_t err = AttrTarget(t, dirfd, path_addr, flags, &p); err != 0) {
    return err;
  }
  // Symlinks have no mode of their own to change (fchmodat2).
  if (p.dentry->IsSymlink()) return -EOPNOTSUPP;
  return Err(vfs::Chmod(t.creds(), p, mode));
}

int64_t Chmod(Task& t, const SyscallArgs& a) {
  return DoFchmodat(t, AT_FDCWD, a[0], static_cast<mode_t>(a[1]), 0);
}

int64_t FchmodAt(Task& t, const SyscallArgs& a) {
  return DoFchmodat(t, static_cast<int>(a[0]), a[1], static_cast<mode_t>(a[2]),
                    0);
}

int64_t FchmodAt2(Task& t, const SyscallArgs& a) {
  return DoFchmodat(t, static_cast<int>(a[0]), a[1], static_cast<mode_t>(a[2]),
                    static_cast<int>(a[3]));
}

int64_t Fchmod(Task& t, const SyscallArgs& a) {
  vfs::Path p;
  if (int64_t err = FdTarget(t, static_cast<int>(a[0]), &p); err != 0) {
    return err;
  }
  return Err(vfs::Chmod(t.creds(), p, static_cast<mode_t>(a[1])));
}

int64_t DoFchownat(Task& t, int dirfd, uint64_t path_addr, uint32_t uid,
                   uint32_t gid, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  vfs::Path p;
  if (int64_t err = AttrTarget(t, dirfd, path_addr, flags, &p); err != 0) {
    return err;
  }
  return Err(vfs::Chown(t.creds(), p, uid, gid));
}

int64_t Chown(Task& t, const SyscallArgs& a) {
  return DoFchownat(t, AT_FDCWD, a[0], static_cast<uint32_t>(a[1]),
                    static_cast<uint32_t>(a[2]), 0);
}

int64_t Lchown(Task& t, const SyscallArgs& a) {
  return DoFchownat(t, AT_FDCWD, a[0], static_cast<uint32_t>(a[1]),
                    static_cast<uint32_t>(a[2]), AT_SYMLINK_NOFOLLOW);
}

int64_t FchownAt(Task& t, const SyscallArgs& a) {
  return DoFchownat(t, static_cast<int>(a[0]), a[1],
                    static_cast<uint32_t>(a[2]), static_cast<uint32_t>(a[3]),
                    static_cast<int>(a[4]));
}

int64_t Fchown(Task& t, const SyscallArgs& a) {
  vfs::Path p;
  if (int64_t err = FdTarget(t, static_cast<int>(a[0]), &p); err != 0) {
    return err;
  }
  return Err(vfs::Chown(t.creds(), p, static_cast<uint32_t>(a[1]),
                        static_cast<uint32_t>(a[2])));
}

int64_t Truncate(Task& t, const SyscallArgs& a) {
  std::string path;
  if (int err = CopyInPath(t, a[0], &path); err != 0) return err;
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  absl::StatusOr<Target> target =
      ResolveAt(t, AT_FDCWD, path, /*follow=*/true, /*empty_ok=*/false, who);
  if (!target.ok()) return Err(target.status());
  // vfs_truncate on a pipe (reached by /proc/self/fd/N): not a regular file.
  if (!target->path.valid()) return -EINVAL;
  return Err(
      vfs::Truncate(t.creds(), target->path, static_cast<int64_t>(a[1])));
}

int64_t Ftruncate(Task& t, const SyscallArgs& a) {
  int64_t length = static_cast<int64_t>(a[1]);
  if (length < 0) return -EINVAL;
  vfs::FileRef f = GetFile(t, static_cast<int>(a[0]));
  if (f == nullptr) return -EBADF;
  return Err(vfs::Ftruncate(*f, length));
}

// Applies utimensat semantics to `path_addr` (0: dirfd's own file) with
// `times` (null: now).
int64_t DoUtimes(Task& t, int dirfd, uint64_t path_addr,
                 const struct timespec* times, int flags) {
  if (times != nullptr && !vfs::ValidTimespecs(times)) return -EINVAL;
  vfs::Path p;
  if (path_addr == 0 && dirfd != AT_FDCWD) {
    // Linux's extension: a NULL path means dirfd itself.
    if (flags & AT_SYMLINK_NOFOLLOW) return -EINVAL;
    vfs::FileRef f = GetFileRaw(t, dirfd);
    if (f == nullptr) return -EBADF;
    if (!f->path().valid()) return -EPERM;
    p = f->path();
  } else {
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
    if (int64_t err = AttrTarget(t, dirfd, path_addr, flags, &p); err != 0) {
      return err;
    }
  }
  return Err(vfs::Utimens(t.creds(), p, times));
}

int64_t UtimensAt(Task& t, const SyscallArgs& a) {
  struct timespec times[2];
  const struct timespec* tp = nullptr;
  if (a[2] != 0) {
    if (int err = t.CopyIn(a[2], times, sizeof(times)); err != 0) return err;
    // Nothing to change: Linux does not even look at the path.
    if (times[0].tv_nsec == UTIME_OMIT && times[1].tv_nsec == UTIME_OMIT) {
      return 0;
    }
    tp = times;
  }
  return DoUtimes(t, static_cast<int>(a[0]), a[1], tp, static_cast<int>(a[3]));
}

// utimes(2)/futimesat(2): microsecond timevals, NULL for now.
int64_t DoFutimesat(Task& t, int dirfd, uint64_t path_addr,
                    uint64_t times_addr) {
  struct timespec times[2];
  const struct timespec* tp = nullptr;
  if (times_addr != 0) {
    struct timeval tv[2];
    if (int err = t.CopyIn(times_addr, tv, sizeof(tv)); err != 0) return err;
    for (int i = 0; i < 2; ++i) {
      if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return -EINVAL;
      times[i].tv_sec = tv[i].tv_sec;
      times[i].tv_nsec = tv[i].tv_usec * 1000;
    }
    tp = times;
  }
  return DoUtimes(t, dirfd, path_addr, tp, 0);
}

int64_t Utimes(Task& t, const SyscallArgs& a) {
  return DoFutimesat(t, AT_FDCWD, a[0], a[1]);
}

int64_t FutimesAt(Task& t, const SyscallArgs& a) {
  return DoFutimesat(t, static_cast<int>(a[0]), a[1], a[2]);
}

int64_t Utime(Task& t, const SyscallArgs& a) {
  struct timespec times[2];
  const struct timespec* tp = nullptr;
  if (a[1] != 0) {
    struct {
      int64_t actime;
      int64_t modtime;
    } buf;
    if (int err = t.CopyIn(a[1], &buf, sizeof(buf)); err != 0) return err;
    times[0] = {buf.actime, 0};
    times[1] = {buf.modtime, 0};
    tp = times;
  }
  return DoUtimes(t, AT_FDCWD, a[0], tp, 0);
}

int64_t Umask(Task& t, const SyscallArgs& a) {
  return t.fs().SwapUmask(static_cast<mode_t>(a[0]) & 0777);
}

// ---- ioctl ----

int64_t Ioctl(Task& t, const SyscallArgs& a) {
  int fd = static_cast<int>(a[0]);
  uint32_t cmd = static_cast<uint32_t>(a[1]);
  uint64_t arg = a[2];
  vfs::FileRef f = GetFile(t, fd);
  if (f == nullptr) return -EBADF;
  TaskMemory mem(t);
  // The commands Linux answers for every file before the file sees them.
  switch (cmd) {
    case FIOCLEX:
      return t.fd_table().SetCloseOnExec(fd, true);
    case FIONCLEX:
      return t.fd_table().SetCloseOnExec(fd, false);
    case FIONBIO:
    case FIOASYNC: {
      int on;
      if (int err = t.CopyInObj(arg, &on); err != 0) return err;
      int bit = cmd == FIONBIO ? O_NONBLOCK : O_ASYNC;
      int flags = f->flags();
      return f->SetFlags(on ? (flags | bit) : (flags & ~bit));
    }
    case FIONREAD: {
      // For a regular file: the bytes between the offset and the end.
      vfs::Inode* inode = f->inode();
      if (inode == nullptr || !inode->IsRegular()) break;
      absl::StatusOr<struct stat> st = f->Stat();
      if (!st.ok()) return Err(st.status());
      int64_t pos = f->Seek(0, SEEK_CUR);
      if (pos < 0) return pos;
      int n = static_cast<int>(st->st_size - pos);
      return t.CopyOutObj(arg, n);
    }
    default:
      break;
  }
  return f->Ioctl(cmd, arg, mem);
}

}  // namespace

void RegisterFsSyscalls(SyscallTable& table) {
  table.Register(SYS_read, Read, {A::kFd, A::kOutBuf, A::kInt});
  table.Register(SYS_write, Write, {A::kFd, A::kInBuf, A::kInt});
  table.Register(SYS_open, Open, {A::kPath, A::kOpenFlags, A::kOct});
  table.Register(SYS_openat, OpenAt,
                 {A::kFd, A::kPath, A::kOpenFlags, A::kOct});
  table.Register(SYS_creat, Creat, {A::kPath, A::kOct});
  table.Register(SYS_close, Close, {A::kFd});
  table.Register(SYS_pread64, PRead64, {A::kFd, A::kOutBuf, A::kInt, A::kInt});
  table.Register(SYS_pwrite64, PWrite64, {A::kFd, A::kInBuf, A::kInt, A::kInt});
  table.Register(SYS_readv, ReadV, {A::kFd, A::kHex, A::kInt});
  table.Register(SYS_writev, WriteV, {A::kFd, A::kHex, A::kInt});
  table.Register(SYS_preadv, PReadV, {A::kFd, A::kHex, A::kInt, A::kInt});
  table.Register(SYS_pwritev, PWriteV, {A::kFd, A::kHex, A::kInt, A::kInt});
  table.Register(SYS_preadv2, PReadV2,
                 {A::kFd, A::kHex, A::kInt, A::kInt, A::kInt, A::kHex});
  table.Register(SYS_pwritev2, PWriteV2,
                 {A::kFd, A::kHex, A::kInt, A::kInt, A::kInt, A::kHex});
  table.Register(SYS_lseek, LSeek, {A::kFd, A::kInt, A::kInt});
  table.Register(SYS_fstat, Fstat, {A::kFd, A::kHex});
  table.Register(SYS_stat, Stat, {A::kPath, A::kHex});
  table.Register(SYS_lstat, Lstat, {A::kPath, A::kHex});
  table.Register(SYS_newfstatat, NewFstatat,
                 {A::kFd, A::kPath, A::kHex, A::kHex});
  table.Register(SYS_statx, Statx,
                 {A::kFd, A::kPath, A::kHex, A::kHex, A::kHex});
  table.Register(SYS_getdents64, GetDents64, {A::kFd, A::kHex, A::kInt});
  table.Register(SYS_getdents, GetDents, {A::kFd, A::kHex, A::kInt});
  table.Register(SYS_readlink, Readlink, {A::kPath, A::kOutBuf, A::kInt});
  table.Register(SYS_readlinkat, ReadlinkAt,
                 {A::kFd, A::kPath, A::kOutBuf, A::kInt});
  table.Register(SYS_access, Access, {A::kPath, A::kOct});
  table.Register(SYS_faccessat, FaccessAt, {A::kFd, A::kPath, A::kOct});
  table.Register(SYS_faccessat2, FaccessAt2,
                 {A::kFd, A::kPath, A::kOct, A::kHex});
  table.Register(SYS_dup, Dup, {A::kFd});
  table.Register(SYS_dup2, Dup2, {A::kFd, A::kFd});
  table.Register(SYS_dup3, Dup3, {A::kFd, A::kFd, A::kHex});
  table.Register(SYS_fcntl, Fcntl, {A::kFd, A::kInt, A::kHex});
  table.Register(SYS_getcwd, GetCwd, {A::kOutBuf, A::kInt});
  table.Register(SYS_chdir, Chdir, {A::kPath});
  table.Register(SYS_fchdir, Fchdir, {A::kFd});
  table.Register(SYS_ioctl, Ioctl, {A::kFd, A::kHex, A::kHex});
  table.Register(SYS_mkdir, Mkdir, {A::kPath, A::kOct});
  table.Register(SYS_mkdirat, MkdirAt, {A::kFd, A::kPath, A::kOct});
  table.Register(SYS_mknod, Mknod, {A::kPath, A::kOct, A::kHex});
  table.Register(SYS_mknodat, MknodAt, {A::kFd, A::kPath, A::kOct, A::kHex});
  table.Register(SYS_rmdir, Rmdir, {A::kPath});
  table.Register(SYS_unlink, Unlink, {A::kPath});
  table.Register(SYS_unlinkat, UnlinkAt, {A::kFd, A::kPath, A::kHex});
  table.Register(SYS_symlink, Symlink, {A::kPath, A::kPath});
  table.Register(SYS_symlinkat, SymlinkAt, {A::kPath, A::kFd, A::kPath});
  table.Register(SYS_link, Link, {A::kPath, A::kPath});
  table.Register(SYS_linkat, LinkAt,
                 {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex});
  table.Register(SYS_rename, Rename, {A::kPath, A::kPath});
  table.Register(SYS_renameat, RenameAt, {A::kFd, A::kPath, A::kFd, A::kPath});
  table.Register(SYS_renameat2, RenameAt2,
                 {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex});
  table.Register(SYS_chmod, Chmod, {A::kPath, A::kOct});
  table.Register(SYS_fchmod, Fchmod, {A::kFd, A::kOct});
  table.Register(SYS_fchmodat, FchmodAt, {A::kFd, A::kPath, A::kOct});
  table.Register(kSysFchmodat2, FchmodAt2,
                 {A::kFd, A::kPath, A::kOct, A::kHex});
  table.Register(SYS_chown, Chown, {A::kPath, A::kInt, A::kInt});
  table.Register(SYS_lchown, Lchown, {A::kPath, A::kInt, A::kInt});
  table.Register(SYS_fchown, Fchown, {A::kFd, A::kInt, A::kInt});
  table.Register(SYS_fchownat, FchownAt,
                 {A::kFd, A::kPath, A::kInt, A::kInt, A::kHex});
  table.Register(SYS_truncate, Truncate, {A::kPath, A::kInt});
  table.Register(SYS_ftruncate, Ftruncate, {A::kFd, A::kInt});
  table.Register(SYS_utime, Utime, {A::kPath, A::kHex});
  table.Register(SYS_utimes, Utimes, {A::kPath, A::kHex});
  table.Register(SYS_futimesat, FutimesAt, {A::kFd, A::kPath, A::kHex});
  table.Register(SYS_utimensat, UtimensAt,
                 {A::kFd, A::kPath, A::kHex, A::kHex});
  table.Register(SYS_umask, Umask, {A::kOct});
}

}  // namespace sentry
