#include "sentry/fs/gofer_fs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/errno_status.h"
#include "common/status_macros.h"
#include "sentry/fs/host_io.h"

namespace sentry::fs {
namespace {

// open(2) flags the gofer's Open takes (proto/gofer.proto OpenRequest).
constexpr int kGoferOpenFlags = O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK |
                                O_DSYNC | O_SYNC | O_DIRECT | O_NOATIME;
// Status flags mirrored on the donated host fd, which is private to the
// description.
constexpr int kHostStatusFlags = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

// The connection, shared by every inode. Fids of released inodes are
// returned to the gofer in batches, so dropping a dentry from the cache
// does not cost a round trip each time.
class GoferConnection {
 public:
  static constexpr size_t kCloseBatch = 64;

  explicit GoferConnection(std::shared_ptr<gofer::Client> client)
      : client(std::move(client)) {}
  ~GoferConnection() {
    if (!pending_.empty()) client->Close(pending_);
  }

  void Release(uint64_t fid) {
    std::vector<uint64_t> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(fid);
      if (pending_.size() < kCloseBatch) return;
      batch.swap(pending_);
    }
    client->Close(batch);
  }

  const std::shared_ptr<gofer::Client> client;

 private:
  std::mutex mu_;
  std::vector<uint64_t> pending_;  // guarded by mu_
};

class GoferFileSystem final : public vfs::FileSystem {
 public:
  explicit GoferFileSystem(std::shared_ptr<GoferConnection> conn)
      : conn_(std::move(conn)) {}
  std::string_view type() const override { return "gofer"; }

 private:
  std::shared_ptr<GoferConnection> conn_;
};

class GoferInode final : public vfs::Inode {
 public:
  GoferInode(std::shared_ptr<GoferConnection> conn,
             const gofer::InodeInfo& info)
      : Inode(info.stat.st_mode),
        conn_(std::move(conn)),
        fid_(info.fid),
        stat_(info.stat) {}
  ~GoferInode() override { conn_->Release(fid_); }

  absl::StatusOr<struct stat> Stat() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stat_valid_) return stat_;
    }
    ASSIGN_OR_RETURN(struct stat st, conn_->client->Stat(fid_));
    SetStat(st);
    return st;
  }

  void SetStat(const struct stat& st) {
    std::lock_guard<std::mutex> lock(mu_);
    stat_ = st;
    stat_valid_ = true;
  }
  // The size and times changed under a write through a donated fd.
  void InvalidateStat() {
    std::lock_guard<std::mutex> lock(mu_);
    stat_valid_ = false;
  }

  absl::StatusOr<vfs::InodeRef> Lookup(const std::string& name) override {
    ASSIGN_OR_RETURN(gofer::WalkResult r, conn_->client->Walk(fid_, {name}));
    if (r.inodes.empty()) {
      return cv::ErrnoStatus(r.stop_errno != 0 ? r.stop_errno : EIO,
                             "gofer walk");
    }
    // More than asked for would be a gofer bug; release the extras.
    for (size_t i = 1; i < r.inodes.size(); ++i) {
      conn_->Release(r.inodes[i].fid);
    }
    return vfs::InodeRef(std::make_shared<GoferInode>(conn_, r.inodes[0]));
  }

  absl::StatusOr<vfs::LookupPathResult> LookupPath(
      const std::vector<std::string>& names) override {
    ASSIGN_OR_RETURN(gofer::WalkResult r, conn_->client->Walk(fid_, names));
    vfs::LookupPathResult out;
    out.stop_errno = r.stop_errno;
    for (const gofer::InodeInfo& info : r.inodes) {
      if (out.inodes.size() == names.size()) {
        conn_->Release(info.fid);
        continue;
      }
      out.inodes.push_back(std::make_shared<GoferInode>(conn_, info));
    }
    return out;
  }

  absl::StatusOr<std::string> Readlink() override {
    if (!IsSymlink()) return cv::ErrnoStatus(EINVAL);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (target_) return *target_;
    }
    // A symlink's target never changes: one round trip per inode.
    ASSIGN_OR_RETURN(std::string target, conn_->client->Readlink(fid_));
    std::lock_guard<std::mutex> lock(mu_);
    target_ = target;
    return target;
  }

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override;

  // Creating files through the gofer is not implemented yet: say so rather
  // than answer EACCES (Inode's default, Linux's for a file system that
  // cannot create at all). The other mutations answer EPERM until then.
  absl::StatusOr<vfs::InodeRef> Create(const std::string&,
                                       const vfs::NewFileSpec&) override {
    return cv::ErrnoStatus(EOPNOTSUPP,
                           "file creation through the gofer is not "
                           "implemented yet");
  }

  absl::StatusOr<vfs::DirBatch> ReadDir(uint64_t offset) override {
    if (!IsDir()) return cv::ErrnoStatus(ENOTDIR);
    ASSIGN_OR_RETURN(gofer::ReadDirResult r,
                     conn_->client->ReadDir(fid_, offset, 0));
    vfs::DirBatch b;
    b.eof = r.eof;
    b.entries.reserve(r.entries.size());
    for (gofer::DirEntry& e : r.entries) {
      b.entries.push_back(
          vfs::DirEntry{std::move(e.name), e.ino, e.type, e.next_offset});
    }
    return b;
  }

 private:
  const std::shared_ptr<GoferConnection> conn_;
  const uint64_t fid_;
  std::mutex mu_;
  struct stat stat_;                   // guarded by mu_
  bool stat_valid_ = true;             // guarded by mu_
  std::optional<std::string> target_;  // guarded by mu_
};

