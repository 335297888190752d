// Building a process image: the execve path shared by the init process and
// (with the process model) the execve syscall.
#ifndef CVISOR_SENTRY_KERNEL_EXEC_H_
#define CVISOR_SENTRY_KERNEL_EXEC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/mount.h"

namespace sentry {

// Finds `name` the way execvp does for a spec's process.args[0]: a name with
// a '/' is used as is; otherwise each directory of the PATH in `envp` (or the
// default PATH) is tried. Returns the path, or a status naming what failed.
absl::StatusOr<std::string> LookPath(Task& task, const std::string& name,
                                     const std::vector<std::string>& envp);

// Replaces the task's address space with a new one running `path` with
// `argv` and `envp`, and sets its registers to start at the entry point.
// Must run on the task's own host thread (it binds the new platform
// context to it). Errors carry the errno execve would return. A relative
// `path` starts at `start` (execveat's dirfd; invalid: the cwd).
absl::Status Exec(Task& task, const std::string& path,
                  const std::vector<std::string>& argv,
                  const std::vector<std::string>& envp,
                  const vfs::Path& start = {});

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_EXEC_H_
