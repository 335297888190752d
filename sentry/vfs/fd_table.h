// FdTable: a process's file descriptor table (shared between threads, and
// between processes cloned with CLONE_FILES). Each slot holds a reference to
// an open FileDescription and the close-on-exec flag.
#ifndef CVISOR_SENTRY_VFS_FD_TABLE_H_
#define CVISOR_SENTRY_VFS_FD_TABLE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "sentry/vfs/file.h"

namespace sentry::vfs {

class FdTable final {
 public:
  // Linux's fs.nr_open default: no fd reaches it whatever RLIMIT_NOFILE says.
  static constexpr uint64_t kMaxFds = 1 << 20;

  FdTable() = default;
  // Drops the POSIX locks the table owned, waking their waiters.
  ~FdTable();
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

  // The file at `fd`, or null if `fd` is not open.
  FileRef Get(int fd) const;
  FileRef Get(int fd, bool* cloexec) const;

  // Installs `file` at the lowest free fd >= min_fd and < limit (the
  // caller's RLIMIT_NOFILE): returns the fd, or -EMFILE.
  int Install(FileRef file, bool cloexec, uint64_t limit, int min_fd = 0);
  // dup2/dup3: installs `file` at `fd`, closing what was there. Returns fd,
  // or -EBADF if fd is negative or >= limit.
  int InstallAt(int fd, FileRef file, bool cloexec, uint64_t limit);
  // 0, or -EBADF if fd is not open.
  int Close(int fd);
  // Removes `fd` and hands its file to the caller (null if not open).
  FileRef Remove(int fd);

  // 0, or -EBADF if fd is not open.
  int SetCloseOnExec(int fd, bool cloexec);

  // close_range(2): closes every open fd in [first, last] (`last` may be
  // far beyond the table), or with `cloexec` only marks them close-on-exec.
  void CloseRange(uint32_t first, uint32_t last);
  void SetCloseOnExecRange(uint32_t first, uint32_t last);

  // A copy for fork() without CLONE_FILES: same descriptions, same flags.
  std::shared_ptr<FdTable> Fork() const;
  // execve: closes every close-on-exec fd.
  void CloseOnExec();
  // Exit: closes everything.
  void CloseAll();

  // Open fds in increasing order (for /proc/[pid]/fd, close_range).
  std::vector<int> Fds() const;
  size_t count() const;

 private:
  void ReleaseLocks(const std::vector<FileRef>& closed);

  struct Entry {
    FileRef file;
    bool cloexec = false;
  };

  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // index = fd; guarded by mu_
  size_t lowest_free_ = 0;      // no free fd below this; guarded by mu_
  size_t count_ = 0;            // guarded by mu_
};

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_FD_TABLE_H_