// A regular file opened through the gofer: data moves through the donated
// host fd with pread/pwrite at the description's own offset.
class GoferFile final : public vfs::FileDescription {
 public:
  GoferFile(const vfs::Path& path, int flags, cv::UniqueFd fd,
            std::shared_ptr<GoferInode> inode)
      : FileDescription(path, flags),
        fd_(std::move(fd)),
        inode_(std::move(inode)) {}

  int host_fd() const override { return fd_.get(); }

  int64_t Read(vfs::IoSequence& dst) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n = HostRead(fd_.get(), dst, offset_, /*single=*/false);
    if (n > 0) offset_ += n;
    return n;
  }

  int64_t PRead(vfs::IoSequence& dst, int64_t offset) override {
    return HostRead(fd_.get(), dst, offset, /*single=*/false);
  }

  int64_t Write(vfs::IoSequence& src) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n;
    if (flags() & O_APPEND) {
      // The host fd has O_APPEND too: the host picks the end atomically,
      // and the offset follows it, as Linux leaves f_pos at the new end.
      n = HostWrite(fd_.get(), src, -1);
      off_t end = lseek(fd_.get(), 0, SEEK_CUR);
      if (end >= 0) offset_ = end;
    } else {
      n = HostWrite(fd_.get(), src, offset_);
      if (n > 0) offset_ += n;
    }
    inode_->InvalidateStat();
    return n;
  }

  int64_t PWrite(vfs::IoSequence& src, int64_t offset) override {
    // With O_APPEND the host appends whatever the offset, as Linux does.
    int64_t n = HostWrite(fd_.get(), src, offset);
    inode_->InvalidateStat();
    return n;
  }

  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t target;
    switch (whence) {
      case SEEK_SET:
        target = offset;
        break;
      case SEEK_CUR:
        if (__builtin_add_overflow(offset_, offset, &target)) return -EINVAL;
        break;
      case SEEK_END: {
        struct stat st;
        if (fstat(fd_.get(), &st) != 0) return -errno;
        if (__builtin_add_overflow(static_cast<int64_t>(st.st_size), offset,
                                   &target)) {
          return -EINVAL;
        }
        break;
      }
      case SEEK_DATA:
      case SEEK_HOLE: {
        // Only the host knows the holes; its own offset is not used.
        off_t r = lseek(fd_.get(), offset, whence);
        if (r < 0) return -errno;
        target = r;
        break;
      }
      default:
        return -EINVAL;
    }
    if (target < 0) return -EINVAL;
    offset_ = target;
    return target;
  }

  absl::StatusOr<struct stat> Stat() override {
    struct stat st;
    if (fstat(fd_.get(), &st) != 0) return cv::ErrnoStatus(errno, "fstat");
    inode_->SetStat(st);
    return st;
  }

 protected:
  int OnSetFlags(int old_flags, int new_flags) override {
    if (((old_flags ^ new_flags) & kHostStatusFlags) == 0) return 0;
    int host = fcntl(fd_.get(), F_GETFL);
    if (host < 0) return -errno;
    host = (host & ~kHostStatusFlags) | (new_flags & kHostStatusFlags);
    return fcntl(fd_.get(), F_SETFL, host) != 0 ? -errno : 0;
  }

 private:
  const cv::UniqueFd fd_;
  const std::shared_ptr<GoferInode> inode_;
};

absl::StatusOr<vfs::FileRef> GoferInode::Open(const vfs::Path& path,
                                              int flags) {
  if (IsDir()) return vfs::NewDirectoryFile(path, flags);
  // Anything but a regular file (a FIFO, socket or device in the image) is
  // refused by the gofer with the errno a nodev mount would give.
  ASSIGN_OR_RETURN(cv::UniqueFd fd,
                   conn_->client->Open(fid_, flags & kGoferOpenFlags));
  if (flags & O_TRUNC) InvalidateStat();
  auto self = std::static_pointer_cast<GoferInode>(path.dentry->inode());
  return vfs::FileRef(
      std::make_shared<GoferFile>(path, flags, std::move(fd), std::move(self)));
}

}  // namespace

absl::StatusOr<GoferMount> NewGoferFileSystem(
    std::shared_ptr<gofer::Client> client) {
  auto conn = std::make_shared<GoferConnection>(std::move(client));
  ASSIGN_OR_RETURN(gofer::InodeInfo root, conn->client->Attach());
  if (!S_ISDIR(root.stat.st_mode)) {
    conn->Release(root.fid);
    return cv::ErrnoStatus(ENOTDIR, "gofer attach: root is not a directory");
  }
  GoferMount m;
  m.root = vfs::Dentry::NewRoot(std::make_shared<GoferInode>(conn, root));
  m.fs = std::make_shared<GoferFileSystem>(std::move(conn));
  return m;
}

absl::StatusOr<std::shared_ptr<vfs::FsContext>> MountGoferRoot(
    std::shared_ptr<gofer::Client> client, bool readonly) {
  ASSIGN_OR_RETURN(GoferMount m, NewGoferFileSystem(std::move(client)));
  auto ns = vfs::MountNamespace::New(std::move(m.fs), std::move(m.root),
                                     readonly ? MS_RDONLY : 0);
  return vfs::FsContext::New(std::move(ns));
}

}  // namespace sentry::fs
