// gofer::RunGofer: confines the process to the container's root, then serves.
#include "gofer/gofer.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// Leaves the process in a private mount namespace whose root is a recursive
// clone of `root`, with the old root detached. A clone made with open_tree
// (rather than bind-mounting the path onto itself) works for any root,
// including "/" (`runsc do`): a path lookup of "/" never lands on a mount
// stacked over the current root, but the tree's own fd does.
absl::Status Confine(const GoferOptions& options) {
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
  RETURN_IF_ERROR(Confine(options));
  cv::UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return cv::ErrnoStatus(errno, "gofer: open(/)");
  RaiseFdLimit();
  RETURN_IF_ERROR(InstallGoferFilter(sock.get()));
  cv::LogDebug("gofer: serving ", options.root,
               options.readonly ? " (read-only)" : "");
  return Serve(std::move(root), options.readonly, sock.get());
}

}  // namespace gofer
