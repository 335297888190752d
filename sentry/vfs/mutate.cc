#include "sentry/vfs/mutate.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>  // RENAME_*
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <string>
#include <utility>

#include "common/errno_status.h"
#include "common/status_macros.h"
#include "sentry/vfs/notify.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

absl::Status Errno(int err) { return cv::ErrnoStatus(err); }

// Serialises every change to names, as Linux's per-superblock rename mutex
// plus directory locks do: between a lookup and the change it decides on,
// nobody else changes the names involved, and the ".." loop check of a
// rename sees a stable tree.
std::mutex& NamespaceMutex() {
  static std::mutex mu;
  return mu;
}

enum class LastType { kNormal, kDot, kDotDot, kRoot };

// A path split into where its last component lives and that component, as
// Linux's filename_parentat.
struct Split {
  Path dir;
  std::string name;
  LastType type = LastType::kNormal;
  bool trailing = false;  // the last component was followed by "/"
};

bool InGroup(const Credentials& creds, uint32_t gid) {
  return creds.fsgid == gid ||
         std::find(creds.groups.begin(), creds.groups.end(), gid) !=
             creds.groups.end();
}

bool OwnerOrCap(const Credentials& creds, const struct stat& st) {
  return creds.fsuid == st.st_uid || creds.HasCap(CAP_FOWNER);
}

absl::StatusOr<Split> SplitAt(const FsContext& fs, const AccessIdentity& who,
                              const Path& start, std::string_view path) {
  if (path.empty()) return Errno(ENOENT);
  if (path.size() >= kPathMax) return Errno(ENAMETOOLONG);
  Split s;
  size_t end = path.size();
  while (end > 0 && path[end - 1] == '/') --end;
  s.trailing = end < path.size();
  size_t slash = path.find_last_of('/', end == 0 ? 0 : end - 1);
  std::string_view dirpart;
  std::string_view last;
  if (end == 0) {
    dirpart = "/";
    s.type = LastType::kRoot;
  } else if (slash == std::string_view::npos) {
    last = path.substr(0, end);
  } else {
    dirpart = path.substr(0, slash + 1);
    last = path.substr(slash + 1, end - slash - 1);
  }
  if (last == ".") s.type = LastType::kDot;
  if (last == "..") s.type = LastType::kDotDot;
  if (last.size() > kNameMax) return Errno(ENAMETOOLONG);
  s.name = std::string(last);
  ResolveContext ctx = MakeResolveContext(fs, &who, start);
  if (dirpart.empty()) {
    s.dir = ctx.start;
  } else {
    ASSIGN_OR_RETURN(s.dir, ResolvePath(ctx, dirpart, kFollowFinal));
  }
  if (!s.dir.dentry->IsDir()) return Errno(ENOTDIR);
  return s;
}

// The last component of `s`, not following a symlink: the Path when it
// exists (invalid when not). `mounted` tells whether something is mounted
// on it in `s.dir`'s mount (the Path is then the mount's root).
struct Final {
  Path path;
  DentryRef dentry;  // in s.dir's file system; null when missing
  bool mounted = false;
};

absl::StatusOr<Final> LookupFinal(const FsContext& fs,
                                  const AccessIdentity& who, const Split& s) {
  ResolveContext ctx = MakeResolveContext(fs, &who, s.dir);
  ASSIGN_OR_RETURN(Resolved r, Resolve(ctx, s.name, kAllowMissingFinal));
  Final f;
  if (!r.path.valid()) return f;
  f.path = r.path;
  f.mounted = r.path.mount != s.dir.mount;
  f.dentry = f.mounted ? s.dir.dentry->CachedChild(s.name) : r.path.dentry;
  if (f.dentry == nullptr) f.dentry = r.path.dentry;
  return f;
}

// may_create: write and search permission on the directory.
absl::Status MayCreate(const Path& dir, const AccessIdentity& who) {
  ASSIGN_OR_RETURN(struct stat st, dir.inode()->Stat());
  if (st.st_nlink == 0) return Errno(ENOENT);  // a removed directory
  if (int err = CheckPermission(st, who, kMayWrite | kMayExec); err != 0) {
    return Errno(-err);
  }
  return absl::OkStatus();
}

