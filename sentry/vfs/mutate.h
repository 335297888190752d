// Changing the file tree as a task does: creating, linking, removing and
// renaming names, and changing a file's attributes. These functions make the
// checks Linux's namei.c and attr.c make (parent permissions, the sticky
// bit, read-only mounts, mount points, trailing slashes, ".." loops) and
// keep the dentry cache in step; file systems implement the Inode methods.
#ifndef CVISOR_SENTRY_VFS_MUTATE_H_
#define CVISOR_SENTRY_VFS_MUTATE_H_

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sentry/kernel/task.h"  // Credentials
#include "sentry/vfs/fs_context.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/mount.h"

namespace sentry::vfs {

class FileDescription;

// In every *At function relative paths start at `start` (the cwd when
// invalid), and errors are Linux's errnos in the status.

// mkdir(2): `mode` is masked with 07777 (S_ISVTX kept) and the umask.
absl::Status MkdirAt(const FsContext& fs, const Credentials& creds,
                     const Path& start, std::string_view path, mode_t mode);
// mknod(2): regular files (type 0 too), FIFOs and sockets. Character and
// block devices give EPERM: the sandbox serves no device nodes of its own
// yet. Directories: EPERM, as Linux's may_mknod; unknown types: EINVAL.
absl::Status MknodAt(const FsContext& fs, const Credentials& creds,
                     const Path& start, std::string_view path, mode_t mode,
                     dev_t dev);
// symlink(2): `target` is stored as given (ENOENT if empty).
absl::Status SymlinkAt(const FsContext& fs, const Credentials& creds,
                       std::string_view target, const Path& start,
                       std::string_view path);
// link(2)/linkat(2): a new name `new_path` for the file `old` (already
// resolved by the caller, following or not as AT_SYMLINK_FOLLOW says, or
// dirfd's file for AT_EMPTY_PATH).
absl::Status LinkAt(const FsContext& fs, const Credentials& creds,
                    const Path& old, const Path& new_start,
                    std::string_view new_path);
// unlink(2), rmdir(2) (`flags` AT_REMOVEDIR) and unlinkat(2).
absl::Status UnlinkAt(const FsContext& fs, const Credentials& creds,
                      const Path& start, std::string_view path, int flags);
// rename(2)/renameat2(2); `flags` RENAME_NOREPLACE or RENAME_EXCHANGE
// (RENAME_WHITEOUT is refused with EINVAL: there are no overlays).
absl::Status RenameAt2(const FsContext& fs, const Credentials& creds,
                       const Path& old_start, std::string_view old_path,
                       const Path& new_start, std::string_view new_path,
                       unsigned flags);

// open(2) with O_CREAT of a missing file: creates a regular file `name` in
// `dir` with `mode` (umask not yet applied) and returns where it is. EEXIST
// if the name appeared meanwhile. Checks EROFS and the directory's
// permissions.
absl::StatusOr<Path> CreateFile(const FsContext& fs, const Credentials& creds,
                                const Path& dir, const std::string& name,
                                mode_t mode);

// open(2) with O_TMPFILE in `dir`: a new regular file with `mode` (umask
// not yet applied) and no name, and where it lives (a dentry `dir` does
// not list). `linkable` (no O_EXCL) lets linkat(2) name it later. EACCES
// without write and search permission on `dir`, then EOPNOTSUPP where the
// file system has no unnamed files. The caller checks EROFS.
absl::StatusOr<Path> CreateTmpfile(const FsContext& fs,
                                   const Credentials& creds, const Path& dir,
                                   mode_t mode, bool linkable);

// Attribute changes on a resolved file (the syscalls resolve paths and fds).
// chmod(2): owner or CAP_FOWNER, else EPERM.
absl::Status Chmod(const Credentials& creds, const Path& p, mode_t mode);
// chown(2): -1 (as uint32_t) leaves an id alone. CAP_CHOWN, or the owner
// giving the file to a group it is in, else EPERM. Clears set-user-ID (and
// set-group-ID on group-executable files) of non-directories, as Linux.
absl::Status Chown(const Credentials& creds, const Path& p, uint32_t uid,
                   uint32_t gid);
// truncate(2): EINVAL for negative lengths and non-regular files, EISDIR for
// directories, EACCES without write permission.
absl::Status Truncate(const Credentials& creds, const Path& p, int64_t length);
// ftruncate(2): EINVAL unless `file` is a regular file open for writing.
absl::Status Ftruncate(FileDescription& file, int64_t length);
// utimensat(2) on a resolved file: `times` null sets both to now, else
// tv_nsec may be UTIME_NOW or UTIME_OMIT (already checked for range).
// Setting "now" needs ownership or write permission (EACCES); anything else
// ownership or CAP_FOWNER (EPERM).
absl::Status Utimens(const Credentials& creds, const Path& p,
                     const struct timespec* times);

// Whether `mode`'s time fields are valid for utimensat: each tv_nsec in
// [0, 1e9) or UTIME_NOW / UTIME_OMIT.
bool ValidTimespecs(const struct timespec times[2]);

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_MUTATE_H_
