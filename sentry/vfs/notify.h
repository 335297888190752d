// inotify(7): watches on files and the event queues of inotify instances,
// plus the hooks the VFS and the syscalls call after changing or using a
// file. Watches are keyed by file identity (st_dev, st_ino), not by Inode
// or Dentry objects, because a file system may hand out a fresh Inode for a
// file it looks up again. Every hook first checks one atomic counter, so
// with no watch anywhere the cost on the syscall path is a single load.
#ifndef CVISOR_SENTRY_VFS_NOTIFY_H_
#define CVISOR_SENTRY_VFS_NOTIFY_H_

#include <sys/inotify.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sentry/vfs/file.h"
#include "sentry/vfs/mount.h"
#include "sentry/vfs/wait.h"

namespace sentry::vfs {

// Linux's default /proc/sys/fs/inotify/max_queued_events.
inline constexpr size_t kInotifyMaxQueuedEvents = 16384;

// The mask bits inotify_add_watch accepts (Linux's ALL_INOTIFY_BITS).
inline constexpr uint32_t kInotifyAllBits =
    IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD |
    IN_MASK_CREATE | IN_ISDIR | IN_ONESHOT;

struct InotifyWatch;

// An inotify instance: the file description inotify_init1 returns. Reading
// it returns whole struct inotify_event records.
class Inotify final : public FileDescription {
 public:
  // `flags` may hold O_NONBLOCK (IN_NONBLOCK).
  explicit Inotify(int flags);
  // Drops every watch of the instance (no IN_IGNORED: nobody can read it).
  ~Inotify() override;

  bool stream() const override { return true; }
  // As many whole records as fit: the byte count, -EINVAL if not even the
  // first fits, -EAGAIN when empty and nonblocking; blocks otherwise.
  int64_t Read(IoSequence& dst) override;
  absl::StatusOr<struct stat> Stat() override;
  // FIONREAD: the bytes of all queued records.
  int64_t Ioctl(uint32_t cmd, uint64_t arg, UserMemory& mem) override;
  short Readiness(short mask) override;
  void AddWaiter(Waiter* w) override;
  void RemoveWaiter(Waiter* w) override;

  // inotify_add_watch on the resolved `target` (the caller has checked read
  // permission, IN_ONLYDIR and the mask's validity): the watch descriptor,
  // or -EEXIST (IN_MASK_CREATE on a watched file) or another -errno.
  int AddWatch(const Path& target, uint32_t mask);
  // inotify_rm_watch: 0 (IN_IGNORED is queued) or -EINVAL.
  int RemoveWatch(int wd);

  // Queues one record, coalescing it with an identical last record and
  // turning into IN_Q_OVERFLOW when the queue is full. For the registry.
  void Queue(int wd, uint32_t mask, uint32_t cookie, const std::string& name);

 private:
  friend struct InotifyRegistry;
  struct Event {
    int32_t wd;
    uint32_t mask;
    uint32_t cookie;
    std::string name;
    // The record's size: the header and the name padded with NULs to a
    // multiple of the header size, as Linux's round_event_name_len.
    size_t size() const;
  };

  std::mutex mu_;
  std::deque<Event> events_;  // guarded by mu_
  size_t bytes_ = 0;          // guarded by mu_
  WaiterList waiters_;        // guarded by mu_