// may_delete: permission on the directory, the sticky bit, and the types.
absl::Status MayDelete(const Path& dir, const InodeRef& victim,
                       const Credentials& creds, const AccessIdentity& who,
                       bool want_dir) {
  ASSIGN_OR_RETURN(struct stat dst, dir.inode()->Stat());
  if (int err = CheckPermission(dst, who, kMayWrite | kMayExec); err != 0) {
    return Errno(-err);
  }
  ASSIGN_OR_RETURN(struct stat vst, victim->Stat());
  // The sticky bit: only the file's owner, the directory's owner or
  // CAP_FOWNER may remove or rename a name in /tmp.
  if ((dst.st_mode & S_ISVTX) && creds.fsuid != vst.st_uid &&
      creds.fsuid != dst.st_uid && !creds.HasCap(CAP_FOWNER)) {
    return Errno(EPERM);
  }
  if (want_dir && !victim->IsDir()) return Errno(ENOTDIR);
  if (!want_dir && victim->IsDir()) return Errno(EISDIR);
  return absl::OkStatus();
}

// The new file's owner and mode, as inode_init_owner: a set-group-ID
// directory passes on its group (and its S_ISGID to subdirectories).
absl::StatusOr<NewFileSpec> OwnerFor(const Path& dir, const Credentials& creds,
                                     mode_t mode) {
  ASSIGN_OR_RETURN(struct stat dst, dir.inode()->Stat());
  NewFileSpec spec;
  spec.uid = creds.fsuid;
  spec.gid = creds.fsgid;
  spec.mode = mode;
  if (dst.st_mode & S_ISGID) {
    spec.gid = dst.st_gid;
    if (S_ISDIR(mode)) {
      spec.mode |= S_ISGID;
    } else if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
               !InGroup(creds, spec.gid) && !creds.HasCap(CAP_FSETID)) {
      spec.mode &= ~S_ISGID;
    }
  }
  return spec;
}

// The shared front of mkdir, mknod, symlink and link (filename_create): the
// name must be new, the mount writable, the directory writable.
absl::StatusOr<Split> PrepareCreate(const FsContext& fs,
                                    const AccessIdentity& who,
                                    const Path& start, std::string_view path) {
  ASSIGN_OR_RETURN(Split s, SplitAt(fs, who, start, path));
  if (s.type != LastType::kNormal) return Errno(EEXIST);
  return s;
}

absl::Status CheckCreateLocked(const FsContext& fs, const AccessIdentity& who,
                               const Split& s, bool is_dir) {
  ASSIGN_OR_RETURN(Final f, LookupFinal(fs, who, s));
  if (f.path.valid()) return Errno(EEXIST);
  // "name/" may only be created as a directory.
  if (s.trailing && !is_dir) return Errno(ENOENT);
  if (s.dir.mount->readonly()) return Errno(EROFS);
  return MayCreate(s.dir, who);
}

// Records a new name in the dentry cache (replacing a negative entry).
Path Remember(const Split& s, InodeRef inode) {
  s.dir.dentry->DropChild(s.name);
  DentryRef d = s.dir.dentry->AddChild(s.name, std::move(inode));
  s.dir.mount->fs()->dentry_cache().Touch(d);
  return Path{s.dir.mount, std::move(d)};
}

absl::Status MakeNode(const FsContext& fs, const Credentials& creds,
                      const Path& start, std::string_view path, mode_t mode,
                      dev_t dev, std::string_view target) {
  AccessIdentity who = FsIdentity(creds);
  const bool is_dir = S_ISDIR(mode);
  ASSIGN_OR_RETURN(Split s, PrepareCreate(fs, who, start, path));
  std::lock_guard<std::mutex> lock(NamespaceMutex());
  RETURN_IF_ERROR(CheckCreateLocked(fs, who, s, is_dir));
  ASSIGN_OR_RETURN(NewFileSpec spec, OwnerFor(s.dir, creds, mode));
  spec.rdev = dev;
  Inode& dir = *s.dir.inode();
  absl::StatusOr<InodeRef> made;
  switch (mode & S_IFMT) {
    case S_IFDIR:
      made = dir.Mkdir(s.name, spec);
      break;
    case S_IFREG:
      made = dir.Create(s.name, spec);
      break;
    case S_IFLNK:
      made = dir.Symlink(s.name, std::string(target), spec);
      break;
    default:
      made = dir.Mknod(s.name, spec);
      break;
  }
  if (!made.ok()) return made.status();
  NotifyCreated(Remember(s, *std::move(made)));
  return absl::OkStatus();
}

