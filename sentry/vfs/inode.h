// Inode and FileSystem: what a file system implementation provides to the
// VFS. An Inode is one file (regular, directory, symlink, ...); the VFS wraps
// inodes in dentries for naming, and asks them to open file descriptions.
#ifndef CVISOR_SENTRY_VFS_INODE_H_
#define CVISOR_SENTRY_VFS_INODE_H_

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sentry::vfs {

class FileDescription;
struct Path;
using FileRef = std::shared_ptr<FileDescription>;

// One directory entry as getdents64 reports it.
struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;          // DT_*
  uint64_t next_offset = 0;  // the directory offset just after this entry
};

struct DirBatch {
  std::vector<DirEntry> entries;
  bool eof = false;  // nothing after the last entry
};

// The result of a multi-component lookup (Inode::LookupPath).
// What a file system needs to make a new file: the complete mode (type and
// permission bits, umask already applied), the owner, and for Mknod the
// device number.
struct NewFileSpec {
  mode_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  dev_t rdev = 0;
};

// A change of attributes (Inode::SetAttr): only the fields whose bit is in
// `mask` apply. The VFS has already checked permissions and resolved
// UTIME_NOW to the current time; UTIME_OMIT never reaches here (its bit is
// simply not set).
struct SetAttrRequest {
  enum : unsigned {
    kMode = 1 << 0,
    kUid = 1 << 1,
    kGid = 1 << 2,
    kSize = 1 << 3,
    kAtime = 1 << 4,
    kMtime = 1 << 5,
    // Clear S_ISUID, and S_ISGID when group-executable, as Linux does on
    // chown and on truncation by a non-owner write.
    kKillSuid = 1 << 6,
  };
  unsigned mask = 0;
  mode_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  struct timespec atime {};
  struct timespec mtime {};
};

struct LookupPathResult {
  // One inode per name looked up, in order. The walk stops early after a
  // non-directory (a symlink the resolver must follow, or a file that makes
  // the rest ENOTDIR) or at a name that cannot be looked up.
  std::vector<std::shared_ptr<class Inode>> inodes;
  // Non-zero when names[inodes.size()] itself failed to be looked up
  // (ENOENT, EACCES, ...). Zero or ENOTDIR when the walk stopped after a
  // non-directory.
  int stop_errno = 0;
};

class Inode {
 public:
  explicit Inode(mode_t mode) : type_(mode & S_IFMT) {}
  virtual ~Inode() = default;
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  // The file type (S_IFMT bits); it never changes for an inode.
  mode_t type() const { return type_; }
  bool IsDir() const { return type_ == S_IFDIR; }
  bool IsSymlink() const { return type_ == S_IFLNK; }
  bool IsRegular() const { return type_ == S_IFREG; }

  // Attributes. A file system may answer from a cache it knows is current.
  virtual absl::StatusOr<struct stat> Stat() = 0;

  // Looks up one component (never "", "." or "..", at most NAME_MAX bytes)
  // in this directory: ENOENT if absent. Only called on directories.
  virtual absl::StatusOr<std::shared_ptr<Inode>> Lookup(
      const std::string& name);

  // Looks up names[0] here, names[1] in that, ... where the file system can
  // do it in one go (one gofer round trip for a whole uncached path). The
  // default loops over Lookup. Only called on directories.
  virtual absl::StatusOr<LookupPathResult> LookupPath(
      const std::vector<std::string>& names);

  // The target of a symlink; EINVAL for anything else.
  virtual absl::StatusOr<std::string> Readlink();

  // Opens a file description. `path` is where the file was reached (the
  // description keeps it); `flags` are the open(2) flags after the VFS has
  // checked permissions, the mount and the file type (O_PATH never reaches
  // here; directories only come with O_RDONLY).
  virtual absl::StatusOr<FileRef> Open(const Path& path, int flags) = 0;

