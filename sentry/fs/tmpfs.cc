#include "sentry/fs/tmpfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_*
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "sentry/fs/host_io.h"

namespace sentry::fs {
namespace {

// Linux's tmpfs counts each directory entry as this many bytes of st_size.
constexpr off_t kBogoDirentSize = 20;

// Anonymous device minors for tmpfs instances: above the host's and apart
// from devfs's, so st_dev never matches another file system's.
std::atomic<unsigned> next_tmpfs_minor{0xf8000};

absl::Status Errno(int err) { return cv::ErrnoStatus(err); }

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

uint8_t DirentType(mode_t mode) { return IFTODT(mode); }

class TmpfsInode;

class Tmpfs final : public vfs::FileSystem {
 public:
  Tmpfs() : dev_(makedev(0, next_tmpfs_minor.fetch_add(1))) {}
  std::string_view type() const override { return "tmpfs"; }

  dev_t dev() const { return dev_; }
  uint64_t NextIno() { return next_ino_.fetch_add(1); }

  // Guards every inode's attributes and every directory's entries: one lock
  // per instance makes a rename between two directories simple to get right.
  std::mutex mu;

 private:
  const dev_t dev_;
  std::atomic<uint64_t> next_ino_{2};  // the root is 1
};

class TmpfsInode final : public vfs::Inode,
                         public std::enable_shared_from_this<TmpfsInode> {
 public:
  TmpfsInode(std::shared_ptr<Tmpfs> fs, const vfs::NewFileSpec& spec,
             uint64_t ino)
      : Inode(spec.mode), fs_(std::move(fs)) {
    st_.st_dev = fs_->dev();
    st_.st_ino = ino;
    st_.st_mode = spec.mode;
    st_.st_uid = spec.uid;
    st_.st_gid = spec.gid;
    st_.st_nlink = IsDir() ? 2 : 1;
    st_.st_blksize = 4096;
    if (S_ISCHR(spec.mode) || S_ISBLK(spec.mode)) st_.st_rdev = spec.rdev;
    st_.st_atim = st_.st_mtim = st_.st_ctim = Now();
  }

  // Makes the memfd of a regular file.
  absl::Status Init() {
    if (!IsRegular()) return absl::OkStatus();
    int fd = memfd_create("cvisor-tmpfs", MFD_CLOEXEC);
    if (fd < 0) return cv::ErrnoStatus(errno, "memfd_create for tmpfs file");
    data_.reset(fd);
    return absl::OkStatus();
  }

  int data_fd() const { return data_.get(); }
  std::mutex& append_mu() { return append_mu_; }

  absl::StatusOr<struct stat> Stat() override {
    std::lock_guard<std::mutex> lock(fs_->mu);
    return StatLocked();
  }

  absl::StatusOr<vfs::InodeRef> Lookup(const std::string& name) override {
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = children_.find(name);
    if (it == children_.end()) return Errno(ENOENT);
    return vfs::InodeRef(it->second.inode);
  }

  absl::StatusOr<std::string> Readlink() override {
    if (!IsSymlink()) return Errno(EINVAL);
    return target_;  // never changes after creation
  }

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override;

  absl::StatusOr<vfs::DirBatch> ReadDir(uint64_t offset) override {
    if (!IsDir()) return Errno(ENOTDIR);
    std::lock_guard<std::mutex> lock(fs_->mu);
    vfs::DirBatch b;
    if (offset == 0) b.entries.push_back({".", st_.st_ino, DT_DIR, 1});
    if (offset <= 1) {
      std::shared_ptr<TmpfsInode> parent = parent_.lock();
      uint64_t pino = parent ? parent->st_.st_ino : st_.st_ino;
      b.entries.push_back({"..", pino, DT_DIR, 2});
    }
    // Entries are listed by the order they were made in: a cookie that
    // survives other entries' removal, so a listing in progress neither
    // skips nor repeats names that stay.
    for (auto it = order_.lower_bound(std::max<uint64_t>(offset, 2));
         it != order_.end(); ++it) {
      const Child& c = children_.at(it->second);
      b.entries.push_back(vfs::DirEntry{it->second, c.inode->st_.st_ino,
                                        DirentType(c.inode->type()),
                                        it->first + 1});
    }
    b.eof = true;
    return b;
  }

  absl::StatusOr<vfs::InodeRef> Create(const std::string& name,
                                       const vfs::NewFileSpec& spec) override {
    return Make(name, spec, {});
  }
  absl::StatusOr<vfs::InodeRef> Mkdir(const std::string& name,
                                      const vfs::NewFileSpec& spec) override {
    return Make(name, spec, {});
  }
  absl::StatusOr<vfs::InodeRef> Mknod(const std::string& name,
                                      const vfs::NewFileSpec& spec) override {
    return Make(name, spec, {});
  }
  absl::StatusOr<vfs::InodeRef> Symlink(const std::string& name,
                                        const std::string& target,
                                        const vfs::NewFileSpec& spec) override {
    return Make(name, spec, target);
  }

  absl::Status Link(const std::string& name,
                    const vfs::InodeRef& target) override {
    auto t = std::dynamic_pointer_cast<TmpfsInode>(target);
    if (t == nullptr || t->fs_ != fs_) return Errno(EXDEV);
    if (t->IsDir()) return Errno(EPERM);
    std::lock_guard<std::mutex> lock(fs_->mu);
    RETURN_IF_ERROR(CheckLiveDirLocked());
    if (children_.count(name)) return Errno(EEXIST);
    if (t->st_.st_nlink == 0) return Errno(ENOENT);
    struct timespec now = Now();
    t->st_.st_nlink++;
    t->st_.st_ctim = now;
    AddLocked(name, t, now);
    return absl::OkStatus();
  }

  absl::Status Unlink(const std::string& name) override {
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = children_.find(name);
    if (it == children_.end()) return Errno(ENOENT);
    if (it->second.inode->IsDir()) return Errno(EISDIR);
    RemoveLocked(it, Now());
    return absl::OkStatus();
  }

  absl::Status Rmdir(const std::string& name) override {
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = children_.find(name);
    if (it == children_.end()) return Errno(ENOENT);
    if (!it->second.inode->IsDir()) return Errno(ENOTDIR);
    if (!it->second.inode->children_.empty()) return Errno(ENOTEMPTY);
    RemoveLocked(it, Now());
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& name, vfs::Inode& new_dir_inode,
                      const std::string& new_name, unsigned flags) override {
    auto* new_dir = dynamic_cast<TmpfsInode*>(&new_dir_inode);
    if (new_dir == nullptr || new_dir->fs_ != fs_) return Errno(EXDEV);
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto src = children_.find(name);
    if (src == children_.end()) return Errno(ENOENT);
    std::shared_ptr<TmpfsInode> moved = src->second.inode;
    auto dst = new_dir->children_.find(new_name);
    const bool exists = dst != new_dir->children_.end();
    if ((flags & RENAME_NOREPLACE) && exists) return Errno(EEXIST);
    if ((flags & RENAME_EXCHANGE) && !exists) return Errno(ENOENT);
    RETURN_IF_ERROR(new_dir->CheckLiveDirLocked());
    struct timespec now = Now();
    if (exists && dst->second.inode == moved) return absl::OkStatus();
    if (flags & RENAME_EXCHANGE) {
      std::shared_ptr<TmpfsInode> other = dst->second.inode;
      src->second.inode = other;
      dst->second.inode = moved;
      if (this != new_dir) {
        // A directory changing parent moves one link from one to the other.
        if (moved->IsDir() && !other->IsDir()) {
          st_.st_nlink--;
          new_dir->st_.st_nlink++;
        } else if (!moved->IsDir() && other->IsDir()) {
          st_.st_nlink++;
          new_dir->st_.st_nlink--;
        }
      }
      if (moved->IsDir()) moved->parent_ = new_dir->weak_from_this();
      if (other->IsDir()) other->parent_ = weak_from_this();
      moved->st_.st_ctim = other->st_.st_ctim = now;
      Touch(now);
      new_dir->Touch(now);
      return absl::OkStatus();
    }
    if (exists) {
      std::shared_ptr<TmpfsInode> victim = dst->second.inode;
      if (moved->IsDir() != victim->IsDir()) {
        return Errno(moved->IsDir() ? ENOTDIR : EISDIR);
      }
      if (victim->IsDir() && !victim->children_.empty()) {
        return Errno(ENOTEMPTY);
      }
      new_dir->RemoveLocked(dst, now);
    }
    src = children_.find(name);  // RemoveLocked may have erased near it
    order_.erase(src->second.cookie);
    children_.erase(src);
    if (moved->IsDir()) st_.st_nlink--;
    Touch(now);
    new_dir->AddLocked(new_name, moved, now);
    if (moved->IsDir()) moved->parent_ = new_dir->weak_from_this();
    moved->st_.st_ctim = now;
    return absl::OkStatus();
  }

  absl::Status SetAttr(const vfs::SetAttrRequest& req) override {
    using R = vfs::SetAttrRequest;
    if (req.mask & R::kSize) {
      if (!IsRegular()) return Errno(EINVAL);
      if (ftruncate(data_.get(), static_cast<off_t>(req.size)) != 0) {
        return cv::ErrnoStatus(errno, "ftruncate of tmpfs memfd");
      }
    }
    std::lock_guard<std::mutex> lock(fs_->mu);
    if (req.mask & R::kMode) {
      st_.st_mode = (st_.st_mode & S_IFMT) | (req.mode & 07777);
    }
    if (req.mask & R::kUid) st_.st_uid = req.uid;
    if (req.mask & R::kGid) st_.st_gid = req.gid;
    if (req.mask & R::kKillSuid) {
      st_.st_mode &= ~S_ISUID;
      if (st_.st_mode & S_IXGRP) st_.st_mode &= ~S_ISGID;
    }
    if (req.mask & R::kAtime) st_.st_atim = req.atime;
    if (req.mask & R::kMtime) st_.st_mtim = req.mtime;
    st_.st_ctim = Now();
    return absl::OkStatus();
  }

  // A write changed the data: mtime and ctime move, as Linux's
  // file_update_time.
  void DataChanged() {
    std::lock_guard<std::mutex> lock(fs_->mu);
    st_.st_mtim = st_.st_ctim = Now();
  }

  // O_TRUNC of an existing file: times change even if it was empty.
  absl::Status TruncateForOpen() {
    if (ftruncate(data_.get(), 0) != 0) return cv::ErrnoStatus(errno);
    DataChanged();
    return absl::OkStatus();
  }

  void SetParent(const std::shared_ptr<TmpfsInode>& p) { parent_ = p; }

 private:
  struct Child {
    std::shared_ptr<TmpfsInode> inode;
    uint64_t cookie;
  };
  using ChildMap = std::map<std::string, Child, std::less<>>;

  struct stat StatLocked() const {
    struct stat st = st_;
    if (IsRegular()) {
      struct stat host;
      if (fstat(data_.get(), &host) == 0) {
        st.st_size = host.st_size;
        st.st_blocks = host.st_blocks;
      }
    } else if (IsDir()) {
      st.st_size = static_cast<off_t>(children_.size() + 2) * kBogoDirentSize;
    } else if (IsSymlink()) {
      st.st_size = static_cast<off_t>(target_.size());
    }
    return st;
  }

  // A directory that was removed takes no new names (Linux's IS_DEADDIR).
  absl::Status CheckLiveDirLocked() const {
    if (st_.st_nlink == 0) return Errno(ENOENT);
    return absl::OkStatus();
  }

  void Touch(const struct timespec& now) { st_.st_mtim = st_.st_ctim = now; }

  void AddLocked(const std::string& name,
                 const std::shared_ptr<TmpfsInode>& inode,
                 const struct timespec& now) {
    uint64_t cookie = next_cookie_++;
    children_[name] = Child{inode, cookie};
    order_[cookie] = name;
    if (inode->IsDir()) st_.st_nlink++;
    Touch(now);
  }

  void RemoveLocked(ChildMap::iterator it, const struct timespec& now) {
    std::shared_ptr<TmpfsInode> victim = it->second.inode;
    order_.erase(it->second.cookie);
    children_.erase(it);
    if (victim->IsDir()) {
      st_.st_nlink--;            // its ".."
      victim->st_.st_nlink = 0;  // "." and its name
    } else {
      victim->st_.st_nlink--;
    }
    victim->st_.st_ctim = now;
    Touch(now);
  }

  absl::StatusOr<vfs::InodeRef> Make(const std::string& name,
                                     const vfs::NewFileSpec& spec,
                                     const std::string& target) {
    auto inode = std::make_shared<TmpfsInode>(fs_, spec, fs_->NextIno());
    RETURN_IF_ERROR(inode->Init());
    inode->target_ = target;
    std::lock_guard<std::mutex> lock(fs_->mu);
    RETURN_IF_ERROR(CheckLiveDirLocked());
    if (children_.count(name)) return Errno(EEXIST);
    if (inode->IsDir()) inode->parent_ = weak_from_this();
    AddLocked(name, inode, inode->st_.st_ctim);
    return vfs::InodeRef(inode);
  }

  const std::shared_ptr<Tmpfs> fs_;
  struct stat st_ {};                      // guarded by fs_->mu
  ChildMap children_;                      // guarded by fs_->mu
  std::map<uint64_t, std::string> order_;  // cookie -> name; fs_->mu
  uint64_t next_cookie_ = 2;               // guarded by fs_->mu
  std::weak_ptr<TmpfsInode> parent_;       // directories; guarded by fs_->mu
  std::string target_;                     // symlinks; set before publication
  cv::UniqueFd data_;                      // regular files
  std::mutex append_mu_;                   // makes O_APPEND writes atomic
};

// An open regular file: data moves with pread/pwrite on the inode's memfd,
// at the description's own offset.
class TmpfsFile final : public vfs::FileDescription {
 public:
  TmpfsFile(const vfs::Path& path, int flags, std::shared_ptr<TmpfsInode> inode)
      : FileDescription(path, flags), inode_(std::move(inode)) {}

