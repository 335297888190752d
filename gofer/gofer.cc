// gofer::RunGofer: confines the process to the container's root, then serves.
#include "gofer/gofer.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "gofer/filter.h"
#include "gofer/pseudo_fs.h"

namespace gofer {
namespace {

// Undoes mountinfo's octal escapes (\040 for a space, ...).
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' &&
        s[i + 1] <= '3') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 +
                                      (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Kernel pseudo file systems mounted under the root (the host's /proc and
// /sys when the root is "/", for `runsc do`), as paths relative to the root.
// They must not reach the sandbox: /proc/<pid>/mem of a host process is a
// "regular file" the gofer could open. The sentry mounts its own.
absl::StatusOr<std::vector<std::string>> PseudoMountsUnder(
    const std::string& root) {
  cv::UniqueFd fd(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return cv::ErrnoStatus(errno, "reading mountinfo");
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, n);
  if (n < 0) return cv::ErrnoStatus(errno, "reading mountinfo");

  char* real = realpath(root.c_str(), nullptr);
  if (real == nullptr) return cv::ErrnoStatus(errno, "realpath of the root");
  std::string prefix = real;
  free(real);
  if (prefix.back() != '/') prefix += '/';

  std::vector<std::string> out;
  // (Debian's absl::string_view is not std::string_view.)
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    // id parent major:minor root mount-point options [optional...] - type ...
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || dash + 1 == f.end()) continue;
    absl::string_view type = *(dash + 1);
    if (!IsPseudoFsType(std::string_view(type.data(), type.size()))) continue;
    std::string point = Unescape(std::string_view(f[4].data(), f[4].size()));
    if (point.size() > prefix.size() && point.rfind(prefix, 0) == 0) {
      out.push_back(point.substr(prefix.size()));
    }
  }
  // Parents first: detaching one takes its submounts with it.
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() < b.size();
            });
  return out;
}

