// mount(2), umount2(2) and chroot(2) inside the sandbox. mount makes the
// sentry's own file systems (tmpfs, proc, sysfs) and bind mounts of paths the
// sandbox already sees; nothing here reaches the host's mount table.
#include "sentry/syscalls/mount.h"

#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "common/errno_status.h"
#include "common/log.h"
#include "sentry/fs/mount_options.h"
#include "sentry/fs/sysfs.h"
#include "sentry/fs/tmpfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

constexpr int kCapSysChroot = 18;
constexpr int kCapSysAdmin = 21;
// The per-mount flags the VFS keeps.
constexpr int kMountFlags =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME;
constexpr unsigned long kPropagation =
    MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
// Data pages are at most one page, as Linux copies them.
constexpr size_t kMaxMountData = 4096;

std::atomic<ProcfsFactory> procfs_factory{nullptr};

int64_t Err(const absl::Status& s) { return -cv::StatusToErrno(s); }

// Resolves a path argument the way the task would, following the final
// symlink.
int64_t Resolve(Task& t, uint64_t addr, vfs::Path* out) {
  std::string path;
  if (int err = t.CopyInString(addr, vfs::kPathMax, &path); err != 0) {
    return err;
  }
  if (path.empty()) return -ENOENT;
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  vfs::ResolveContext ctx = vfs::MakeResolveContext(t.fs(), &who);
  absl::StatusOr<vfs::Path> p = vfs::ResolvePath(ctx, path, vfs::kFollowFinal);
  if (!p.ok()) return Err(p.status());
  *out = *std::move(p);
  return 0;
}

// An optional string argument (NULL allowed).
int64_t OptionalString(Task& t, uint64_t addr, size_t max, std::string* out) {
  out->clear();
  if (addr == 0) return 0;
  int err = t.CopyInString(addr, max, out);
  // Linux copies data as a page and stops at the page's end, no NUL needed.
  if (err == -ENAMETOOLONG) return 0;
  return err;
}

int64_t Mount(Task& t, const SyscallArgs& a) {
  unsigned long flags = a[3];
  if (!t.creds().HasCap(kCapSysAdmin)) return -EPERM;
  // The magic number old programs put in the high bits.
  if ((flags & 0xffff0000) == 0xc0ed0000) flags &= 0xffff;

  vfs::Path target;
  if (int64_t err = Resolve(t, a[1], &target); err != 0) return err;
  const auto& ns = t.fs().mount_namespace();

  if (flags & MS_REMOUNT) {
    // Only the root of a mount can be remounted.
    if (target.dentry != target.mount->root()) return -EINVAL;
    int keep = target.mount->flags() & ~kMountFlags;
    int new_flags = static_cast<int>(flags) & kMountFlags;
    if (!(flags & MS_BIND)) {
      // A file system remount: the superblock options are the file
      // system's; only read-only-ness is per mount here as well.
      new_flags = (target.mount->flags() & ~MS_RDONLY) | (flags & MS_RDONLY);
      new_flags &= kMountFlags;
    }
    target.mount->set_flags(keep | new_flags);
    return 0;
  }
  if (flags & kPropagation) {
    // Propagation types: the sandbox has one mount namespace and nothing
    // to propagate to, so every type behaves the same.
    if (target.dentry != target.mount->root()) return -EINVAL;
    return 0;
  }
  if (flags & MS_MOVE) {
    cv::LogWarning("mount: MS_MOVE is not supported");
    return -EINVAL;
  }
  if (flags & MS_BIND) {
    vfs::Path source;
    if (int64_t err = Resolve(t, a[0], &source); err != 0) return err;
    // MS_REC: submounts of the source are not copied (see the notes).
    int mflags = source.mount->flags() & kMountFlags;
    return Err(ns->AddMount(target, source.mount->fs(), source.dentry, mflags)
                   .status());
  }

  std::string type, data;
  if (int64_t err = OptionalString(t, a[2], 256, &type); err != 0) return err;
  if (a[2] == 0) return -EINVAL;
  if (int64_t err = OptionalString(t, a[4], kMaxMountData, &data); err != 0) {
    return err;
  }
  if (!target.dentry->IsDir()) return -ENOTDIR;
  const int mflags = static_cast<int>(flags) & kMountFlags;
  if (type == "tmpfs") {
    absl::StatusOr<fs::TmpfsDataOptions> o = fs::ParseTmpfsData(data);
    if (!o.ok()) return -EINVAL;
    fs::TmpfsOptions to;
    to.mode = o->mode;
    to.uid = o->uid;
    to.gid = o->gid;
    to.size_bytes = o->size_bytes;
    fs::TmpfsMount m = fs::NewTmpfs(to);
    return Err(ns->AddMount(target, std::move(m.fs), std::move(m.root), mflags)
                   .status());
  }
  ProcfsFactory new_procfs = procfs_factory.load();
  if (type == "proc" && new_procfs != nullptr) {
    NewFileSystem m = new_procfs(t.kernel());
    return Err(ns->AddMount(target, std::move(m.fs), std::move(m.root), mflags)
                   .status());
  }
  if (type == "sysfs") {
    fs::SysfsMount m = fs::NewSysfs(get_nprocs());
    return Err(ns->AddMount(target, std::move(m.fs), std::move(m.root), mflags)
                   .status());
  }
  // Not a file system this kernel has (Linux: not in /proc/filesystems).
  return -ENODEV;
}

