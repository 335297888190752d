#include "sentry/vfs/inode.h"

#include <cerrno>

#include "common/errno_status.h"

namespace sentry::vfs {

absl::StatusOr<std::shared_ptr<Inode>> Inode::Lookup(const std::string&) {
  return cv::ErrnoStatus(ENOTDIR);
}

absl::StatusOr<LookupPathResult> Inode::LookupPath(
    const std::vector<std::string>& names) {
  LookupPathResult result;
  Inode* dir = this;
  for (const std::string& name : names) {
    if (!dir->IsDir()) {
      result.stop_errno = ENOTDIR;
      break;
    }
    absl::StatusOr<std::shared_ptr<Inode>> child = dir->Lookup(name);
    if (!child.ok()) {
      result.stop_errno = cv::StatusToErrno(child.status());
      break;
    }
    result.inodes.push_back(*std::move(child));
    dir = result.inodes.back().get();
  }
  return result;
}

absl::StatusOr<std::string> Inode::Readlink() {
  return cv::ErrnoStatus(EINVAL);
}

absl::StatusOr<DirBatch> Inode::ReadDir(uint64_t) {
  return cv::ErrnoStatus(ENOTDIR);
}

absl::StatusOr<std::shared_ptr<Inode>> Inode::Create(const std::string&,
                                                     const NewFileSpec&) {
  return cv::ErrnoStatus(EACCES);
}

absl::StatusOr<std::shared_ptr<Inode>> Inode::Tmpfile(const NewFileSpec&) {
  return cv::ErrnoStatus(EOPNOTSUPP, "O_TMPFILE is not supported here");
}

absl::StatusOr<std::shared_ptr<Inode>> Inode::Mkdir(const std::string&,
                                                    const NewFileSpec&) {
  return cv::ErrnoStatus(EPERM);
}

absl::StatusOr<std::shared_ptr<Inode>> Inode::Mknod(const std::string&,
                                                    const NewFileSpec&) {
  return cv::ErrnoStatus(EPERM);
}

absl::StatusOr<std::shared_ptr<Inode>> Inode::Symlink(const std::string&,
                                                      const std::string&,
                                                      const NewFileSpec&) {
  return cv::ErrnoStatus(EPERM);
}

absl::Status Inode::Link(const std::string&, const std::shared_ptr<Inode>&) {
  return cv::ErrnoStatus(EPERM);
}

absl::Status Inode::Unlink(const std::string&) {
  return cv::ErrnoStatus(EPERM);
}

absl::Status Inode::Rmdir(const std::string&) { return cv::ErrnoStatus(EPERM); }

absl::Status Inode::Rename(const std::string&, Inode&, const std::string&,
                           unsigned) {
  return cv::ErrnoStatus(EPERM);
}

absl::Status Inode::SetAttr(const SetAttrRequest&) {
  return cv::ErrnoStatus(EPERM);
}

absl::StatusOr<struct statfs> Inode::StatFs() {
  return cv::ErrnoStatus(ENOSYS);
}

absl::StatusOr<std::string> Inode::GetXattr(const std::string&) {
  return cv::ErrnoStatus(ENOTSUP);
}

absl::Status Inode::SetXattr(const std::string&, const std::string&, int) {
  return cv::ErrnoStatus(ENOTSUP);
}

absl::StatusOr<std::vector<std::string>> Inode::ListXattr() {
  return std::vector<std::string>{};
}

absl::Status Inode::RemoveXattr(const std::string&) {
  return cv::ErrnoStatus(ENOTSUP);
}

}  // namespace sentry::vfs