  // The memfd holds the data, so mmap can map it (MAP_SHARED then shares
  // with every other opener, as on Linux). It is open read-write whatever
  // this description's mode: mappers must check readable()/writable().
  int host_fd() const override { return inode_->data_fd(); }

  int64_t Read(vfs::IoSequence& dst) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n = HostRead(inode_->data_fd(), dst, offset_, /*single=*/false);
    if (n > 0) offset_ += n;
    return n;
  }

  int64_t PRead(vfs::IoSequence& dst, int64_t offset) override {
    return HostRead(inode_->data_fd(), dst, offset, /*single=*/false);
  }

  int64_t Write(vfs::IoSequence& src) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n;
    if (flags() & O_APPEND) {
      n = Append(src);
      if (n >= 0) offset_ = EndOffset();
    } else {
      n = HostWrite(inode_->data_fd(), src, offset_);
      if (n > 0) offset_ += n;
    }
    if (n > 0) inode_->DataChanged();
    return n;
  }

  int64_t PWrite(vfs::IoSequence& src, int64_t offset) override {
    // Linux appends under O_APPEND whatever the offset.
    int64_t n = (flags() & O_APPEND)
                    ? Append(src)
                    : HostWrite(inode_->data_fd(), src, offset);
    if (n > 0) inode_->DataChanged();
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
      case SEEK_END:
        if (__builtin_add_overflow(EndOffset(), offset, &target)) {
          return -EINVAL;
        }
        break;
      case SEEK_DATA:
      case SEEK_HOLE: {
        off_t r = lseek(inode_->data_fd(), offset, whence);
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

  absl::StatusOr<struct stat> Stat() override { return inode_->Stat(); }

 private:
  int64_t EndOffset() const {
    struct stat st;
    if (fstat(inode_->data_fd(), &st) != 0) return 0;
    return st.st_size;
  }

  int64_t Append(vfs::IoSequence& src) {
    std::lock_guard<std::mutex> lock(inode_->append_mu());
    return HostWrite(inode_->data_fd(), src, EndOffset());
  }

  const std::shared_ptr<TmpfsInode> inode_;
};

absl::StatusOr<vfs::FileRef> TmpfsInode::Open(const vfs::Path& path,
                                              int flags) {
  switch (type()) {
    case S_IFDIR:
      return vfs::NewDirectoryFile(path, flags);
    case S_IFREG:
      // The VFS checked write permission for O_TRUNC, even with O_RDONLY
      // (which Linux truncates too).
      if (flags & O_TRUNC) {
        RETURN_IF_ERROR(TruncateForOpen());
      }
      return vfs::FileRef(std::make_shared<TmpfsFile>(
          path, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC),
          shared_from_this()));
    case S_IFSOCK:
      return Errno(ENXIO);  // sockets are connected to, never opened
    case S_IFIFO:
      return cv::ErrnoStatus(EOPNOTSUPP,
                             "opening a FIFO in tmpfs is not implemented");
    default:
      return Errno(ENXIO);
  }
}

}  // namespace

