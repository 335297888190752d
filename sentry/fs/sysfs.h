// A minimal /sys for the container: what glibc and common tools read about
// CPUs (/sys/devices/system/cpu/{online,possible,present}, which
// get_nprocs() and nproc use) and an empty /sys/fs/cgroup mount point, as a
// read-only tree in sentry memory. Nothing of the host's /sys is exposed.
#ifndef CVISOR_SENTRY_FS_SYSFS_H_
#define CVISOR_SENTRY_FS_SYSFS_H_

#include <sys/mount.h>

#include <memory>

#include "absl/status/status.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {

// As runc mounts /sys (read-only in Docker's default spec).
inline constexpr int kSysfsMountFlags =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

struct SysfsMount {
  std::shared_ptr<vfs::FileSystem> fs;
  vfs::DentryRef root;
};

// A new instance describing `cpus` online CPUs (0..cpus-1).
SysfsMount NewSysfs(int cpus);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_SYSFS_H_
