// Dentry: a name in the directory tree bound to an inode (or to nothing: a
// negative dentry caches "this name does not exist"). Children point to their
// parent, so ".." and getcwd work from any dentry; parents find their cached
// children by name without owning them. What keeps a dentry alive is whoever
// uses it (an open file, a cwd, a mount) and the LRU DentryCache, which bounds
// how many unused names (and so gofer fids) stay cached.
#ifndef CVISOR_SENTRY_VFS_DENTRY_H_
#define CVISOR_SENTRY_VFS_DENTRY_H_

#include <atomic>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sentry/vfs/inode.h"

namespace sentry::vfs {

class DentryCache;

class Dentry final : public std::enable_shared_from_this<Dentry> {
 public:
  // The root of a file system: no parent, no name.
  static std::shared_ptr<Dentry> NewRoot(InodeRef inode);
  // A name under `parent` that `parent` does not list, as an unlinked
  // file's dentry: for O_TMPFILE's unnamed file (Linux's d_tmpfile "#ino"),
  // so its path still shows where it lives but no lookup finds it.
  static std::shared_ptr<Dentry> NewDetached(std::shared_ptr<Dentry> parent,
                                             std::string name, InodeRef inode);

  ~Dentry();
  Dentry(const Dentry&) = delete;
  Dentry& operator=(const Dentry&) = delete;

  // Null for a negative dentry. The binding never changes: an inode that
  // goes away gets a new dentry, not a rebound one.
  const InodeRef& inode() const { return inode_; }
  bool negative() const { return inode_ == nullptr; }
  bool IsDir() const { return inode_ && inode_->IsDir(); }
  bool IsSymlink() const { return inode_ && inode_->IsSymlink(); }

  std::string name() const;
  // Null for a file system root.
  std::shared_ptr<Dentry> parent() const;
  bool IsRoot() const { return parent() == nullptr; }

  // The cached child called `name` (possibly negative), or null.
  std::shared_ptr<Dentry> CachedChild(std::string_view name);
  // Caches a child `name` bound to `inode` (null: negative) and returns it,
  // unless another thread cached a live one first: that one is returned and
  // `inode` dropped, so every user agrees on one dentry per name.
  std::shared_ptr<Dentry> AddChild(const std::string& name, InodeRef inode);
  // Forgets the cached child `name` (for a later unlink/rename/create).
  void DropChild(std::string_view name);
  // rename(2) moved this dentry's file to `new_name` in `new_parent`: the
  // dentry follows it (Linux's d_move), so open files, cwds and mounts on
  // it keep their place and getcwd reports the new name. Whatever was
  // cached under the new name is forgotten. Callers serialise renames.
  void MoveTo(const std::shared_ptr<Dentry>& new_parent,
              const std::string& new_name);

  // How many mounts sit on this dentry; path walks only consult the mount
  // table when it is non-zero.
  int mount_count() const {
    return mount_count_.load(std::memory_order_acquire);
  }
  void AddMount() { mount_count_.fetch_add(1, std::memory_order_acq_rel); }
  void RemoveMount() { mount_count_.fetch_sub(1, std::memory_order_acq_rel); }

 private:
  friend class DentryCache;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>{}(s);
    }
  };

  Dentry(std::shared_ptr<Dentry> parent, std::string name, InodeRef inode);

  // Called from a child's destructor: removes its expired entry.
  void ForgetDeadChild(const std::string& name);

  const InodeRef inode_;
  std::atomic<int> mount_count_{0};

  mutable std::mutex mu_;
  std::shared_ptr<Dentry> parent_;  // guarded by mu_ (rename will change it)
  std::string name_;                // guarded by mu_
  std::unordered_map<std::string, std::weak_ptr<Dentry>, StringHash,
                     std::equal_to<>>
      children_;  // guarded by mu_

  // DentryCache bookkeeping, guarded by the cache's mutex.
  bool in_lru_ = false;
  std::list<std::shared_ptr<Dentry>>::iterator lru_pos_;
};

using DentryRef = std::shared_ptr<Dentry>;

// Keeps the most recently used dentries alive (and with them their parents),
// so that repeated walks of the same paths never reach the file system.
class DentryCache final {
 public:
  explicit DentryCache(size_t capacity) : capacity_(capacity) {}
  ~DentryCache();
  DentryCache(const DentryCache&) = delete;
  DentryCache& operator=(const DentryCache&) = delete;

  // Marks `d` as just used, evicting the least recently used beyond the
  // capacity.
  void Touch(const DentryRef& d);
  // Drops every cached dentry (unmount, tests).
  void Clear();
  size_t size() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<DentryRef> lru_;  // front: most recent
  size_t size_ = 0;
};

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_DENTRY_H_