  // Guarded by the registry's mutex.
  int next_wd_ = 1;
  std::map<int, std::unique_ptr<InotifyWatch>> watches_;
};

// ---- hooks ----

namespace notify_internal {
extern std::atomic<int> watch_count;
}  // namespace notify_internal

// Whether any watch exists anywhere: the hooks do nothing otherwise.
inline bool NotifyActive() {
  return notify_internal::watch_count.load(std::memory_order_relaxed) != 0;
}

// The slow paths behind the inline hooks below.
void NotifyFileEvent(const Path& p, uint32_t mask);
void NotifyCreatedSlow(const Path& created, bool link);
void NotifyRemovedSlow(const Path& dir, const std::string& name,
                       const InodeRef& victim, bool rmdir);
void NotifyRenamedSlow(const Path& old_dir, const std::string& old_name,
                       const Path& new_dir, const std::string& new_name,
                       const InodeRef& moved, const InodeRef& other,
                       bool exchange);
uint32_t AttrEventMask(unsigned setattr_mask);

// A name was created (mkdir, mknod, symlink, open O_CREAT): IN_CREATE in
// its directory. Returns `created`.
inline const Path& NotifyCreated(const Path& created) {
  if (NotifyActive()) NotifyCreatedSlow(created, false);
  return created;
}
// link(2) made `linked`: IN_ATTRIB on the file (its link count), then
// IN_CREATE in the directory.
inline const Path& NotifyLinked(const Path& linked) {
  if (NotifyActive()) NotifyCreatedSlow(linked, true);
  return linked;
}
// unlink/rmdir removed `name` (bound to `victim`) from `dir`.
inline void NotifyRemoved(const Path& dir, const std::string& name,
                          const InodeRef& victim, bool rmdir) {
  if (NotifyActive()) NotifyRemovedSlow(dir, name, victim, rmdir);
}
// rename moved `moved` from old_dir/old_name to new_dir/new_name. `other`
// is the file that was at the new name (replaced, or with `exchange` moved
// the other way), or null.
inline void NotifyRenamed(const Path& old_dir, const std::string& old_name,
                          const Path& new_dir, const std::string& new_name,
                          const InodeRef& moved, const InodeRef& other,
                          bool exchange) {
  if (NotifyActive()) {
    NotifyRenamedSlow(old_dir, old_name, new_dir, new_name, moved, other,
                      exchange);
  }
}
// A successful SetAttr with SetAttrRequest bits `mask` on `p`: IN_ATTRIB,
// IN_MODIFY or IN_ACCESS as Linux's fsnotify_change. Returns `status`.
inline absl::Status NotifyAttrChanged(const Path& p, unsigned mask,
                                      absl::Status status) {
  if (status.ok() && NotifyActive() && p.valid()) {
    if (uint32_t ev = AttrEventMask(mask); ev != 0) NotifyFileEvent(p, ev);
  }
  return status;
}
// open(2) returned `file`: IN_OPEN, then IN_MODIFY for O_TRUNC of a
// regular file (Linux reports the open from vfs_open, before the
// truncation). Returns `file`.
inline absl::StatusOr<FileRef> NotifyOpened(absl::StatusOr<FileRef> file,
                                            int flags) {
  if (file.ok() && NotifyActive() && (*file)->path().valid() &&
      !(*file)->is_path()) {
    NotifyFileEvent((*file)->path(), IN_OPEN);
    if ((flags & O_TRUNC) && (*file)->inode()->IsRegular()) {
      NotifyFileEvent((*file)->path(), IN_MODIFY);
    }
  }
  return file;
}
// A read (or getdents) of `f` returned `n`: IN_ACCESS when it moved data.
inline int64_t NotifyRead(const FileDescription& f, int64_t n) {
  if (n > 0 && NotifyActive() && f.path().valid()) {
    NotifyFileEvent(f.path(), IN_ACCESS);
  }
  return n;
}
// A write to `f` returned `n`: IN_MODIFY when it wrote something.
inline int64_t NotifyWrite(const FileDescription& f, int64_t n) {
  if (n > 0 && NotifyActive() && f.path().valid()) {
    NotifyFileEvent(f.path(), IN_MODIFY);
  }
  return n;
}
// The description `f` is being released (its last fd closed):
// IN_CLOSE_WRITE or IN_CLOSE_NOWRITE.
inline void NotifyClosed(const FileDescription& f) {
  if (NotifyActive() && f.path().valid() && !f.is_path()) {
    NotifyFileEvent(f.path(), f.writable() ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE);
  }
}

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_NOTIFY_H_
