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
  if (root == nullptr) return cv::ErrnoStatus(EINVAL, "mount: no root");
  if (at.dentry->IsDir() != root->IsDir()) {
    return cv::ErrnoStatus(ENOTDIR, "mount: a directory and a non-directory");
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

absl::Status MountNamespace::RemoveMount(const MountRef& m, bool detach) {
  if (m == nullptr || m == root_mount_) {
    return cv::ErrnoStatus(EINVAL, "umount: not a mount point");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(m->parent().get(), m->mountpoint().get());
  auto it = mounts_.find(key);
  if (it == mounts_.end() || it->second != m) {
    return cv::ErrnoStatus(EINVAL, "umount: not mounted");
  }
  // Everything below m, innermost collected last.
  std::vector<MountRef> doomed{m};
  for (size_t i = 0; i < doomed.size(); ++i) {
    for (const auto& [k, child] : mounts_) {
      if (k.first == doomed[i].get()) doomed.push_back(child);
    }
  }
  if (doomed.size() > 1 && !detach) {
    return cv::ErrnoStatus(EBUSY, "umount: other mounts sit on it");
  }
  for (auto d = doomed.rbegin(); d != doomed.rend(); ++d) {
    mounts_.erase(
        std::make_pair((*d)->parent().get(), (*d)->mountpoint().get()));
    (*d)->mountpoint()->RemoveMount();
  }
  return absl::OkStatus();
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
