#include "sentry/vfs/mount.h"

#include <cerrno>

#include "common/errno_status.h"

namespace sentry::vfs {

std::shared_ptr<MountNamespace> MountNamespace::New(
    std::shared_ptr<FileSystem> fs, DentryRef root, int flags) {
  std::shared_ptr<MountNamespace> ns(new MountNamespace);
  ns->root_mount_ = std::make_shared<Mount>(
      ns->next_id_++, std::move(fs), std::move(root), flags, nullptr, nullptr);
  return ns;
}

MountNamespace::~MountNamespace() {
  for (auto& [key, mount] : mounts_) mount->mountpoint()->RemoveMount();
}

absl::StatusOr<MountRef> MountNamespace::AddMount(
    const Path& at, std::shared_ptr<FileSystem> fs, DentryRef root, int flags) {
  if (!at.valid()) return cv::ErrnoStatus(EINVAL, "mount: no mount point");
  if (!at.dentry->IsDir() || root == nullptr || !root->IsDir()) {
    return cv::ErrnoStatus(ENOTDIR, "mount: not a directory");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(at.mount.get(), at.dentry.get());
  if (mounts_.count(key) != 0) {
    return cv::ErrnoStatus(EBUSY, "mount: mount point is covered");
  }
  auto mount = std::make_shared<Mount>(
      next_id_++, std::move(fs), std::move(root), flags, at.mount, at.dentry);
  mounts_.emplace(key, mount);
  at.dentry->AddMount();
  return mount;
}

MountRef MountNamespace::MountedAt(const Mount& parent,
                                   const Dentry& dentry) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mounts_.find(std::make_pair(&parent, &dentry));
  return it == mounts_.end() ? nullptr : it->second;
}

Path MountNamespace::CrossMounts(Path p) const {
  while (p.dentry->mount_count() > 0) {
    MountRef m = MountedAt(*p.mount, *p.dentry);
    if (m == nullptr) break;
    p = Path{m, m->root()};
  }
  return p;
}

std::vector<MountRef> MountNamespace::Mounts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MountRef> all{root_mount_};
  for (const auto& [key, mount] : mounts_) all.push_back(mount);
  return all;
}

}  // namespace sentry::vfs