// Whether `d` is `ancestor` or below it (same file system).
bool IsAncestor(const DentryRef& ancestor, DentryRef d) {
  while (d != nullptr) {
    if (d == ancestor) return true;
    d = d->parent();
  }
  return false;
}

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

}  // namespace

absl::Status MkdirAt(const FsContext& fs, const Credentials& creds,
                     const Path& start, std::string_view path, mode_t mode) {
  return MakeNode(fs, creds, start, path,
                  S_IFDIR | (mode & 07777 & ~fs.umask()), 0, {});
}

absl::Status MknodAt(const FsContext& fs, const Credentials& creds,
                     const Path& start, std::string_view path, mode_t mode,
                     dev_t dev) {
  mode_t type = mode & S_IFMT;
  switch (type) {
    case 0:
      type = S_IFREG;
      break;
    case S_IFREG:
    case S_IFIFO:
    case S_IFSOCK:
      break;
    case S_IFCHR:
    case S_IFBLK:
      // Linux wants CAP_MKNOD; the sandbox does not serve device nodes from
      // file systems, so nobody gets to make one.
      return cv::ErrnoStatus(EPERM, "mknod of a device node");
    case S_IFDIR:
      return Errno(EPERM);  // may_mknod: directories come from mkdir
    default:
      return Errno(EINVAL);
  }
  return MakeNode(fs, creds, start, path, type | (mode & 07777 & ~fs.umask()),
                  dev, {});
}

absl::Status SymlinkAt(const FsContext& fs, const Credentials& creds,
                       std::string_view target, const Path& start,
                       std::string_view path) {
  if (target.empty()) return Errno(ENOENT);
  if (target.size() >= kPathMax) return Errno(ENAMETOOLONG);
  return MakeNode(fs, creds, start, path, S_IFLNK | 0777, 0, target);
}

absl::StatusOr<Path> CreateFile(const FsContext& fs, const Credentials& creds,
                                const Path& dir, const std::string& name,
                                mode_t mode) {
  AccessIdentity who = FsIdentity(creds);
  Split s;
  s.dir = dir;
  s.name = name;
  std::lock_guard<std::mutex> lock(NamespaceMutex());
  RETURN_IF_ERROR(CheckCreateLocked(fs, who, s, false));
  ASSIGN_OR_RETURN(
      NewFileSpec spec,
      OwnerFor(dir, creds, S_IFREG | (mode & 07777 & ~fs.umask())));
  ASSIGN_OR_RETURN(InodeRef made, dir.inode()->Create(name, spec));
  return NotifyCreated(Remember(s, std::move(made)));
}

absl::StatusOr<Path> CreateTmpfile(const FsContext& fs,
                                   const Credentials& creds, const Path& dir,
                                   mode_t mode, bool linkable) {
  AccessIdentity who = FsIdentity(creds);
  // vfs_tmpfile: permission before the file system's support.
  ASSIGN_OR_RETURN(struct stat dst, dir.inode()->Stat());
  if (int err = CheckPermission(dst, who, kMayWrite | kMayExec); err != 0) {
    return Errno(-err);
  }
  ASSIGN_OR_RETURN(
      NewFileSpec spec,
      OwnerFor(dir, creds, S_IFREG | (mode & 07777 & ~fs.umask())));
  ASSIGN_OR_RETURN(InodeRef made, dir.inode()->Tmpfile(spec));
  made->set_tmpfile_linkable(linkable);
  ASSIGN_OR_RETURN(struct stat st, made->Stat());
  return Path{dir.mount,
              Dentry::NewDetached(dir.dentry, "#" + std::to_string(st.st_ino),
                                  std::move(made))};
}

