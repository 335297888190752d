// The sentry's virtual file system: the one header the rest of the sentry
// includes. It brings in the VFS types (Inode, Dentry, Mount, Path,
// FileDescription, FdTable, FsContext, path resolution) and declares the
// operations the kernel and the syscalls use to open files the way a task
// would.
#ifndef CVISOR_SENTRY_VFS_VFS_H_
#define CVISOR_SENTRY_VFS_VFS_H_

#include <sys/types.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sentry/kernel/task.h"  // Credentials
#include "sentry/vfs/dentry.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/file.h"
#include "sentry/vfs/fs_context.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/mount.h"
#include "sentry/vfs/mutate.h"
#include "sentry/vfs/path.h"

namespace sentry::vfs {

// How a task with `fs` resolves a path: from its root, relative paths from
// `start` (an invalid Path means the cwd), checking search permission as
// `who` (null: no checks). `who` must outlive the context.
ResolveContext MakeResolveContext(const FsContext& fs,
                                  const AccessIdentity* who, Path start = {});

// open(2)/openat(2): opens `path`, relative paths starting at `start` (the
// cwd or a dirfd's path; invalid means the cwd). `flags` are open(2)'s
// (O_CLOEXEC is the fd table's business, not the description's); `mode` is
// for O_CREAT (the umask is applied here). O_CREAT of a missing file
// creates it through Inode::Create (EROFS on a read-only mount, EACCES
// without write and search permission on the directory); O_TRUNC of an
// existing file is the file system's Open's business.
absl::StatusOr<FileRef> OpenAt(const FsContext& fs, const Credentials& creds,
                               const Path& start, std::string_view path,
                               int flags, mode_t mode);

// execve(2): opens `path` (relative to `start`, invalid = the cwd) as a
// program to load, following symlinks. EACCES unless it is a regular file
// the task may execute (any x bit for root) on a mount without noexec. The
// description is readable whatever the file's r bits: read it with
// FileDescription::ReadAt or MakePReadFn, map it with host_fd().
absl::StatusOr<FileRef> OpenExecutable(const FsContext& fs,
                                       const Credentials& creds,
                                       std::string_view path,
                                       const Path& start = {});

// chdir(2): ENOTDIR unless a directory, EACCES without search permission.
absl::Status ChangeDirectory(FsContext& fs, const Credentials& creds,
                             std::string_view path);

// The access mode open(2) flags ask for, as kMay* bits (O_TRUNC asks for
// write).
int OpenAccessMode(int flags);

// Whether the file a write would change lives on a read-only mount: EROFS
// applies to regular files, directories and symlinks, not to device files,
// FIFOs or sockets, which are written elsewhere.
bool WriteIsReadOnly(const Path& p, const struct stat& st);

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_VFS_H_
