// /dev for the container: a small file system in sentry memory, reported as
// "tmpfs" as runc's /dev is, holding the character devices every program
// expects (null, zero, full, random, urandom, tty), the /proc/self/fd
// symlinks, and empty shm/ and pts/ directories. The devices are served by
// the sentry; no host device is ever opened.
#ifndef CVISOR_SENTRY_FS_DEVFS_H_
#define CVISOR_SENTRY_FS_DEVFS_H_

#include <sys/mount.h>

#include <memory>

#include "absl/status/status.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {

// How /dev is mounted.
inline constexpr int kDevfsMountFlags = MS_NOSUID;  // as runc mounts /dev

struct DevfsMount {
  std::shared_ptr<vfs::FileSystem> fs;
  vfs::DentryRef root;
};

// A new devfs instance (its own st_dev, times set to now), to be mounted
// anywhere with MountNamespace::AddMount.
DevfsMount NewDevfs();

// Mounts a new devfs with kDevfsMountFlags on "/dev" of `fs`'s root (a
// symlink there is followed, as mount(2) does). NotFound if the root has no
// "/dev" directory: the caller may go on without one.
absl::Status MountDevfs(const vfs::FsContext& fs);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_DEVFS_H_
