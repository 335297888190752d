// tmpfs: a file system that lives in sentry memory, for /tmp and /dev/shm.
// Every file type the VFS knows can be made here; a regular file's data sits
// in its own host memfd, so that reads and writes are host preads/pwrites
// and the file can later be mapped into an application by passing the fd.
// FIFOs made by mknod open as Linux named pipes; extended attributes in the
// user., trusted. and security. namespaces are kept per inode.
#ifndef CVISOR_SENTRY_FS_TMPFS_H_
#define CVISOR_SENTRY_FS_TMPFS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {

// statfs(2)'s f_type for tmpfs (linux/magic.h TMPFS_MAGIC).
inline constexpr long kTmpfsMagic = 0x01021994;

// The root directory of a new instance (mount(2)'s mode=, uid=, gid=) and
// its size limit (size=).
struct TmpfsOptions {
  mode_t mode = 01777;
  uint32_t uid = 0;
  uint32_t gid = 0;
  // The most bytes of regular-file data the instance holds; 0: no limit.
  // File sizes are counted (a sparse file counts whole), so a write or
  // truncate that would grow the total past the limit gives ENOSPC. statfs
  // reports it as the size; without a limit it reports half the host's RAM,
  // Linux's default for tmpfs.
  uint64_t size_bytes = 0;
};

struct TmpfsMount {
  std::shared_ptr<vfs::FileSystem> fs;
  vfs::DentryRef root;
};

// A new, empty tmpfs instance with its own st_dev.
TmpfsMount NewTmpfs(const TmpfsOptions& opts = {});

// Mounts a new tmpfs whose root has `mode` (owned by root) on `path` of
// `fs`'s root, with mount `flags` (MS_NOSUID, MS_NODEV, ...). NotFound if
// `path` does not exist or is not a directory.
absl::Status MountTmpfs(const vfs::FsContext& fs, std::string_view path,
                        int flags, mode_t mode);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_TMPFS_H_