absl::Status LinkAt(const FsContext& fs, const Credentials& creds,
                    const Path& old, const Path& new_start,
                    std::string_view new_path) {
  AccessIdentity who = FsIdentity(creds);
  ASSIGN_OR_RETURN(Split s, PrepareCreate(fs, who, new_start, new_path));
  std::lock_guard<std::mutex> lock(NamespaceMutex());
  {
    ASSIGN_OR_RETURN(Final f, LookupFinal(fs, who, s));
    if (f.path.valid()) return Errno(EEXIST);
    if (s.trailing) return Errno(ENOENT);
  }
  if (old.mount != s.dir.mount) return Errno(EXDEV);
  if (s.dir.mount->readonly()) return Errno(EROFS);
  ASSIGN_OR_RETURN(struct stat ost, old.inode()->Stat());
  // fs.protected_hardlinks (on by default): a non-owner may only link a
  // regular, non-set-ID file it may read and write.
  if (creds.fsuid != ost.st_uid && !creds.HasCap(CAP_FOWNER)) {
    bool ok = S_ISREG(ost.st_mode) && !(ost.st_mode & S_ISUID) &&
              (ost.st_mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP) &&
              CheckPermission(ost, who, kMayRead | kMayWrite) == 0;
    if (!ok) return Errno(EPERM);
  }
  RETURN_IF_ERROR(MayCreate(s.dir, who));
  if (old.inode()->IsDir()) return Errno(EPERM);
  // Linking a removed file, unless an O_TMPFILE file made to be linked.
  if (ost.st_nlink == 0 && !old.inode()->tmpfile_linkable()) {
    return Errno(ENOENT);
  }
  RETURN_IF_ERROR(s.dir.inode()->Link(s.name, old.inode()));
  old.inode()->set_tmpfile_linkable(false);
  NotifyLinked(Remember(s, old.inode()));
  return absl::OkStatus();
}

absl::Status UnlinkAt(const FsContext& fs, const Credentials& creds,
                      const Path& start, std::string_view path, int flags) {
  if (flags & ~AT_REMOVEDIR) return Errno(EINVAL);
  const bool rmdir = flags & AT_REMOVEDIR;
  AccessIdentity who = FsIdentity(creds);
  ASSIGN_OR_RETURN(Split s, SplitAt(fs, who, start, path));
  switch (s.type) {
    case LastType::kNormal:
      break;
    case LastType::kDot:
      return Errno(rmdir ? EINVAL : EISDIR);
    case LastType::kDotDot:
      return Errno(rmdir ? ENOTEMPTY : EISDIR);
    case LastType::kRoot:
      return Errno(rmdir ? EBUSY : EISDIR);
  }
  if (s.dir.mount->readonly()) return Errno(EROFS);
  std::lock_guard<std::mutex> lock(NamespaceMutex());
  ASSIGN_OR_RETURN(Final f, LookupFinal(fs, who, s));
  if (!f.path.valid()) return Errno(ENOENT);
  const InodeRef& victim = f.dentry->inode();
  if (!rmdir && s.trailing) return Errno(victim->IsDir() ? EISDIR : ENOTDIR);
  RETURN_IF_ERROR(MayDelete(s.dir, victim, creds, who, rmdir));
  if (f.mounted || f.dentry->mount_count() > 0) return Errno(EBUSY);
  if (rmdir) {
    RETURN_IF_ERROR(s.dir.inode()->Rmdir(s.name));
  } else {
    RETURN_IF_ERROR(s.dir.inode()->Unlink(s.name));
  }
  s.dir.dentry->DropChild(s.name);
  NotifyRemoved(s.dir, s.name, victim, rmdir);
  return absl::OkStatus();
}

