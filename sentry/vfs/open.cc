// Opening files as a task does: open(2) flag semantics, permission and
// read-only checks, and execve's open.
#include "sentry/vfs/open.h"

#include <fcntl.h>

#include <cerrno>
#include <utility>

#include "common/errno_status.h"
#include "common/status_macros.h"
#include "sentry/vfs/mutate.h"
#include "sentry/vfs/notify.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

// The kernel's __O_TMPFILE bit alone (glibc's __O_TMPFILE includes
// O_DIRECTORY).
constexpr int kTmpfileBit = 020000000;

absl::Status Errno(int err) { return cv::ErrnoStatus(err); }

}  // namespace

ResolveContext MakeResolveContext(const FsContext& fs,
                                  const AccessIdentity* who, Path start) {
  ResolveContext ctx;
  ctx.mntns = fs.mount_namespace().get();
  ctx.root = fs.root();
  ctx.start = start.valid() ? std::move(start) : fs.cwd();
  ctx.who = who;
  return ctx;
}

int OpenAccessMode(int flags) {
  int may = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      may = kMayRead;
      break;
    case O_WRONLY:
      may = kMayWrite;
      break;
    default:  // O_RDWR, and 3 which Linux checks as read+write
      may = kMayRead | kMayWrite;
      break;
  }
  if (flags & O_TRUNC) may |= kMayWrite;
  return may;
}

bool WriteIsReadOnly(const Path& p, const struct stat& st) {
  if (!p.mount->readonly()) return false;
  return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode);
}

absl::StatusOr<FileRef> OpenAt(const FsContext& fs, const Credentials& creds,
                               const Path& start, std::string_view path,
                               int flags, mode_t mode) {
  return OpenAtRestricted(fs, creds, start, path, flags, mode, 0);
}

