// Opening with openat2(2)'s restrictions. OpenAt (vfs.h) is this with no
// restrictions.
#ifndef CVISOR_SENTRY_VFS_OPEN_H_
#define CVISOR_SENTRY_VFS_OPEN_H_

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "sentry/kernel/task.h"  // Credentials
#include "sentry/vfs/file.h"
#include "sentry/vfs/fs_context.h"
#include "sentry/vfs/path.h"

namespace sentry::vfs {

// open(2) of `path` from `start` (invalid: the cwd) with `restrictions`
// (kResolve* bits of path.h) applied to the walk. A magic link to an
// anonymous file (/proc/self/fd/N of a pipe) opens that same description
// again: the new fd shares its offset and flags.
absl::StatusOr<FileRef> OpenAtRestricted(const FsContext& fs,
                                         const Credentials& creds,
                                         const Path& start,
                                         std::string_view path, int flags,
                                         mode_t mode, uint64_t restrictions);

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_OPEN_H_