// A detached tmpfs, reachable only through its fd, that holds the file
// attach points: a file bind mount is moved onto an empty file in it, so
// that the gofer can reopen it by (directory fd, name) once /proc and every
// host path are gone. Nothing in the container can name this directory.
absl::StatusOr<cv::UniqueFd> NewHoldingDir() {
  cv::UniqueFd ctx(fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!ctx.valid()) return cv::ErrnoStatus(errno, "gofer: fsopen(tmpfs)");
  if (fsconfig(ctx.get(), FSCONFIG_SET_STRING, "mode", "0700", 0) != 0 ||
      fsconfig(ctx.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return cv::ErrnoStatus(errno, "gofer: configuring a tmpfs");
  }
  cv::UniqueFd mnt(
      fsmount(ctx.get(), FSMOUNT_CLOEXEC,
              MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC));
  if (!mnt.valid()) return cv::ErrnoStatus(errno, "gofer: fsmount(tmpfs)");
  return mnt;
}

// Clones each extra mount source (recursively, with the same nodev/nosuid
// and read-only treatment as the root) while host paths still resolve.
// The clones are detached trees held by fds: they outlive pivot_root and
// the detaching of the old root.
absl::StatusOr<std::vector<AttachPoint>> CloneMounts(
    const GoferOptions& options) {
  std::vector<AttachPoint> points;
  cv::UniqueFd holding;
  for (size_t i = 0; i < options.mounts.size(); ++i) {
    const GoferMountSource& m = options.mounts[i];
    cv::UniqueFd tree(
        open_tree(AT_FDCWD, m.path.c_str(),
                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (!tree.valid()) {
      return cv::ErrnoStatus(errno,
                             absl::StrCat("gofer: open_tree(", m.path, ")"));
    }
    struct statfs sfs;
    if (fstatfs(tree.get(), &sfs) != 0 || IsPseudoFsMagic(sfs.f_type)) {
      return cv::ErrnoStatus(EPERM,
                             absl::StrCat("gofer: mount source ", m.path,
                                          " is a kernel pseudo file system"));
    }
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID |
                    (m.readonly ? MOUNT_ATTR_RDONLY : 0);
    attr.propagation = MS_PRIVATE;
    if (mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                      sizeof attr) != 0) {
      return cv::ErrnoStatus(errno,
                             absl::StrCat("gofer: mount_setattr on ", m.path));
    }
    struct stat st;
    if (fstat(tree.get(), &st) != 0) {
      return cv::ErrnoStatus(errno, absl::StrCat("gofer: stat of ", m.path));
    }
    AttachPoint p;
    p.readonly = m.readonly;
    if (S_ISDIR(st.st_mode)) {
      p.fd = std::move(tree);
    } else {
      if (!holding.valid()) {
        ASSIGN_OR_RETURN(holding, NewHoldingDir());
      }
      std::string name = absl::StrCat(i + 1);
      cv::UniqueFd stub(openat(holding.get(), name.c_str(),
                               O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
      if (!stub.valid()) {
        return cv::ErrnoStatus(errno, "gofer: making a file mount point");
      }
      if (move_mount(tree.get(), "", holding.get(), name.c_str(),
                     MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        return cv::ErrnoStatus(errno,
                               absl::StrCat("gofer: move_mount of ", m.path));
      }
      p.fd.reset(fcntl(holding.get(), F_DUPFD_CLOEXEC, 0));
      if (!p.fd.valid()) return cv::ErrnoStatus(errno, "gofer: dup");
      p.name = std::move(name);
    }
    points.push_back(std::move(p));
  }
  return points;
}

// Leaves the process in a private mount namespace whose root is a recursive
// clone of `root`, with the old root detached. A clone made with open_tree
// (rather than bind-mounting the path onto itself) works for any root,
// including "/" (`runsc do`): a path lookup of "/" never lands on a mount
// stacked over the current root, but the tree's own fd does.
absl::Status Confine(const GoferOptions& options,
                     std::vector<AttachPoint>* mounts) {
  // Always a fresh namespace: cheap, and nothing done below can then leak
  // into the namespace of whoever started the gofer.
  if (unshare(CLONE_NEWNS) != 0) {
    return cv::ErrnoStatus(errno, "gofer: unshare(CLONE_NEWNS)");
  }
  // Keep our mount events from propagating to the host (and pivot_root
  // refuses shared mounts).
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return cv::ErrnoStatus(errno, "gofer: making / private");
  }
  // Before the root is moved over its own path: a source below the root
  // then still names the original.
  ASSIGN_OR_RETURN(*mounts, CloneMounts(options));
  cv::UniqueFd tree(
      open_tree(AT_FDCWD, options.root.c_str(),
                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (!tree.valid()) {
    return cv::ErrnoStatus(
        errno, absl::StrCat("gofer: open_tree(", options.root, ")"));
  }
  struct stat st;
  if (fstat(tree.get(), &st) != 0) {
    return cv::ErrnoStatus(errno, "gofer: stat of the root");
  }
  if (!S_ISDIR(st.st_mode)) {
    return cv::ErrnoStatus(
        ENOTDIR, absl::StrCat("gofer: root ", options.root, " is not a dir"));
  }
  // nodev: a device node in the image never opens as the host device.
  // Read-only applies to every mount in the tree, not only the top one.
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID |
                  (options.readonly ? MOUNT_ATTR_RDONLY : 0);
  attr.propagation = MS_PRIVATE;
  if (mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                    sizeof attr) != 0) {
    return cv::ErrnoStatus(errno, "gofer: mount_setattr on the root");
  }
  if (move_mount(tree.get(), "", AT_FDCWD, options.root.c_str(),
                 MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return cv::ErrnoStatus(errno, "gofer: move_mount of the root");
  }
  if (fchdir(tree.get()) != 0) {
    return cv::ErrnoStatus(errno, "gofer: fchdir to the root");
  }
  // Relative paths from the clone's root reach the clone's mounts, never
  // the originals they were copied from (which share their paths when the
  // root is "/").
  absl::StatusOr<std::vector<std::string>> pseudo =
      PseudoMountsUnder(options.root);
  if (!pseudo.ok()) {
    // Walks still refuse to enter them (server.cc); only the second line of
    // defence is lost.
    cv::LogWarning("gofer: cannot list mounts under the root: ",
                   pseudo.status().message());
  } else {
    for (const std::string& rel : *pseudo) {
      if (umount2(rel.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 &&
          errno != EINVAL && errno != ENOENT) {
        return cv::ErrnoStatus(errno, absl::StrCat("gofer: detaching ", rel));
      }
    }
  }
  // pivot_root(".", ".") stacks the old root on top of the new one at ".";
  // detaching "." then drops the old root and everything under it.
  if (syscall(SYS_pivot_root, ".", ".") != 0) {
    return cv::ErrnoStatus(errno, "gofer: pivot_root");
  }
  if (umount2(".", MNT_DETACH) != 0) {
    return cv::ErrnoStatus(errno, "gofer: detaching the old root");
  }
  if (chdir("/") != 0) return cv::ErrnoStatus(errno, "gofer: chdir(/)");
  return absl::OkStatus();
}

// Every fid is an open fd: let the sentry hold as many as the hard limit.
void RaiseFdLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      cv::LogWarning("gofer: raising RLIMIT_NOFILE: ", strerror(errno));
    }
  }
}

}  // namespace

absl::Status RunGofer(const GoferOptions& options, cv::UniqueFd sock) {
  if (options.root.empty()) {
    return cv::ErrnoStatus(EINVAL, "gofer: no root directory given");
  }
  if (!sock.valid()) return cv::ErrnoStatus(EBADF, "gofer: no socket");
  std::vector<AttachPoint> mounts;
  RETURN_IF_ERROR(Confine(options, &mounts));
  std::vector<AttachPoint> points(1);
  points[0].fd.reset(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!points[0].fd.valid()) return cv::ErrnoStatus(errno, "gofer: open(/)");
  points[0].readonly = options.readonly;
  for (AttachPoint& m : mounts) points.push_back(std::move(m));
  RaiseFdLimit();
  RETURN_IF_ERROR(InstallGoferFilter(sock.get()));
  cv::LogDebug("gofer: serving ", options.root,
               options.readonly ? " (read-only)" : "", " and ",
               options.mounts.size(), " extra mount(s)");
  return Serve(std::move(points), sock.get());
}

}  // namespace gofer