absl::StatusOr<FileRef> OpenAtRestricted(const FsContext& fs,
                                         const Credentials& creds,
                                         const Path& start,
                                         std::string_view path, int flags,
                                         mode_t mode, uint64_t restrictions) {
  if ((flags & kTmpfileBit) != 0) {
    // O_TMPFILE is __O_TMPFILE|O_DIRECTORY and needs write access.
    if ((flags & O_TMPFILE) != O_TMPFILE || (flags & O_CREAT) ||
        (flags & O_ACCMODE) == O_RDONLY) {
      return Errno(EINVAL);
    }
  } else if ((flags & O_CREAT) && (flags & O_DIRECTORY)) {
    // Linux 6.4+ refuses the combination outright.
    return Errno(EINVAL);
  }
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

  AccessIdentity who = FsIdentity(creds);
  ResolveContext ctx = MakeResolveContext(fs, &who, start);
  ctx.restrictions = restrictions;

  if (flags & kTmpfileBit) {
    ASSIGN_OR_RETURN(Path dir, ResolvePath(ctx, path, kFollowFinal));
    if (!dir.dentry->IsDir()) return Errno(ENOTDIR);
    if (dir.mount->readonly()) return Errno(EROFS);
    ASSIGN_OR_RETURN(Path made,
                     CreateTmpfile(fs, creds, dir, mode, !(flags & O_EXCL)));
    // Like a created file: usable whatever its mode, nothing to truncate.
    const int open_flags = flags & ~(O_CLOEXEC | O_TRUNC | O_EXCL | O_TMPFILE);
    return made.inode()->Open(made, open_flags | kOLargefile);
  }

  const bool create = flags & O_CREAT;
  int rflags = 0;
  // O_CREAT|O_EXCL never follows a final symlink: the link itself exists.
  if (!(flags & O_NOFOLLOW) && !(create && (flags & O_EXCL))) {
    rflags |= kFollowFinal;
  }
  if (create) rflags |= kAllowMissingFinal;
  Resolved r;
  // A name created by someone else between the lookup and the creation is
  // opened as an existing file (unless O_EXCL), as Linux's retry does.
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(r, Resolve(ctx, path, rflags));
    // open("name/", O_CREAT) is EISDIR whether or not name exists.
    if (create && r.must_be_dir) return Errno(EISDIR);
    if (r.file != nullptr) {
      // /proc/self/fd/N of a pipe or another anonymous file: the same
      // description again (Linux makes a new one on the same object; the
      // sandbox's anonymous files cannot be reopened yet).
      if (create && (flags & O_EXCL)) return Errno(EEXIST);
      if (flags & O_DIRECTORY) return Errno(ENOTDIR);
      return r.file;
    }
    if (r.path.valid()) break;
    absl::StatusOr<Path> made = CreateFile(fs, creds, r.parent, r.name, mode);
    if (made.ok()) {
      // The creator may use the new file whatever mode it was given, and
      // there is nothing to truncate.
      return NotifyOpened(
          made->inode()->Open(
              *made, (flags & ~(O_CLOEXEC | O_TRUNC | O_CREAT | O_EXCL)) |
                         kOLargefile),
          0);
    }
    if (cv::StatusToErrno(made.status()) != EEXIST || (flags & O_EXCL) ||
        attempt > 0) {
      return made.status();
    }
  }

  Path& p = r.path;
  Inode& inode = *p.inode();
  if (create && (flags & O_EXCL)) return Errno(EEXIST);
  if (create && inode.IsDir()) return Errno(EISDIR);
  if ((flags & O_DIRECTORY) && !inode.IsDir()) return Errno(ENOTDIR);
  if (flags & O_PATH) return NewPathFile(p, flags & ~O_CLOEXEC);
  // Only reached without following: O_NOFOLLOW (or O_CREAT|O_EXCL, handled
  // above) on a symlink.
  if (inode.IsSymlink()) return Errno(ELOOP);

  int may = OpenAccessMode(flags);
  if (inode.IsDir() && (may & kMayWrite)) return Errno(EISDIR);
  ASSIGN_OR_RETURN(struct stat st, inode.Stat());
  if ((may & kMayWrite) && WriteIsReadOnly(p, st)) return Errno(EROFS);
  if (int err = CheckPermission(st, who, may); err != 0) return Errno(-err);
  // O_NOATIME: the owner, or CAP_FOWNER (3).
  const bool fowner = who.caps ? ((*who.caps >> 3) & 1) : who.uid == 0;
  if ((flags & O_NOATIME) && !fowner && who.uid != st.st_uid) {
    return Errno(EPERM);
  }
  // x86-64 Linux forces O_LARGEFILE on every open; F_GETFL shows it.
  return NotifyOpened(inode.Open(p, (flags & ~O_CLOEXEC) | kOLargefile), flags);
}

absl::StatusOr<FileRef> OpenExecutable(const FsContext& fs,
                                       const Credentials& creds,
                                       std::string_view path,
                                       const Path& start) {
  AccessIdentity who = FsIdentity(creds);
  ResolveContext ctx = MakeResolveContext(fs, &who, start);
  ASSIGN_OR_RETURN(Path p, ResolvePath(ctx, path, kFollowFinal));
  ASSIGN_OR_RETURN(struct stat st, p.inode()->Stat());
  if (!S_ISREG(st.st_mode)) {
    return cv::ErrnoStatus(EACCES, "execve: not a regular file");
  }
  if (p.mount->noexec()) {
    return cv::ErrnoStatus(EACCES, "execve: mount is noexec");
  }
  if (CheckPermission(st, who, kMayExec) != 0) {
    return cv::ErrnoStatus(EACCES, "execve: no execute permission");
  }
  return p.inode()->Open(p, O_RDONLY | kOLargefile);
}

absl::Status ChangeDirectory(FsContext& fs, const Credentials& creds,
                             std::string_view path) {
  AccessIdentity who = FsIdentity(creds);
  ResolveContext ctx = MakeResolveContext(fs, &who);
  ASSIGN_OR_RETURN(Path p, ResolvePath(ctx, path, kFollowFinal));
  if (!p.dentry->IsDir()) return Errno(ENOTDIR);
  ASSIGN_OR_RETURN(struct stat st, p.inode()->Stat());
  if (int err = CheckPermission(st, who, kMayExec); err != 0) {
    return Errno(-err);
  }
  fs.SetCwd(std::move(p));
  return absl::OkStatus();
}

}  // namespace sentry::vfs
