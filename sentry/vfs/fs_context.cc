#include "sentry/vfs/fs_context.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace sentry::vfs {

FsContext::FsContext(std::shared_ptr<MountNamespace> mntns, Path root, Path cwd,
                     mode_t umask)
    : mntns_(std::move(mntns)),
      root_(std::move(root)),
      cwd_(std::move(cwd)),
      umask_(umask & 0777) {}

std::shared_ptr<FsContext> FsContext::New(
    std::shared_ptr<MountNamespace> mntns) {
  Path root = mntns->root();
  return std::make_shared<FsContext>(std::move(mntns), root, root);
}

Path FsContext::root() const {
  std::lock_guard<std::mutex> lock(mu_);
  return root_;
}

Path FsContext::cwd() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cwd_;
}

void FsContext::SetRoot(Path root) {
  Path old;  // released after the lock
  std::lock_guard<std::mutex> lock(mu_);
  old = std::exchange(root_, std::move(root));
}

void FsContext::SetCwd(Path cwd) {
  Path old;
  std::lock_guard<std::mutex> lock(mu_);
  old = std::exchange(cwd_, std::move(cwd));
}

mode_t FsContext::umask() const {
  std::lock_guard<std::mutex> lock(mu_);
  return umask_;
}

mode_t FsContext::SwapUmask(mode_t mask) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(umask_, mask & 0777);
}

std::shared_ptr<FsContext> FsContext::Fork() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::make_shared<FsContext>(mntns_, root_, cwd_, umask_);
}

std::string FsContext::PathName(const Path& p) const {
  return vfs::PathName(root(), p);
}

std::string PathName(const Path& root, const Path& p) {
  std::vector<std::string> names;
  Path cur = p;
  bool reachable = true;
  while (!(cur == root)) {
    if (cur.dentry == cur.mount->root()) {
      if (cur.mount->parent() == nullptr) {
        reachable = false;  // walked past the top without meeting the root
        break;
      }
      cur = Path{cur.mount->parent(), cur.mount->mountpoint()};
      continue;
    }
    DentryRef parent = cur.dentry->parent();
    if (parent == nullptr) {
      reachable = false;  // a file system root that is not a mount's root
      break;
    }
    names.push_back(cur.dentry->name());
    cur.dentry = std::move(parent);
  }
  std::string out = reachable ? "" : "(unreachable)";
  if (names.empty()) return out + "/";
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    out += "/";
    out += *it;
  }
  return out;
}

}  // namespace sentry::vfs
