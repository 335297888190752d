// Inode and FileSystem: what a file system implementation provides to the
// VFS. An Inode is one file (regular, directory, symlink, ...); the VFS wraps
// inodes in dentries for naming, and asks them to open file descriptions.
#ifndef CVISOR_SENTRY_VFS_INODE_H_
#define CVISOR_SENTRY_VFS_INODE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

  // Lists a directory from `offset`: 0 for the start, else a next_offset
  // from an earlier batch. ENOTDIR for anything but a directory.
  virtual absl::StatusOr<DirBatch> ReadDir(uint64_t offset);

 private:
  const mode_t type_;
};

using InodeRef = std::shared_ptr<Inode>;

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_INODE_H_