absl::Status RenameAt2(const FsContext& fs, const Credentials& creds,
                       const Path& old_start, std::string_view old_path,
                       const Path& new_start, std::string_view new_path,
                       unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) {
    return Errno(EINVAL);
  }
  if ((flags & RENAME_EXCHANGE) &&
      (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) {
    return Errno(EINVAL);
  }
  if (flags & RENAME_WHITEOUT) {
    return cv::ErrnoStatus(EINVAL, "RENAME_WHITEOUT is not supported");
  }
  const bool exchange = flags & RENAME_EXCHANGE;
  AccessIdentity who = FsIdentity(creds);
  ASSIGN_OR_RETURN(Split from, SplitAt(fs, who, old_start, old_path));
  ASSIGN_OR_RETURN(Split to, SplitAt(fs, who, new_start, new_path));
  if (from.dir.mount != to.dir.mount) return Errno(EXDEV);
  if (from.type != LastType::kNormal) return Errno(EBUSY);
  if (to.type != LastType::kNormal) {
    return Errno((flags & RENAME_NOREPLACE) ? EEXIST : EBUSY);
  }
  if (from.dir.mount->readonly()) return Errno(EROFS);

  std::lock_guard<std::mutex> lock(NamespaceMutex());
  ASSIGN_OR_RETURN(Final src, LookupFinal(fs, who, from));
  if (!src.path.valid()) return Errno(ENOENT);
  ASSIGN_OR_RETURN(Final dst, LookupFinal(fs, who, to));
  if ((flags & RENAME_NOREPLACE) && dst.path.valid()) return Errno(EEXIST);
  if (exchange && !dst.path.valid()) return Errno(ENOENT);
  const InodeRef& sinode = src.dentry->inode();
  const bool src_dir = sinode->IsDir();
  if (!exchange) {
    if (!src_dir && (from.trailing || to.trailing)) return Errno(ENOTDIR);
  } else {
    if (from.trailing && !src_dir) return Errno(ENOTDIR);
    if (to.trailing && !dst.dentry->IsDir()) return Errno(ENOTDIR);
  }
  // A directory cannot move below itself; a target that is an ancestor of
  // the source is not empty.
  if (IsAncestor(src.dentry, to.dir.dentry)) return Errno(EINVAL);
  if (dst.path.valid() && IsAncestor(dst.dentry, from.dir.dentry)) {
    return Errno(exchange ? EINVAL : ENOTEMPTY);
  }
  // Renaming a file onto another name of itself does nothing.
  if (dst.path.valid() && dst.dentry->inode() == sinode) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(MayDelete(from.dir, sinode, creds, who, src_dir));
  if (!dst.path.valid()) {
    RETURN_IF_ERROR(MayCreate(to.dir, who));
  } else {
    bool want_dir = exchange ? dst.dentry->IsDir() : src_dir;
    RETURN_IF_ERROR(
        MayDelete(to.dir, dst.dentry->inode(), creds, who, want_dir));
  }
  // A directory moving to another parent rewrites its "..": it must be
  // writable itself.
  if (from.dir.dentry != to.dir.dentry) {
    if (src_dir) {
      ASSIGN_OR_RETURN(struct stat st, sinode->Stat());
      if (int err = CheckPermission(st, who, kMayWrite); err != 0) {
        return Errno(-err);
      }
    }
    if (exchange && dst.dentry->IsDir()) {
      ASSIGN_OR_RETURN(struct stat st, dst.dentry->inode()->Stat());
      if (int err = CheckPermission(st, who, kMayWrite); err != 0) {
        return Errno(-err);
      }
    }
  }
  if (src.mounted || src.dentry->mount_count() > 0) return Errno(EBUSY);
  if (dst.path.valid() && (dst.mounted || dst.dentry->mount_count() > 0)) {
    return Errno(EBUSY);
  }
  RETURN_IF_ERROR(
      from.dir.inode()->Rename(from.name, *to.dir.inode(), to.name, flags));
  if (exchange) {
    DentryRef a = src.dentry;
    DentryRef b = dst.dentry;
    a->MoveTo(to.dir.dentry, to.name);
    b->MoveTo(from.dir.dentry, from.name);
  } else {
    to.dir.dentry->DropChild(to.name);
    src.dentry->MoveTo(to.dir.dentry, to.name);
  }
  NotifyRenamed(from.dir, from.name, to.dir, to.name, sinode,
                dst.path.valid() ? dst.dentry->inode() : nullptr, exchange);
  return absl::OkStatus();
}

absl::Status Chmod(const Credentials& creds, const Path& p, mode_t mode) {
  if (p.mount->readonly()) return Errno(EROFS);
  ASSIGN_OR_RETURN(struct stat st, p.inode()->Stat());
  if (!OwnerOrCap(creds, st)) return Errno(EPERM);
  mode &= 07777;
  // Without CAP_FSETID, only a member of the file's group may set S_ISGID.
  if ((mode & S_ISGID) && !InGroup(creds, st.st_gid) &&
      !creds.HasCap(CAP_FSETID)) {
    mode &= ~S_ISGID;
  }
  SetAttrRequest req;
  req.mask = SetAttrRequest::kMode;
  req.mode = mode;
  return NotifyAttrChanged(p, req.mask, p.inode()->SetAttr(req));
}

