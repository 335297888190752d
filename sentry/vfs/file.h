// FileDescription: an open file (Linux's struct file): status flags, the
// offset shared by every fd dup'ed or inherited from it, and the operations
// read/write/seek/stat/getdents/ioctl. Data operations are on the syscall
// path and return the Linux result: a count or a negative errno.
// IoSequence is where a read's data goes or a write's data comes from:
// application memory (iovecs) or a sentry buffer.
#ifndef CVISOR_SENTRY_VFS_FILE_H_
#define CVISOR_SENTRY_VFS_FILE_H_

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/mount.h"
#include "sentry/vfs/wait.h"

namespace sentry::vfs {

// Access to an application's memory; the kernel's Task provides it. Both
// return 0, or -EFAULT if any byte of the range is not accessible.
class UserMemory {
 public:
  virtual int CopyIn(uint64_t addr, void* dst, size_t len) = 0;
  virtual int CopyOut(uint64_t addr, const void* src, size_t len) = 0;

 protected:
  ~UserMemory() = default;
};

class IoSequence final {
 public:
  struct Range {
    uint64_t addr;
    size_t len;
  };

  // A sentry buffer (the kernel reading a file for execve, tests).
  static IoSequence Buffer(void* buf, size_t len);
  static IoSequence Buffer(const void* buf, size_t len);
  // Application memory: the ranges in order (readv/writev's iovecs).
  static IoSequence User(UserMemory& mem, uint64_t addr, size_t len);
  static IoSequence User(UserMemory& mem, std::vector<Range> ranges);

  // Total bytes.
  size_t size() const { return size_; }
  // Copies `len` bytes from `src` into the sequence at byte `at` (a read
  // delivering data): 0 or -EFAULT.
  int CopyOut(size_t at, const void* src, size_t len);
  // Copies `len` bytes at byte `at` of the sequence into `dst` (a write
  // taking data): 0 or -EFAULT.
  int CopyIn(size_t at, void* dst, size_t len);

 private:
  IoSequence() = default;

  const Range* ranges() const {
    return ranges_.empty() ? &single_ : ranges_.data();
  }
  size_t range_count() const {
    return ranges_.empty() ? (mem_ != nullptr ? 1 : 0) : ranges_.size();
  }

  UserMemory* mem_ = nullptr;  // null: a sentry buffer
  char* buf_ = nullptr;
  // One range (read/write, the common case) is kept inline, so the syscall
  // path allocates nothing; readv/writev use the vector.
  Range single_{0, 0};
  std::vector<Range> ranges_;
  size_t size_ = 0;
};

// The records getdents64 (linux_dirent64) and the older getdents
// (linux_dirent, with the type in the record's last byte) return.
enum class DirentFormat { kDirent64, kDirent };

// What a file reports to poll(2) when it does not implement readiness
// (Linux's DEFAULT_POLLMASK).
inline constexpr short kDefaultPollMask =
    POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

// The largest count one read or write moves, as Linux's MAX_RW_COUNT.
inline constexpr size_t kMaxRwCount = 0x7ffff000;

class FileDescription {
 public:
  // `flags` are the open(2) flags; the description keeps the status flags
  // F_GETFL reports (not O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC or O_CLOEXEC).
  // `path` is where the file was opened; invalid for anonymous files (host
  // fds, pipes, sockets).
  FileDescription(Path path, int flags);
  virtual ~FileDescription();
  FileDescription(const FileDescription&) = delete;
  FileDescription& operator=(const FileDescription&) = delete;

  const Path& path() const { return path_; }
  // The inode opened, or null for an anonymous file.
  Inode* inode() const {
    return path_.dentry ? path_.dentry->inode().get() : nullptr;
  }

  // F_GETFL.
  int flags() const { return flags_.load(std::memory_order_relaxed); }
  // F_SETFL: changes O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and O_NONBLOCK;
  // other bits are ignored, as on Linux. 0 or a negative errno.
  int SetFlags(int flags);
  bool readable() const;
  bool writable() const;
  // Opened with O_PATH: no I/O at all.
  bool is_path() const { return flags() & O_PATH; }
  bool nonblocking() const { return flags() & O_NONBLOCK; }

  // A stream (pipe, socket, terminal) has no offset: pread/pwrite/lseek give
  // ESPIPE.
  virtual bool stream() const { return false; }