TmpfsMount NewTmpfs(const TmpfsOptions& opts) {
  auto fs = std::make_shared<Tmpfs>();
  vfs::NewFileSpec spec;
  spec.mode = S_IFDIR | (opts.mode & 07777);
  spec.uid = opts.uid;
  spec.gid = opts.gid;
  auto root = std::make_shared<TmpfsInode>(fs, spec, 1);
  TmpfsMount m;
  m.root = vfs::Dentry::NewRoot(std::move(root));
  m.fs = std::move(fs);
  return m;
}

absl::Status MountTmpfs(const vfs::FsContext& fs, std::string_view path,
                        int flags, mode_t mode) {
  // The kernel's own lookup: no permission checks.
  vfs::ResolveContext ctx = vfs::MakeResolveContext(fs, nullptr, fs.root());
  absl::StatusOr<vfs::Path> at = vfs::ResolvePath(ctx, path, vfs::kFollowFinal);
  if (!at.ok()) {
    int err = cv::StatusToErrno(at.status());
    if (err == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat(std::string(path),
                       " does not exist in the container's root file system"));
    }
    return cv::ErrnoStatus(err, absl::StrCat("looking up ", std::string(path)));
  }
  if (!at->dentry->IsDir()) {
    return absl::NotFoundError(absl::StrCat(
        std::string(path),
        " in the container's root file system is not a directory"));
  }
  TmpfsOptions opts;
  opts.mode = mode;
  TmpfsMount m = NewTmpfs(opts);
  return fs.mount_namespace()
      ->AddMount(*at, std::move(m.fs), std::move(m.root), flags)
      .status();
}

}  // namespace sentry::fs