absl::Status Chown(const Credentials& creds, const Path& p, uint32_t uid,
                   uint32_t gid) {
  if (p.mount->readonly()) return Errno(EROFS);
  ASSIGN_OR_RETURN(struct stat st, p.inode()->Stat());
  SetAttrRequest req;
  const bool chown_cap = creds.HasCap(CAP_CHOWN);
  if (uid != static_cast<uint32_t>(-1) && uid != st.st_uid) {
    if (!chown_cap) return Errno(EPERM);
  }
  if (uid != static_cast<uint32_t>(-1)) {
    if (uid == st.st_uid && creds.fsuid != st.st_uid && !chown_cap) {
      return Errno(EPERM);
    }
    req.mask |= SetAttrRequest::kUid;
    req.uid = uid;
  }
  if (gid != static_cast<uint32_t>(-1)) {
    bool ok = chown_cap || (creds.fsuid == st.st_uid &&
                            (gid == st.st_gid || InGroup(creds, gid)));
    if (!ok) return Errno(EPERM);
    req.mask |= SetAttrRequest::kGid;
    req.gid = gid;
  }
  if (!S_ISDIR(st.st_mode) &&
      (req.mask & (SetAttrRequest::kUid | SetAttrRequest::kGid))) {
    req.mask |= SetAttrRequest::kKillSuid;
  }
  return NotifyAttrChanged(p, req.mask, p.inode()->SetAttr(req));
}

namespace {
absl::Status SetSize(Inode& inode, int64_t length) {
  SetAttrRequest req;
  req.mask = SetAttrRequest::kSize | SetAttrRequest::kMtime;
  req.size = static_cast<uint64_t>(length);
  req.mtime = Now();
  return inode.SetAttr(req);
}
}  // namespace

absl::Status Truncate(const Credentials& creds, const Path& p, int64_t length) {
  if (length < 0) return Errno(EINVAL);
  Inode& inode = *p.inode();
  if (inode.IsDir()) return Errno(EISDIR);
  if (!inode.IsRegular()) return Errno(EINVAL);
  AccessIdentity who = FsIdentity(creds);
  if (p.mount->readonly()) return Errno(EROFS);
  ASSIGN_OR_RETURN(struct stat st, inode.Stat());
  if (int err = CheckPermission(st, who, kMayWrite); err != 0) {
    return Errno(-err);
  }
  return NotifyAttrChanged(p, SetAttrRequest::kSize, SetSize(inode, length));
}

absl::Status Ftruncate(FileDescription& file, int64_t length) {
  if (length < 0) return Errno(EINVAL);
  Inode* inode = file.inode();
  if (inode == nullptr || !inode->IsRegular() || !file.writable()) {
    return Errno(EINVAL);
  }
  return NotifyAttrChanged(file.path(), SetAttrRequest::kSize,
                           SetSize(*inode, length));
}

bool ValidTimespecs(const struct timespec times[2]) {
  for (int i = 0; i < 2; ++i) {
    long ns = times[i].tv_nsec;
    if (ns == UTIME_NOW || ns == UTIME_OMIT) continue;
    if (ns < 0 || ns >= 1000000000L) return false;
  }
  return true;
}

absl::Status Utimens(const Credentials& creds, const Path& p,
                     const struct timespec* times) {
  if (times != nullptr && times[0].tv_nsec == UTIME_NOW &&
      times[1].tv_nsec == UTIME_NOW) {
    times = nullptr;
  }
  if (times != nullptr && times[0].tv_nsec == UTIME_OMIT &&
      times[1].tv_nsec == UTIME_OMIT) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(struct stat st, p.inode()->Stat());
  if (p.mount->readonly()) return Errno(EROFS);
  if (times == nullptr) {
    if (!OwnerOrCap(creds, st) &&
        CheckPermission(st, FsIdentity(creds), kMayWrite) != 0) {
      return Errno(EACCES);
    }
  } else if (!OwnerOrCap(creds, st)) {
    return Errno(EPERM);
  }
  struct timespec now = Now();
  SetAttrRequest req;
  for (int i = 0; i < 2; ++i) {
    long ns = times == nullptr ? UTIME_NOW : times[i].tv_nsec;
    if (ns == UTIME_OMIT) continue;
    struct timespec t = ns == UTIME_NOW ? now : times[i];
    if (i == 0) {
      req.mask |= SetAttrRequest::kAtime;
      req.atime = t;
    } else {
      req.mask |= SetAttrRequest::kMtime;
      req.mtime = t;
    }
  }
  return NotifyAttrChanged(p, req.mask, p.inode()->SetAttr(req));
}

}  // namespace sentry::vfs