  // At the file offset, advancing it.
  virtual int64_t Read(IoSequence& dst);
  virtual int64_t Write(IoSequence& src);
  // At `offset` (>= 0), leaving the file offset alone.
  virtual int64_t PRead(IoSequence& dst, int64_t offset);
  virtual int64_t PWrite(IoSequence& src, int64_t offset);
  // whence is SEEK_SET/CUR/END/DATA/HOLE; returns the new offset.
  virtual int64_t Seek(int64_t offset, int whence);
  virtual absl::StatusOr<struct stat> Stat();
  // Fills `dst` with directory records in `format`: the byte count, 0 at
  // the end, -EINVAL if not even one record fits, -ENOTDIR for a
  // non-directory.
  virtual int64_t GetDents(IoSequence& dst, DirentFormat format);
  int64_t GetDents64(IoSequence& dst) {
    return GetDents(dst, DirentFormat::kDirent64);
  }
  // Device-specific ioctls (the generic ones are handled by the syscall).
  // -ENOTTY for commands the file does not know.
  virtual int64_t Ioctl(uint32_t cmd, uint64_t arg, UserMemory& mem);
  // The host fd holding this file's data, for mmap (the gofer donated it),
  // or -1.
  virtual int host_fd() const { return -1; }

  // poll(2): the events of `mask` (POLL* bits) that hold now. Callers pass
  // POLLERR | POLLHUP in the mask to learn about those. Files without a
  // notion of readiness are always ready (kDefaultPollMask). Files backed by
  // a host fd are polled through the host instead (poll.cc).
  virtual short Readiness(short mask) { return mask & kDefaultPollMask; }
  // Registers `w` to be notified whenever Readiness may have changed, until
  // RemoveWaiter(w). Files whose readiness never changes ignore it. Every
  // AddWaiter must be matched by a RemoveWaiter before `w` is destroyed.
  virtual void AddWaiter(Waiter*) {}
  virtual void RemoveWaiter(Waiter*) {}

  // For the kernel: pread into sentry memory (the ELF loader, #! scripts).
  int64_t ReadAt(void* buf, size_t len, int64_t offset);

  // fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, ...
  // The default forwards to host_fd() when there is one, else -EOPNOTSUPP
  // (a file system without ->fallocate).
  virtual int64_t Fallocate(int mode, int64_t offset, int64_t len);

  // Runs `fn` when the description is destroyed, i.e. when its last fd is
  // closed: flock(2) and OFD locks belong to the description and go then.
  void OnRelease(std::function<void()> fn);

 protected:
  // Called by SetFlags with the bits about to change; a file backed by a
  // host fd mirrors them there. 0 or a negative errno (nothing changes).
  virtual int OnSetFlags(int old_flags, int new_flags);

  // Serialises offset-using operations as Linux's f_pos_lock does, so that
  // threads sharing the description see reads and writes as atomic.
  std::mutex offset_mu_;
  int64_t offset_ = 0;  // guarded by offset_mu_

 private:
  const Path path_;
  std::atomic<int> flags_;
  std::mutex set_flags_mu_;
  std::mutex release_mu_;
  std::vector<std::function<void()>> on_release_;  // guarded by release_mu_
};

// The kernel's O_LARGEFILE. glibc defines O_LARGEFILE as 0 on x86-64, but
// the kernel sets this bit on every open there and F_GETFL reports it.
inline constexpr int kOLargefile = 0100000;

// Status flags F_SETFL may change.
inline constexpr int kSettableStatusFlags =
    O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK;

// A pread over a file into sentry memory, for the loader and mm: reads
// `len` bytes at `offset` into `buf`, returns the count or a negative errno.
using PReadFn = std::function<int64_t(void* buf, size_t len, int64_t offset)>;
PReadFn MakePReadFn(FileRef file);

// A directory opened with open(2): getdents64 through Inode::ReadDir, with
// the listing position as the offset. Any file system's directories can use
// it.
FileRef NewDirectoryFile(const Path& path, int flags);

// An O_PATH file: it names a file (fstat, *at() dirfd, fchdir) and does no
// I/O.
FileRef NewPathFile(const Path& path, int flags);

// Appends one record to `out` if it fits within `limit` bytes in total;
// returns whether it did.
bool AppendDirent(std::vector<char>& out, size_t limit, const DirEntry& e,
                  DirentFormat format);

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_FILE_H_