int64_t Umount2(Task& t, const SyscallArgs& a) {
  const int flags = static_cast<int>(a[1]);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) {
    return -EINVAL;
  }
  if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH))) {
    return -EINVAL;
  }
  if (!t.creds().HasCap(kCapSysAdmin)) return -EPERM;
  std::string path;
  if (int err = t.CopyInString(a[0], vfs::kPathMax, &path); err != 0) {
    return err;
  }
  vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
  vfs::ResolveContext ctx = vfs::MakeResolveContext(t.fs(), &who);
  absl::StatusOr<vfs::Path> p = vfs::ResolvePath(
      ctx, path, (flags & UMOUNT_NOFOLLOW) ? 0 : vfs::kFollowFinal);
  if (!p.ok()) return Err(p.status());
  if (p->dentry != p->mount->root()) return -EINVAL;
  // MNT_EXPIRE marks a mount for a later call; nothing here expires.
  if (flags & MNT_EXPIRE) return -EAGAIN;
  // The root of the namespace (or of the caller's chroot) stays.
  if (p->mount->parent() == nullptr) return -EINVAL;
  return Err(
      t.fs().mount_namespace()->RemoveMount(p->mount, flags & MNT_DETACH));
}

int64_t Chroot(Task& t, const SyscallArgs& a) {
  vfs::Path p;
  if (int64_t err = Resolve(t, a[0], &p); err != 0) return err;
  if (!p.dentry->IsDir()) return -ENOTDIR;
  absl::StatusOr<struct stat> st = p.inode()->Stat();
  if (!st.ok()) return Err(st.status());
  if (int err =
          vfs::CheckPermission(*st, vfs::FsIdentity(t.creds()), vfs::kMayExec);
      err != 0) {
    return err;
  }
  if (!t.creds().HasCap(kCapSysChroot)) return -EPERM;
  t.fs().SetRoot(std::move(p));
  return 0;
}

}  // namespace

void SetProcfsFactory(ProcfsFactory factory) { procfs_factory = factory; }

void RegisterMountSyscalls(SyscallTable& table) {
  using A = ArgKind;
  table.Register(SYS_mount, Mount,
                 {A::kPath, A::kPath, A::kPath, A::kHex, A::kHex});
  table.Register(SYS_umount2, Umount2, {A::kPath, A::kHex});
  table.Register(SYS_chroot, Chroot, {A::kPath});
}

}  // namespace sentry
