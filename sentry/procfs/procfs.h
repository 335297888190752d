// /proc for the container: a synthetic file system generated from the
// kernel's process tree on every open, in the formats ps, top, free and libc
// parse. /proc/self and /proc/thread-self name the calling task.
#ifndef CVISOR_SENTRY_PROCFS_PROCFS_H_
#define CVISOR_SENTRY_PROCFS_PROCFS_H_

#include <sys/mount.h>

#include <memory>

#include "absl/status/status.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/vfs.h"

namespace sentry::procfs {

// As runc mounts /proc.
inline constexpr int kProcfsMountFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

struct ProcfsMount {
  std::shared_ptr<vfs::FileSystem> fs;
  vfs::DentryRef root;
};

// A new procfs instance over `kernel`, which must outlive it.
ProcfsMount NewProcfs(Kernel& kernel);

// Mounts a new procfs with kProcfsMountFlags on "/proc" of `fs`'s root.
// NotFound if the root has no "/proc" directory: the caller may go on
// without one.
absl::Status MountProcfs(Kernel& kernel, const vfs::FsContext& fs);

}  // namespace sentry::procfs

#endif  // CVISOR_SENTRY_PROCFS_PROCFS_H_
