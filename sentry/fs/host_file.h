// Files backed directly by a host fd the sandbox was given: the container's
// stdin, stdout and stderr (a terminal, a pipe, a file or /dev/null on the
// host). read/write/lseek/fstat and the terminal ioctls go to the host fd,
// so they behave exactly as the host's file would (ENOTTY on a pipe,
// ESPIPE on lseek of a pipe).
#ifndef CVISOR_SENTRY_FS_HOST_FILE_H_
#define CVISOR_SENTRY_FS_HOST_FILE_H_

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {

// Wraps `host_fd` (taking ownership) as an anonymous file description. Its
// status flags start as the host's (F_GETFL); O_NONBLOCK set by the
// application is emulated in the sentry and never set on the host fd, which
// is shared with whoever started the container. EBADF if host_fd is not an
// open fd.
absl::StatusOr<vfs::FileRef> NewHostFile(cv::UniqueFd host_fd);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_HOST_FILE_H_
