// The mount tree: FileSystem (a mounted file system instance, Linux's
// super_block), Mount (one place a file system is attached, with its flags),
// Path (a mount plus a dentry: a position in the tree, Linux's struct path)
// and MountNamespace (the set of mounts a task sees).
#ifndef CVISOR_SENTRY_VFS_MOUNT_H_
#define CVISOR_SENTRY_VFS_MOUNT_H_

#include <sys/mount.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/vfs/dentry.h"

namespace sentry::vfs {

class FileSystem {
 public:
  // How many unused dentries a file system keeps cached by default.
  static constexpr size_t kDefaultDentryCacheSize = 4096;

  explicit FileSystem(size_t dentry_cache_size = kDefaultDentryCacheSize)
      : dentry_cache_(dentry_cache_size) {}
  virtual ~FileSystem() = default;
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  // The type name /proc/mounts and statfs report ("gofer", "tmpfs", ...).
  virtual std::string_view type() const = 0;

  DentryCache& dentry_cache() { return dentry_cache_; }

 private:
  DentryCache dentry_cache_;
};

class Mount final {
 public:
  // `flags` are MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NOATIME.
  Mount(int id, std::shared_ptr<FileSystem> fs, DentryRef root, int flags,
        std::shared_ptr<Mount> parent, DentryRef mountpoint)
      : id_(id),
        fs_(std::move(fs)),
        root_(std::move(root)),
        flags_(flags),
        parent_(std::move(parent)),
        mountpoint_(std::move(mountpoint)) {}
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  int id() const { return id_; }
  const std::shared_ptr<FileSystem>& fs() const { return fs_; }
  const DentryRef& root() const { return root_; }
  int flags() const { return flags_.load(std::memory_order_relaxed); }
  bool readonly() const { return flags() & MS_RDONLY; }
  bool noexec() const { return flags() & MS_NOEXEC; }
  // mount(MS_REMOUNT): the per-mount flags change in place.
  void set_flags(int flags) { flags_.store(flags, std::memory_order_relaxed); }
  // Null for the root of a mount namespace.
  const std::shared_ptr<Mount>& parent() const { return parent_; }
  // The dentry in the parent mount this mount covers; null for a root.
  const DentryRef& mountpoint() const { return mountpoint_; }

 private:
  const int id_;
  const std::shared_ptr<FileSystem> fs_;
  const DentryRef root_;
  std::atomic<int> flags_;
  const std::shared_ptr<Mount> parent_;
  const DentryRef mountpoint_;
};

using MountRef = std::shared_ptr<Mount>;

// A position in the mount tree.
struct Path {
  MountRef mount;
  DentryRef dentry;

  bool valid() const { return mount != nullptr && dentry != nullptr; }
  const InodeRef& inode() const { return dentry->inode(); }
  bool operator==(const Path& o) const {
    return mount == o.mount && dentry == o.dentry;
  }
};

class MountNamespace final {
 public:
  // A namespace whose root is `root` of `fs`, mounted with `flags`.
  static std::shared_ptr<MountNamespace> New(std::shared_ptr<FileSystem> fs,
                                             DentryRef root, int flags);
  ~MountNamespace();
  MountNamespace(const MountNamespace&) = delete;
  MountNamespace& operator=(const MountNamespace&) = delete;

  Path root() const { return Path{root_mount_, root_mount_->root()}; }

  // Mounts `root` of `fs` on `at`: a directory on a directory, or a
  // non-directory on a non-directory (bind-mounted files). A second mount on
  // the same place stacks on top of the first and hides it, as on Linux.
  // Callers pass the path as resolved, which is already the topmost mount
  // there.
  absl::StatusOr<MountRef> AddMount(const Path& at,
                                    std::shared_ptr<FileSystem> fs,
                                    DentryRef root, int flags);

  // umount2(2): detaches `m` (not the root: EINVAL). Without `detach`,
  // EBUSY while other mounts sit on it. With it (MNT_DETACH), the mounts
  // under it go too. Files already open there keep working.
  absl::Status RemoveMount(const MountRef& m, bool detach);

  // The mount sitting directly on `dentry` of `parent`, or null.
  MountRef MountedAt(const Mount& parent, const Dentry& dentry) const;

  // Follows mounts stacked on `p` to the topmost one.
  Path CrossMounts(Path p) const;

  std::vector<MountRef> Mounts() const;

 private:
  MountNamespace() = default;

  mutable std::mutex mu_;
  int next_id_ = 1;
  MountRef root_mount_;
  // (parent mount, mountpoint dentry) -> the mount on it.
  std::map<std::pair<const Mount*, const Dentry*>, MountRef> mounts_;
};

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_MOUNT_H_
