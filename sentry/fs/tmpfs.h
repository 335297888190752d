// tmpfs: a file system that lives in sentry memory, for /tmp and /dev/shm.
// Every file type the VFS knows can be made here; a regular file's data sits
// in its own host memfd, so that reads and writes are host preads/pwrites
// and the file can later be mapped into an application by passing the fd.
#ifndef CVISOR_SENTRY_FS_TMPFS_H_
#define CVISOR_SENTRY_FS_TMPFS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {

// The root directory of a new instance (mount(2)'s mode=, uid=, gid=).
struct TmpfsOptions {
  mode_t mode = 01777;
  uint32_t uid = 0;
  uint32_t gid = 0;
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