  // Mutations. Each is called on the directory holding `name` (a valid
  // component, not "." or ".."), after the VFS has checked permissions, the
  // mount and the Linux preconditions it can see from its dentries (EEXIST
  // for an existing name, ENOTDIR/EISDIR between types, the sticky bit,
  // EBUSY for mount points); the file system still answers for its own
  // state (ENOENT/EEXIST races, ENOTEMPTY, ENOSPC). The defaults are what
  // Linux gives for a file system lacking the operation: EACCES for Create
  // (vfs_create without ->create), EPERM for the rest (vfs_mkdir,
  // vfs_mknod, vfs_symlink, vfs_link, vfs_unlink, vfs_rmdir, vfs_rename
  // without the method), and EPERM for SetAttr (a file system that keeps
  // no attributes of its own cannot change them).

  // A new regular file (open(O_CREAT), creat, mknod S_IFREG).
  virtual absl::StatusOr<std::shared_ptr<Inode>> Create(
      const std::string& name, const NewFileSpec& spec);
  virtual absl::StatusOr<std::shared_ptr<Inode>> Mkdir(const std::string& name,
                                                       const NewFileSpec& spec);
  // O_TMPFILE: a new regular file in this directory with no name (link
  // count 0) that linkat(2) may name later. The VFS has checked write and
  // search permission here. The default is EOPNOTSUPP, Linux's answer for
  // a file system without ->tmpfile.
  virtual absl::StatusOr<std::shared_ptr<Inode>> Tmpfile(
      const NewFileSpec& spec);
  // A FIFO, socket, or device node (the VFS refuses devices for now).
  virtual absl::StatusOr<std::shared_ptr<Inode>> Mknod(const std::string& name,
                                                       const NewFileSpec& spec);
  virtual absl::StatusOr<std::shared_ptr<Inode>> Symlink(
      const std::string& name, const std::string& target,
      const NewFileSpec& spec);
  // A new name for `target` (never a directory), which lives on the same
  // file system.
  virtual absl::Status Link(const std::string& name,
                            const std::shared_ptr<Inode>& target);
  // Removes a non-directory / an empty directory.
  virtual absl::Status Unlink(const std::string& name);
  virtual absl::Status Rmdir(const std::string& name);
  // Moves `name` here to `new_name` in `new_dir` (same file system).
  // `flags` are renameat2's RENAME_NOREPLACE / RENAME_EXCHANGE; the VFS has
  // checked type compatibility of an existing target, the file system
  // checks that a replaced directory is empty (ENOTEMPTY).
  virtual absl::Status Rename(const std::string& name, Inode& new_dir,
                              const std::string& new_name, unsigned flags);
  // chmod, chown, truncate, utimes. Changes ctime as well, as Linux.
  virtual absl::Status SetAttr(const SetAttrRequest& req);

  // statfs(2) of the file system holding this inode. The default is
  // ENOSYS, Linux's answer for a file system without ->statfs.
  virtual absl::StatusOr<struct statfs> StatFs();

  // Extended attributes (getxattr(2) family). `flags` of SetXattr are
  // XATTR_CREATE / XATTR_REPLACE. The VFS has checked the name's namespace
  // and permissions. The defaults are a file system without xattr support:
  // ENOTSUP for get, set and remove, an empty list for ListXattr.
  virtual absl::StatusOr<std::string> GetXattr(const std::string& name);
  virtual absl::Status SetXattr(const std::string& name,
                                const std::string& value, int flags);
  virtual absl::StatusOr<std::vector<std::string>> ListXattr();
  virtual absl::Status RemoveXattr(const std::string& name);

  // Lists a directory from `offset`: 0 for the start, else a next_offset
  // from an earlier batch. ENOTDIR for anything but a directory.
  virtual absl::StatusOr<DirBatch> ReadDir(uint64_t offset);

  // An O_TMPFILE file opened without O_EXCL may be linked although its
  // link count is 0 (Linux's I_LINKABLE); its first link clears this.
  bool tmpfile_linkable() const {
    return tmpfile_linkable_.load(std::memory_order_acquire);
  }
  void set_tmpfile_linkable(bool v) {
    tmpfile_linkable_.store(v, std::memory_order_release);
  }

 private:
  const mode_t type_;
  std::atomic<bool> tmpfile_linkable_{false};
};

using InodeRef = std::shared_ptr<Inode>;

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_INODE_H_
