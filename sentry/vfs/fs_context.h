// FsContext: a task's file system context (Linux's fs_struct): its root
// (chroot), its working directory and its umask, in one mount namespace.
// Shared by threads and CLONE_FS children; copied by fork.
#ifndef CVISOR_SENTRY_VFS_FS_CONTEXT_H_
#define CVISOR_SENTRY_VFS_FS_CONTEXT_H_

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>

#include "sentry/vfs/mount.h"

namespace sentry::vfs {

class FsContext final {
 public:
  FsContext(std::shared_ptr<MountNamespace> mntns, Path root, Path cwd,
            mode_t umask = 022);
  // Root and cwd at the namespace's root.
  static std::shared_ptr<FsContext> New(std::shared_ptr<MountNamespace> mntns);
  FsContext(const FsContext&) = delete;
  FsContext& operator=(const FsContext&) = delete;

  const std::shared_ptr<MountNamespace>& mount_namespace() const {
    return mntns_;
  }
  Path root() const;
  Path cwd() const;
  void SetRoot(Path root);
  void SetCwd(Path cwd);
  mode_t umask() const;
  // umask(2): sets the mask, returns the old one.
  mode_t SwapUmask(mode_t mask);

  // A copy for fork() without CLONE_FS.
  std::shared_ptr<FsContext> Fork() const;

  // The absolute name of `p` as seen from this context's root (getcwd,
  // /proc/[pid]/cwd): "(unreachable)" is prefixed when `p` is not under the
  // root, as Linux does.
  std::string PathName(const Path& p) const;

 private:
  const std::shared_ptr<MountNamespace> mntns_;
  mutable std::mutex mu_;
  Path root_;     // guarded by mu_
  Path cwd_;      // guarded by mu_
  mode_t umask_;  // guarded by mu_
};

// The name of `p` relative to `root`, built by walking up through parents
// and mount points.
std::string PathName(const Path& root, const Path& p);

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_FS_CONTEXT_H_
