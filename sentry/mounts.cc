#include "sentry/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/sysinfo.h>

#include <cerrno>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "sentry/fs/devfs.h"
#include "sentry/fs/gofer_fs.h"
#include "sentry/fs/mount_options.h"
#include "sentry/fs/overlay.h"
#include "sentry/fs/sysfs.h"
#include "sentry/fs/tmpfs.h"
#include "sentry/procfs/procfs.h"

namespace sentry {
namespace {

// The sentry's own identity for setting up the tree: root with every
// capability, so that no permission check stands in the way.
Credentials KernelCredentials() {
  Credentials c;
  c.cap_effective = c.cap_permitted = c.cap_bounding = ~0ull;
  return c;
}

bool UnderPath(const std::string& p, const std::string& dir) {
  return p == dir ||
         (p.size() > dir.size() && p.compare(0, dir.size(), dir) == 0 &&
          p[dir.size()] == '/');
}

// Makes `path` exist (as a directory, or as an empty file when `dir` is
// false), creating missing parents, as runc does for mount points missing
// from the image. The root must be writable there (an overlay or a tmpfs);
// otherwise the lookup's ENOENT stands.
absl::StatusOr<vfs::Path> EnsureMountPoint(const vfs::FsContext& fs,
                                           const std::string& path, bool dir) {
  const Credentials creds = KernelCredentials();
  vfs::ResolveContext ctx = vfs::MakeResolveContext(fs, nullptr, fs.root());
  absl::StatusOr<vfs::Path> p = vfs::ResolvePath(ctx, path, vfs::kFollowFinal);
  if (p.ok() || cv::StatusToErrno(p.status()) != ENOENT) return p;
  std::string built;
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (size_t i = 0; i < parts.size(); ++i) {
    built += "/" + parts[i];
    const bool last = i + 1 == parts.size();
    absl::Status s;
    if (last && !dir) {
      s = vfs::MknodAt(fs, creds, fs.root(), built, S_IFREG | 0644, 0);
    } else {
      s = vfs::MkdirAt(fs, creds, fs.root(), built, 0755);
    }
    if (!s.ok() && cv::StatusToErrno(s) != EEXIST) {
      return cv::ErrnoStatus(
          cv::StatusToErrno(s),
          absl::StrCat("creating mount point ", built, ": ", s.message()));
    }
  }
  return vfs::ResolvePath(ctx, path, vfs::kFollowFinal);
}

absl::Status Attach(const vfs::FsContext& fs, const std::string& dest,
                    std::shared_ptr<vfs::FileSystem> fsys, vfs::DentryRef root,
                    int flags) {
  ASSIGN_OR_RETURN(vfs::Path at, EnsureMountPoint(fs, dest, root->IsDir()));
  return fs.mount_namespace()
      ->AddMount(at, std::move(fsys), std::move(root), flags)
      .status();
}

// A default mount the container can do without: a failure is logged.
void AttachOrWarn(const vfs::FsContext& fs, const std::string& dest,
                  std::shared_ptr<vfs::FileSystem> fsys, vfs::DentryRef root,
                  int flags) {
  absl::Status s = Attach(fs, dest, std::move(fsys), std::move(root), flags);
  if (!s.ok()) {
    cv::LogWarning("the container gets no ", dest, ": ", s.message());
  }
}

absl::StatusOr<std::shared_ptr<vfs::FsContext>> MountRoot(
    const BootConfig& config, const std::shared_ptr<gofer::Client>& client) {
  if (!config.overlay) return fs::MountGoferRoot(client, config.root_readonly);
  ASSIGN_OR_RETURN(fs::GoferMount lower, fs::NewGoferFileSystem(client, 0));
  ASSIGN_OR_RETURN(fs::OverlayMount ov, fs::NewOverlay(lower.root->inode()));
  // Writable while the tree is built (mount points missing from the image
  // are made in the upper layer, as runc makes them before its read-only
  // remount); BuildFileSystemTree applies root_readonly at the end.
  auto ns = vfs::MountNamespace::New(std::move(ov.fs), std::move(ov.root), 0);
  return vfs::FsContext::New(std::move(ns));
}

absl::Status MountOne(const vfs::FsContext& fs, const MountConfig& m,
                      const std::shared_ptr<gofer::Client>& client,
                      Kernel& kernel) {
  fs::ParsedMountOptions opts = fs::ParseMountOptions(m.options);
  if (m.type == "bind") {
    ASSIGN_OR_RETURN(fs::GoferMount g,
                     fs::NewGoferFileSystem(client, m.gofer_mount));
    return Attach(fs, m.destination, std::move(g.fs), std::move(g.root),
                  opts.flags);
  }
  if (m.type == "proc") {
    procfs::ProcfsMount p = procfs::NewProcfs(kernel);
    return Attach(fs, m.destination, std::move(p.fs), std::move(p.root),
                  opts.flags | procfs::kProcfsMountFlags);
  }
  if (m.type == "sysfs" || m.type == "cgroup") {
    // cgroup: Docker puts one on /sys/fs/cgroup, already a directory of the
    // sysfs; the sandbox has no cgroup file system to show there.
    if (m.type == "cgroup") {
      cv::LogInfo("mount cgroup at ", m.destination,
                  ": no cgroup file system in the sandbox; left empty");
      return absl::OkStatus();
    }
    fs::SysfsMount s = fs::NewSysfs(get_nprocs());
    return Attach(fs, m.destination, std::move(s.fs), std::move(s.root),
                  opts.flags | fs::kSysfsMountFlags);
  }
  if (m.type == "tmpfs") {
    if (m.destination == "/dev") {
      // Runtimes fill a tmpfs /dev with device nodes; the sandbox's devfs
      // is that, with the devices served by the sentry.
      fs::DevfsMount d = fs::NewDevfs();
      return Attach(fs, m.destination, std::move(d.fs), std::move(d.root),
                    opts.flags);
    }
    ASSIGN_OR_RETURN(fs::TmpfsDataOptions t, fs::ParseTmpfsData(opts.data));
    fs::TmpfsOptions to;
    to.mode = t.mode;
    to.uid = t.uid;
    to.gid = t.gid;
    to.size_bytes = t.size_bytes;
    fs::TmpfsMount tm = fs::NewTmpfs(to);
    return Attach(fs, m.destination, std::move(tm.fs), std::move(tm.root),
                  opts.flags);
  }
  // devpts and mqueue: not served yet; the mount point stays as it is
  // (devfs has an empty pts directory).
  cv::LogInfo("mount ", m.type, " at ", m.destination,
              ": not supported in the sandbox yet; skipped");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<vfs::FsContext>> BuildFileSystemTree(
    const BootConfig& config, const std::shared_ptr<gofer::Client>& client,
    Kernel& kernel) {
  ASSIGN_OR_RETURN(std::shared_ptr<vfs::FsContext> fs,
                   MountRoot(config, client));
  std::set<std::string> spec_dests;
  for (const MountConfig& m : config.mounts) spec_dests.insert(m.destination);
  auto covered = [&](const std::string& d) { return spec_dests.count(d) > 0; };

  // What every container gets unless the spec mounts something there.
  if (!covered("/dev")) {
    fs::DevfsMount d = fs::NewDevfs();
    AttachOrWarn(*fs, "/dev", std::move(d.fs), std::move(d.root),
                 fs::kDevfsMountFlags);
  }
  if (!covered("/proc")) {
    procfs::ProcfsMount p = procfs::NewProcfs(kernel);
    AttachOrWarn(*fs, "/proc", std::move(p.fs), std::move(p.root),
                 procfs::kProcfsMountFlags);
  }
  if (!covered("/sys")) {
    fs::SysfsMount s = fs::NewSysfs(get_nprocs());
    AttachOrWarn(*fs, "/sys", std::move(s.fs), std::move(s.root),
                 fs::kSysfsMountFlags);
  }
  // In-memory /tmp, as gVisor gives containers. It would hide the working
  // directory or the program itself when they live there (`runsc do` in a
  // build tree under /tmp): then the root's /tmp stays visible instead.
  if (!covered("/tmp")) {
    if (UnderPath(config.cwd, "/tmp") || UnderPath(config.argv[0], "/tmp")) {
      cv::LogInfo(
          "keeping the root's /tmp: the program or its working "
          "directory is there");
    } else {
      fs::TmpfsMount t = fs::NewTmpfs({});
      AttachOrWarn(*fs, "/tmp", std::move(t.fs), std::move(t.root), 0);
    }
  }

  // The spec's mounts, in order: a later one may sit inside an earlier one.
  // /dev/shm comes after them when the spec mounted /dev itself.
  bool shm_done = covered("/dev/shm");
  auto mount_shm = [&] {
    fs::TmpfsMount t = fs::NewTmpfs({});
    AttachOrWarn(*fs, "/dev/shm", std::move(t.fs), std::move(t.root),
                 MS_NOSUID | MS_NODEV | MS_NOEXEC);
    shm_done = true;
  };
  if (!covered("/dev")) mount_shm();
  for (const MountConfig& m : config.mounts) {
    if (absl::Status s = MountOne(*fs, m, client, kernel); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("mounting ", m.type, " at ", m.destination,
                                 ": ", s.message()));
    }
    if (m.destination == "/dev" && !shm_done) mount_shm();
  }
  if (config.overlay && config.root_readonly) {
    const vfs::MountRef& root = fs->root().mount;
    root->set_flags(root->flags() | MS_RDONLY);
  }
  return fs;
}

}  // namespace sentry
