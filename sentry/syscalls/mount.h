// The hook mount(2) needs for "proc": procfs is built on top of the kernel
// library the syscalls live in, so Boot() hands the syscalls a factory.
#ifndef CVISOR_SENTRY_SYSCALLS_MOUNT_H_
#define CVISOR_SENTRY_SYSCALLS_MOUNT_H_

#include <memory>

#include "sentry/vfs/dentry.h"
#include "sentry/vfs/mount.h"

namespace sentry {

class Kernel;

struct NewFileSystem {
  std::shared_ptr<vfs::FileSystem> fs;
  vfs::DentryRef root;
};
using ProcfsFactory = NewFileSystem (*)(Kernel& kernel);

// Until this is called, mount(2) of "proc" gives ENODEV.
void SetProcfsFactory(ProcfsFactory factory);

}  // namespace sentry

#endif  // CVISOR_SENTRY_SYSCALLS_MOUNT_H_
