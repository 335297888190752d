// Extended attributes: getxattr/setxattr/listxattr/removexattr and their l*
// (no final symlink follow) and f* (by fd) forms. The VFS side here checks
// the name, the namespace rules and permissions as Linux's fs/xattr.c; the
// file system keeps the attributes (Inode::GetXattr & co).
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/errno_status.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

using A = ArgKind;

constexpr size_t kXattrNameMax = 255;    // XATTR_NAME_MAX
constexpr size_t kXattrSizeMax = 65536;  // XATTR_SIZE_MAX
constexpr size_t kXattrListMax = 65536;  // XATTR_LIST_MAX

int64_t Err(const absl::Status& s) { return -cv::StatusToErrno(s); }

bool HasPrefix(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// The file an xattr call names: its inode (null for anonymous files, which
// keep no attributes) and its attributes.
struct XattrTarget {
  vfs::Path path;
  vfs::FileRef file;
  struct stat st {};
  vfs::Inode* inode() const {
    return path.valid() ? path.inode().get() : nullptr;
  }
};

int64_t FindTarget(Task& t, uint64_t arg0, bool by_fd, bool follow,
                   XattrTarget* out) {
  if (by_fd) {
    vfs::FileRef f = t.fd_table().Get(static_cast<int>(arg0));
    if (f == nullptr || f->is_path()) return -EBADF;
    out->path = f->path();
    out->file = f;
    absl::StatusOr<struct stat> st = f->Stat();
    if (!st.ok()) return Err(st.status());
    out->st = *st;
    return 0;
  }
  std::string path;
  if (int err = t.CopyInString(arg0, vfs::kPathMax, &path); err != 0) {
    return err;
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  vfs::ResolveContext ctx = vfs::MakeResolveContext(t.fs(), &who);
  absl::StatusOr<vfs::Path> p =
      vfs::ResolvePath(ctx, path, follow ? vfs::kFollowFinal : 0);
  if (!p.ok()) return Err(p.status());
  out->path = *std::move(p);
  absl::StatusOr<struct stat> st = out->path.inode()->Stat();
  if (!st.ok()) return Err(st.status());
  out->st = *st;
  return 0;
}

// An attribute name: ERANGE when empty or over XATTR_NAME_MAX.
int64_t CopyInName(Task& t, uint64_t addr, std::string* name) {
  int err = t.CopyInString(addr, kXattrNameMax + 1, name);
  if (err == -ENAMETOOLONG || (err == 0 && name->empty())) return -ERANGE;
  return err;
}

// Linux's xattr_permission: the namespace rules, then the file's mode.
int64_t XattrPermission(Task& t, const XattrTarget& target,
                        const std::string& name, bool write) {
  if (HasPrefix(name, "security.") || HasPrefix(name, "system.")) {
    return 0;  // the file system decides
  }
  if (HasPrefix(name, "trusted.")) {
    if (!t.creds().HasCap(CAP_SYS_ADMIN)) return write ? -EPERM : -ENODATA;
    return 0;
  }
  if (HasPrefix(name, "user.")) {
    // User attributes are for the user's data: only files and directories,
    // and not other users' entries in a sticky directory.
    mode_t type = target.st.st_mode & S_IFMT;
    if (type != S_IFREG && type != S_IFDIR) return write ? -EPERM : -ENODATA;
    if (type == S_IFDIR && (target.st.st_mode & S_ISVTX) && write &&
        target.st.st_uid != t.creds().fsuid && !t.creds().HasCap(CAP_FOWNER)) {
      return -EPERM;
    }
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  return vfs::CheckPermission(target.st, who,
                              write ? vfs::kMayWrite : vfs::kMayRead);
}

bool KnownNamespace(const std::string& name) {
  return HasPrefix(name, "user.") || HasPrefix(name, "trusted.") ||
         HasPrefix(name, "security.") || HasPrefix(name, "system.");
}

int64_t ReadOnly(const XattrTarget& target) {
  if (target.path.valid() && target.path.mount->readonly()) return -EROFS;
  return 0;
}

int64_t DoGet(Task& t, const SyscallArgs& a, bool by_fd, bool follow) {
  std::string name;
  if (int64_t err = CopyInName(t, a[1], &name); err != 0) return err;
  XattrTarget target;
  if (int64_t err = FindTarget(t, a[0], by_fd, follow, &target); err != 0) {
    return err;
  }
  if (int64_t err = XattrPermission(t, target, name, false); err != 0) {
    return err;
  }
  if (!KnownNamespace(name) || target.inode() == nullptr) return -EOPNOTSUPP;
  absl::StatusOr<std::string> value = target.inode()->GetXattr(name);
  if (!value.ok()) return Err(value.status());
  size_t size = std::min<uint64_t>(a[3], kXattrSizeMax);
  if (a[3] == 0) {
    if (value->size() > kXattrSizeMax) return -E2BIG;
    return static_cast<int64_t>(value->size());
  }
  if (value->size() > size) return -ERANGE;
  if (int err = t.CopyOut(a[2], value->data(), value->size()); err != 0) {
    return err;
  }
  return static_cast<int64_t>(value->size());
}

int64_t DoSet(Task& t, const SyscallArgs& a, bool by_fd, bool follow) {
  int flags = static_cast<int>(a[4]);
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
  std::string name;
  if (int64_t err = CopyInName(t, a[1], &name); err != 0) return err;
  uint64_t size = a[3];
  if (size > kXattrSizeMax) return -E2BIG;
  std::string value(size, '\0');
  if (size > 0) {
    if (int err = t.CopyIn(a[2], value.data(), size); err != 0) return err;
  }
  XattrTarget target;
  if (int64_t err = FindTarget(t, a[0], by_fd, follow, &target); err != 0) {
    return err;
  }
  if (int64_t err = ReadOnly(target); err != 0) return err;
  if (int64_t err = XattrPermission(t, target, name, true); err != 0) {
    return err;
  }
  if (!KnownNamespace(name) || target.inode() == nullptr) return -EOPNOTSUPP;
  return Err(target.inode()->SetXattr(name, value, flags));
}

int64_t DoRemove(Task& t, const SyscallArgs& a, bool by_fd, bool follow) {
  std::string name;
  if (int64_t err = CopyInName(t, a[1], &name); err != 0) return err;
  XattrTarget target;
  if (int64_t err = FindTarget(t, a[0], by_fd, follow, &target); err != 0) {
    return err;
  }
  if (int64_t err = ReadOnly(target); err != 0) return err;
  if (int64_t err = XattrPermission(t, target, name, true); err != 0) {
    return err;
  }
  if (!KnownNamespace(name) || target.inode() == nullptr) return -EOPNOTSUPP;
  return Err(target.inode()->RemoveXattr(name));
}

int64_t DoList(Task& t, const SyscallArgs& a, bool by_fd, bool follow) {
  XattrTarget target;
  if (int64_t err = FindTarget(t, a[0], by_fd, follow, &target); err != 0) {
    return err;
  }
  std::string list;
  if (target.inode() != nullptr) {
    absl::StatusOr<std::vector<std::string>> names =
        target.inode()->ListXattr();
    if (!names.ok()) return Err(names.status());
    // trusted.* names are only shown to CAP_SYS_ADMIN, as Linux.
    bool admin = t.creds().HasCap(CAP_SYS_ADMIN);
    for (const std::string& n : *names) {
      if (!admin && HasPrefix(n, "trusted.")) continue;
      list += n;
      list.push_back('\0');
    }
  }
  uint64_t size = std::min<uint64_t>(a[2], kXattrListMax);
  if (a[2] == 0) {
    if (list.size() > kXattrListMax) return -E2BIG;
    return static_cast<int64_t>(list.size());
  }
  if (list.size() > size) return -ERANGE;
  if (int err = t.CopyOut(a[1], list.data(), list.size()); err != 0) {
    return err;
  }
  return static_cast<int64_t>(list.size());
}

int64_t GetXattr(Task& t, const SyscallArgs& a) {
  return DoGet(t, a, false, true);
}
int64_t LGetXattr(Task& t, const SyscallArgs& a) {
  return DoGet(t, a, false, false);
}
int64_t FGetXattr(Task& t, const SyscallArgs& a) {
  return DoGet(t, a, true, true);
}
int64_t SetXattr(Task& t, const SyscallArgs& a) {
  return DoSet(t, a, false, true);
}
int64_t LSetXattr(Task& t, const SyscallArgs& a) {
  return DoSet(t, a, false, false);
}
int64_t FSetXattr(Task& t, const SyscallArgs& a) {
  return DoSet(t, a, true, true);
}
int64_t ListXattr(Task& t, const SyscallArgs& a) {
  return DoList(t, a, false, true);
}
int64_t LListXattr(Task& t, const SyscallArgs& a) {
  return DoList(t, a, false, false);
}
int64_t FListXattr(Task& t, const SyscallArgs& a) {
  return DoList(t, a, true, true);
}
int64_t RemoveXattr(Task& t, const SyscallArgs& a) {
  return DoRemove(t, a, false, true);
}
int64_t LRemoveXattr(Task& t, const SyscallArgs& a) {
  return DoRemove(t, a, false, false);
}
int64_t FRemoveXattr(Task& t, const SyscallArgs& a) {
  return DoRemove(t, a, true, true);
}

}  // namespace

void RegisterXattrSyscalls(SyscallTable& table) {
  table.Register(SYS_getxattr, GetXattr,
                 {A::kPath, A::kPath, A::kHex, A::kInt});
  table.Register(SYS_lgetxattr, LGetXattr,
                 {A::kPath, A::kPath, A::kHex, A::kInt});
  table.Register(SYS_fgetxattr, FGetXattr,
                 {A::kFd, A::kPath, A::kHex, A::kInt});
  table.Register(SYS_setxattr, SetXattr,
                 {A::kPath, A::kPath, A::kHex, A::kInt, A::kHex});
  table.Register(SYS_lsetxattr, LSetXattr,
                 {A::kPath, A::kPath, A::kHex, A::kInt, A::kHex});
  table.Register(SYS_fsetxattr, FSetXattr,
                 {A::kFd, A::kPath, A::kHex, A::kInt, A::kHex});
  table.Register(SYS_listxattr, ListXattr, {A::kPath, A::kHex, A::kInt});
  table.Register(SYS_llistxattr, LListXattr, {A::kPath, A::kHex, A::kInt});
  table.Register(SYS_flistxattr, FListXattr, {A::kFd, A::kHex, A::kInt});
  table.Register(SYS_removexattr, RemoveXattr, {A::kPath, A::kPath});
  table.Register(SYS_lremovexattr, LRemoveXattr, {A::kPath, A::kPath});
  table.Register(SYS_fremovexattr, FRemoveXattr, {A::kFd, A::kPath});
}

}  // namespace sentry
