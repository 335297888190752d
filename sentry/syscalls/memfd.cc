// memfd_create: an anonymous regular file backed by a host memfd the sentry
// owns. Data moves with host preads/pwrites; mmap maps the memfd itself in
// the stub (host_fd()), so MAP_SHARED mappings share with read/write; seals
// are the host memfd's own (fcntl F_ADD_SEALS/F_GET_SEALS go to host_fd()),
// so F_SEAL_WRITE sees the stub's writable mappings as Linux would.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <string>

#include "common/errno_status.h"
#include "common/unique_fd.h"
#include "sentry/fs/host_io.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/dentry.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

using A = ArgKind;

// Linux's MFD_NAME_MAX_LEN: NAME_MAX less the "memfd:" prefix.
constexpr size_t kMemfdNameMax = 249;
constexpr unsigned kMfdCloexec = 0x1;
constexpr unsigned kMfdAllowSealing = 0x2;
constexpr unsigned kMfdHugetlb = 0x4;
constexpr unsigned kMfdNoexecSeal = 0x8;
constexpr unsigned kMfdExec = 0x10;
constexpr unsigned kMfdHugeMask = 0x3fU << 26;  // MFD_HUGE_* size bits

absl::Status Errno(int e) { return cv::ErrnoStatus(e); }

// The inode: the memfd, with the owner the creating task had (the host
// memfd belongs to the sentry).
class MemfdInode final : public vfs::Inode {
 public:
  MemfdInode(cv::UniqueFd fd, uid_t uid, gid_t gid)
      : vfs::Inode(S_IFREG), fd_(std::move(fd)), uid_(uid), gid_(gid) {}

  int fd() const { return fd_.get(); }

  absl::StatusOr<struct stat> Stat() override {
    struct stat st;
    if (fstat(fd_.get(), &st) != 0) return Errno(errno);
    std::lock_guard<std::mutex> lock(mu_);
    st.st_uid = uid_;
    st.st_gid = gid_;
    return st;
  }

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path&, int) override {
    // Never reached by a walk: a memfd has no name in any directory.
    return Errno(ENXIO);
  }

  absl::Status SetAttr(const vfs::SetAttrRequest& req) override {
    using R = vfs::SetAttrRequest;
    // The host enforces F_SEAL_GROW/F_SEAL_SHRINK (EPERM).
    if ((req.mask & R::kSize) &&
        ftruncate(fd_.get(), static_cast<off_t>(req.size)) != 0) {
      return Errno(errno);
    }
    if ((req.mask & R::kMode) && fchmod(fd_.get(), req.mode & 07777) != 0) {
      return Errno(errno);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (req.mask & R::kUid) uid_ = req.uid;
    if (req.mask & R::kGid) gid_ = req.gid;
    return absl::OkStatus();
  }

 private:
  const cv::UniqueFd fd_;
  std::mutex mu_;
  uid_t uid_;  // guarded by mu_
  gid_t gid_;
};

// The description: always O_RDWR, as memfd_create opens it. Its path has
// the inode but no mount (so ftruncate and fchmod reach the inode, and
// /proc/[pid]/fd names it by the host memfd: "/memfd:NAME (deleted)").
class MemfdFile final : public vfs::FileDescription {
 public:
  MemfdFile(vfs::DentryRef dentry, std::shared_ptr<MemfdInode> inode)
      : FileDescription(vfs::Path{nullptr, std::move(dentry)},
                        O_RDWR | vfs::kOLargefile),
        inode_(std::move(inode)) {}

  int host_fd() const override { return inode_->fd(); }

  int64_t Read(vfs::IoSequence& dst) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n = fs::HostRead(inode_->fd(), dst, offset_, /*single=*/false);
    if (n > 0) offset_ += n;
    return n;
  }
  int64_t PRead(vfs::IoSequence& dst, int64_t offset) override {
    return fs::HostRead(inode_->fd(), dst, offset, /*single=*/false);
  }
  int64_t Write(vfs::IoSequence& src) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    if (flags() & O_APPEND) offset_ = End();
    // The host refuses writes under F_SEAL_WRITE / past F_SEAL_GROW (EPERM).
    int64_t n = fs::HostWrite(inode_->fd(), src, offset_);
    if (n > 0) offset_ += n;
    return n;
  }
  int64_t PWrite(vfs::IoSequence& src, int64_t offset) override {
    if (flags() & O_APPEND) offset = End();
    return fs::HostWrite(inode_->fd(), src, offset);
  }
  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t target = fs::HostSeekTarget(inode_->fd(), offset_, offset, whence);
    if (target >= 0) offset_ = target;
    return target;
  }
  absl::StatusOr<struct stat> Stat() override { return inode_->Stat(); }

 private:
  int64_t End() const {
    struct stat st;
    return fstat(inode_->fd(), &st) == 0 ? st.st_size : 0;
  }

  const std::shared_ptr<MemfdInode> inode_;
};

int64_t MemfdCreate(Task& t, const SyscallArgs& a) {
  const unsigned flags = static_cast<unsigned>(a[1]);
  const unsigned known =
      kMfdCloexec | kMfdAllowSealing | kMfdHugetlb | kMfdNoexecSeal | kMfdExec;
  // Huge page size bits only come with MFD_HUGETLB.
  if (flags & ~(known | kMfdHugeMask)) return -EINVAL;
  if ((flags & kMfdHugeMask) && !(flags & kMfdHugetlb)) return -EINVAL;
  if ((flags & kMfdNoexecSeal) && (flags & kMfdExec)) return -EINVAL;
  std::string name;
  if (int err = t.CopyInString(a[0], kMemfdNameMax + 1, &name); err != 0) {
    // A name with no NUL within the limit is too long: EINVAL, as Linux.
    return err == -ENAMETOOLONG ? -EINVAL : err;
  }
  if (name.size() > kMemfdNameMax) return -EINVAL;
  // The host applies its own rules (vm.memfd_noexec, hugetlb support) and
  // keeps the seals; its fd stays close-on-exec in the sentry.
  const unsigned host_flags = (flags & ~kMfdCloexec) | MFD_CLOEXEC;
  int fd =
      static_cast<int>(syscall(SYS_memfd_create, name.c_str(), host_flags));
  if (fd < 0) return -errno;
  auto inode = std::make_shared<MemfdInode>(cv::UniqueFd(fd), t.creds().fsuid,
                                            t.creds().fsgid);
  vfs::DentryRef dentry = vfs::Dentry::NewRoot(inode);
  auto file = std::make_shared<MemfdFile>(std::move(dentry), inode);
  uint64_t limit;
  {
    std::lock_guard<std::mutex> lock(t.thread_group().mu);
    limit = t.thread_group().rlimits[RLIMIT_NOFILE].rlim_cur;
  }
  return t.fd_table().Install(std::move(file), flags & kMfdCloexec, limit);
}

}  // namespace

void RegisterMemfdSyscalls(SyscallTable& table) {
  table.Register(SYS_memfd_create, MemfdCreate, {A::kPath, A::kHex});
}

}  // namespace sentry
