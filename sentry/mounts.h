// The container's file system tree as Boot() assembles it: the root (an
// overlay over the gofer's root, or the gofer's root itself), the file
// systems every container gets (/dev, /proc, /sys, /dev/shm, /tmp), and the
// spec's mounts in the order the spec lists them.
#ifndef CVISOR_SENTRY_MOUNTS_H_
#define CVISOR_SENTRY_MOUNTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gofer/client.h"
#include "sentry/kernel/kernel.h"
#include "sentry/sentry.h"
#include "sentry/vfs/vfs.h"

namespace sentry {

absl::StatusOr<std::shared_ptr<vfs::FsContext>> BuildFileSystemTree(
    const BootConfig& config, const std::shared_ptr<gofer::Client>& client,
    Kernel& kernel);

}  // namespace sentry

#endif  // CVISOR_SENTRY_MOUNTS_H_
