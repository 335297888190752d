#include "sentry/fs/tmpfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_*
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "sentry/fs/host_io.h"
#include "sentry/fs/pipe.h"

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

constexpr uint64_t kBlockSize = 4096;

// The state every inode of one instance shares. It is not the FileSystem:
// that owns the dentry cache, whose dentries hold inodes, and inodes that
// held it would keep each other alive after the last mount goes.
class Tmpfs final {
 public:
  explicit Tmpfs(uint64_t limit)
      : dev_(makedev(0, next_tmpfs_minor.fetch_add(1))), limit_(limit) {}
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  dev_t dev() const { return dev_; }
  uint64_t NextIno() { return next_ino_.fetch_add(1); }

  // Claims up to `want` bytes of the size limit; returns how many it got
  // (all of them without a limit). Release gives bytes back.
  uint64_t Reserve(uint64_t want) {
    if (limit_ == 0) {
      used_.fetch_add(want, std::memory_order_relaxed);
      return want;
    }
    uint64_t cur = used_.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t room = limit_ > cur ? limit_ - cur : 0;
      uint64_t grant = std::min(want, room);
      if (used_.compare_exchange_weak(cur, cur + grant,
                                      std::memory_order_relaxed)) {
        return grant;
      }
    }
  }
  void Release(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  void InodeMade() { inodes_.fetch_add(1, std::memory_order_relaxed); }
  void InodeGone() { inodes_.fetch_sub(1, std::memory_order_relaxed); }

  struct statfs StatFs() const {
    struct statfs s {};
    s.f_type = TMPFS_MAGIC;
    s.f_bsize = kBlockSize;
    s.f_frsize = kBlockSize;
    s.f_namelen = NAME_MAX;
    // Without size= Linux sizes tmpfs at half of RAM (and as many inodes
    // as that has pages); programs that check free space (apt, dpkg) need
    // a plausible figure rather than 0.
    const uint64_t ram_pages = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                               static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) /
                               kBlockSize;
    const uint64_t blocks = limit_ ? limit_ / kBlockSize : ram_pages / 2;
    const uint64_t used =
        (used_.load(std::memory_order_relaxed) + kBlockSize - 1) / kBlockSize;
    s.f_blocks = blocks;
    s.f_bfree = s.f_bavail = blocks > used ? blocks - used : 0;
    const uint64_t files = ram_pages / 2;
    const uint64_t inodes = inodes_.load(std::memory_order_relaxed);
    s.f_files = files;
    s.f_ffree = files > inodes ? files - inodes : 0;
    s.f_fsid.__val[0] = static_cast<int>(minor(dev_));
    s.f_fsid.__val[1] = static_cast<int>(major(dev_));
    return s;
  }

  // Guards every inode's attributes and every directory's entries: one lock
  // per instance makes a rename between two directories simple to get right.
  std::mutex mu;

 private:
  const dev_t dev_;
  const uint64_t limit_;               // 0: none
  std::atomic<uint64_t> next_ino_{2};  // the root is 1
  std::atomic<uint64_t> used_{0};      // bytes of file data counted
  std::atomic<uint64_t> inodes_{0};
};

// The state of a FIFO shared by every open of it (Linux's pipe_inode_info
// plus the reader/writer counts fifo_open keeps). The Pipe exists while any
// end is open: when the last end closes its data goes, as on Linux.
struct FifoState {
  std::mutex mu;
  std::shared_ptr<Pipe> pipe;  // guarded by mu
  int readers = 0;             // guarded by mu
  int writers = 0;             // guarded by mu
  // How many read / write opens there have ever been: a blocked opener
  // waits for its partner's counter to move, so a partner that opens and
  // closes at once still releases it.
  uint64_t r_counter = 0;   // guarded by mu
  uint64_t w_counter = 0;   // guarded by mu
  vfs::WaiterList openers;  // guarded by mu
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
    if (S_ISFIFO(spec.mode)) fifo_ = std::make_shared<FifoState>();
    fs_->InodeMade();
  }
  ~TmpfsInode() override {
    fs_->Release(size_);
    fs_->InodeGone();
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
  uint64_t size() {
    std::lock_guard<std::mutex> lock(size_mu_);
    return size_;
  }

  // Writes `src` at `offset`, or at the end if `append`, within the size
  // limit: a write that only partly fits writes what fits, one with no room
  // at all gives -ENOSPC. Returns the count or -errno; `*pos` is the offset
  // just past what was written.
  int64_t WriteData(vfs::IoSequence& src, int64_t offset, bool append,
                    int64_t* pos) {
    // Size changes and their accounting go together.
    std::lock_guard<std::mutex> lock(size_mu_);
    if (append) offset = static_cast<int64_t>(size_);
    *pos = offset;
    const uint64_t len = std::min(src.size(), vfs::kMaxRwCount);
    uint64_t end;
    if (len == 0 ||
        __builtin_add_overflow(static_cast<uint64_t>(offset), len, &end)) {
      // Nothing to count; the host answers (0, or EFBIG/EINVAL).
      int64_t n = HostWrite(data_.get(), src, offset);
      if (n > 0) *pos += n;
      return n;
    }
    uint64_t grant = 0;
    uint64_t allowed = len;
    if (end > size_) {
      const uint64_t need = end - size_;
      grant = fs_->Reserve(need);
      if (grant < need) {
        const uint64_t limit_end = size_ + grant;
        allowed = limit_end > static_cast<uint64_t>(offset)
                      ? limit_end - static_cast<uint64_t>(offset)
                      : 0;
        if (allowed == 0) {
          fs_->Release(grant);
          return -ENOSPC;
        }
      }
    }
    int64_t n = allowed == len ? HostWrite(data_.get(), src, offset)
                               : WritePrefix(src, offset, allowed);
    const uint64_t written = n > 0 ? static_cast<uint64_t>(n) : 0;
    // A failed write (EFBIG far out, EFAULT) leaves the size alone.
    const uint64_t new_size =
        written == 0 ? size_
                     : std::max<uint64_t>(
                           size_, static_cast<uint64_t>(offset) + written);
    fs_->Release(grant - (new_size - size_));
    size_ = new_size;
    if (n > 0) *pos += n;
    return n;
  }

  // Sets the data size (truncate, O_TRUNC), within the size limit.
  absl::Status SetSize(uint64_t size) {
    std::lock_guard<std::mutex> lock(size_mu_);
    if (size > size_) {
      const uint64_t need = size - size_;
      uint64_t grant = fs_->Reserve(need);
      if (grant < need) {
        fs_->Release(grant);
        return Errno(ENOSPC);
      }
    }
    if (ftruncate(data_.get(), static_cast<off_t>(size)) != 0) {
      int err = errno;
      if (size > size_) fs_->Release(size - size_);
      return cv::ErrnoStatus(err, "ftruncate of tmpfs memfd");
    }
    if (size < size_) fs_->Release(size_ - size);
    size_ = size;
    return absl::OkStatus();
  }

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
  // shmem_tmpfile: an inode with no name; its data goes when the last
  // description closes unless linkat named it meanwhile.
  absl::StatusOr<vfs::InodeRef> Tmpfile(const vfs::NewFileSpec& spec) override {
    if (!IsDir()) return Errno(ENOTDIR);
    auto inode = std::make_shared<TmpfsInode>(fs_, spec, fs_->NextIno());
    RETURN_IF_ERROR(inode->Init());
    std::lock_guard<std::mutex> lock(fs_->mu);
    inode->st_.st_nlink = 0;
    return vfs::InodeRef(inode);
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
    // A removed file stays removed; an O_TMPFILE file may get its first name.
    if (t->st_.st_nlink == 0 && !t->tmpfile_linkable()) return Errno(ENOENT);
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
      RETURN_IF_ERROR(SetSize(req.size));
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
    RETURN_IF_ERROR(SetSize(0));
    DataChanged();
    return absl::OkStatus();
  }

  absl::StatusOr<struct statfs> StatFs() override { return fs_->StatFs(); }

  // Linux's tmpfs keeps trusted., security. and (since 6.6) user.
  // attributes; the VFS has already refused user. ones on files other than
  // regular files and directories.
  static bool XattrNamespaceKept(const std::string& name) {
    return name.rfind("user.", 0) == 0 || name.rfind("trusted.", 0) == 0 ||
           name.rfind("security.", 0) == 0;
  }

  // Linux's xattr_permission: user. attributes are for regular files and
  // directories only (the VFS checks this too; tmpfs holds to it anyway).
  bool UserXattrRefused(const std::string& name) const {
    return name.rfind("user.", 0) == 0 && !IsRegular() && !IsDir();
  }

  absl::StatusOr<std::string> GetXattr(const std::string& name) override {
    if (!XattrNamespaceKept(name)) return Errno(EOPNOTSUPP);
    if (UserXattrRefused(name)) return Errno(ENODATA);
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = xattrs_.find(name);
    if (it == xattrs_.end()) return Errno(ENODATA);
    return it->second;
  }

  absl::Status SetXattr(const std::string& name, const std::string& value,
                        int flags) override {
    if (!XattrNamespaceKept(name)) return Errno(EOPNOTSUPP);
    if (UserXattrRefused(name)) return Errno(EPERM);
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = xattrs_.find(name);
    if ((flags & XATTR_CREATE) && it != xattrs_.end()) return Errno(EEXIST);
    if ((flags & XATTR_REPLACE) && it == xattrs_.end()) return Errno(ENODATA);
    xattrs_[name] = value;
    st_.st_ctim = Now();
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListXattr() override {
    std::lock_guard<std::mutex> lock(fs_->mu);
    std::vector<std::string> names;
    names.reserve(xattrs_.size());
    for (const auto& [name, value] : xattrs_) names.push_back(name);
    return names;
  }

  absl::Status RemoveXattr(const std::string& name) override {
    if (!XattrNamespaceKept(name)) return Errno(EOPNOTSUPP);
    if (UserXattrRefused(name)) return Errno(EPERM);
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = xattrs_.find(name);
    if (it == xattrs_.end()) return Errno(ENODATA);
    xattrs_.erase(it);
    st_.st_ctim = Now();
    return absl::OkStatus();
  }

  absl::StatusOr<vfs::FileRef> OpenFifo(const vfs::Path& path, int flags);

  void SetParent(const std::shared_ptr<TmpfsInode>& p) { parent_ = p; }

  // Open descriptions of a regular file. The data of a file with no name
  // goes when the last one closes, as on Linux, whoever else still holds
  // the inode (a cached dentry). Mappings hold their description.
  void Opened() { opens_.fetch_add(1); }
  void Closed() {
    if (opens_.fetch_sub(1) != 1) return;
    std::lock_guard<std::mutex> lock(fs_->mu);
    if (st_.st_nlink == 0) FreeData();
  }

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
      if (victim->st_.st_nlink == 0 && victim->opens_.load() == 0) {
        victim->FreeData();
      }
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
  // Drops a regular file's data and gives its bytes back.
  void FreeData() {
    if (!IsRegular()) return;
    std::lock_guard<std::mutex> lock(size_mu_);
    if (ftruncate(data_.get(), 0) != 0) return;
    fs_->Release(size_);
    size_ = 0;
  }

  // Writes the first `len` bytes of `src` at `offset` (a write cut short by
  // the size limit).
  int64_t WritePrefix(vfs::IoSequence& src, int64_t offset, uint64_t len) {
    std::vector<char> buf(std::min<uint64_t>(len, 64 * 1024));
    uint64_t done = 0;
    while (done < len) {
      size_t want = std::min<uint64_t>(buf.size(), len - done);
      if (src.CopyIn(done, buf.data(), want) != 0) {
        return done > 0 ? static_cast<int64_t>(done) : -EFAULT;
      }
      ssize_t n = pwrite(data_.get(), buf.data(), want,
                         offset + static_cast<int64_t>(done));
      if (n < 0) return done > 0 ? static_cast<int64_t>(done) : -errno;
      done += static_cast<uint64_t>(n);
      if (static_cast<size_t>(n) < want) break;
    }
    return static_cast<int64_t>(done);
  }

  std::map<std::string, std::string> xattrs_;  // guarded by fs_->mu
  std::string target_;  // symlinks; set before publication
  cv::UniqueFd data_;   // regular files
  // Serialises size changes (writes, truncation) so that the size limit's
  // accounting matches the data, and makes O_APPEND writes atomic.
  std::mutex size_mu_;
  uint64_t size_ = 0;  // data size as counted; guarded by size_mu_
  std::shared_ptr<FifoState> fifo_;  // FIFOs
  std::atomic<int> opens_{0};        // regular files' open descriptions
};

// An open regular file: data moves with pread/pwrite on the inode's memfd,
// at the description's own offset.
class TmpfsFile final : public vfs::FileDescription {
 public:
  TmpfsFile(const vfs::Path& path, int flags, std::shared_ptr<TmpfsInode> inode)
      : FileDescription(path, flags), inode_(std::move(inode)) {
    inode_->Opened();
  }
  ~TmpfsFile() override { inode_->Closed(); }

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
    const bool append = flags() & O_APPEND;
    int64_t pos;
    int64_t n = inode_->WriteData(src, offset_, append, &pos);
    if (n >= 0) offset_ = pos;
    if (n > 0) inode_->DataChanged();
    return n;
  }

  int64_t PWrite(vfs::IoSequence& src, int64_t offset) override {
    // Linux appends under O_APPEND whatever the offset.
    int64_t pos;
    int64_t n = inode_->WriteData(src, offset, flags() & O_APPEND, &pos);
    if (n > 0) inode_->DataChanged();
    return n;
  }

  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t target = HostSeekTarget(inode_->data_fd(), offset_, offset, whence);
    if (target >= 0) offset_ = target;
    return target;
  }

  absl::StatusOr<struct stat> Stat() override { return inode_->Stat(); }

 private:
  const std::shared_ptr<TmpfsInode> inode_;
};

// One end of a FIFO opened by name: the pipe's data operations, with the
// FIFO's reader and writer counts kept for later opens.
class FifoFile final : public PipeEnd {
 public:
  FifoFile(const vfs::Path& path, int flags, std::shared_ptr<FifoState> fifo,
           std::shared_ptr<Pipe> pipe, uint64_t w_counter_at_open)
      : PipeEnd(path, flags, std::move(pipe)),
        fifo_(std::move(fifo)),
        w_counter_at_open_(w_counter_at_open) {}
  ~FifoFile() override {
    std::lock_guard<std::mutex> lock(fifo_->mu);
    if (reader()) fifo_->readers--;
    if (writer()) fifo_->writers--;
    if (fifo_->readers == 0 && fifo_->writers == 0) fifo_->pipe.reset();
  }

  short Readiness(short mask) override {
    short ev = PipeEnd::Readiness(mask);
    if ((ev & POLLHUP) && reader()) {
      // Linux's pipe_poll: a reader that opened before any writer came
      // sees no hang-up until a writer has come and gone.
      std::lock_guard<std::mutex> lock(fifo_->mu);
      if (fifo_->w_counter == w_counter_at_open_) ev &= ~POLLHUP;
    }
    return ev;
  }

 private:
  const std::shared_ptr<FifoState> fifo_;
  const uint64_t w_counter_at_open_;
};

// Linux's fifo_open: a read-only open waits for a writer and a write-only
// open for a reader, unless O_NONBLOCK (then a writer without readers gets
// ENXIO); O_RDWR never waits. The wait ends early if the thread is
// interrupted: the open is then restarted or fails with EINTR.
absl::StatusOr<vfs::FileRef> TmpfsInode::OpenFifo(const vfs::Path& path,
                                                  int flags) {
  FifoState& f = *fifo_;
  const int mode = flags & O_ACCMODE;
  const bool nonblock = flags & O_NONBLOCK;
  std::unique_lock<std::mutex> lock(f.mu);
  if (mode == O_WRONLY && nonblock && f.readers == 0) return Errno(ENXIO);
  if (f.pipe == nullptr) f.pipe = std::make_shared<Pipe>();
  const bool reader = mode != O_WRONLY;
  const bool writer = mode != O_RDONLY;
  if (reader) {
    f.readers++;
    f.r_counter++;
  }
  if (writer) {
    f.writers++;
    f.w_counter++;
  }
  f.openers.NotifyAll();
  // The description owns its share of the counts from here on.
  auto file =
      std::make_shared<FifoFile>(path, flags, fifo_, f.pipe, f.w_counter);
  const uint64_t r_start = f.r_counter;
  const uint64_t w_start = f.w_counter;
  auto partner_came = [&] {
    if (mode == O_RDONLY) return f.writers > 0 || f.w_counter != w_start;
    return f.readers > 0 || f.r_counter != r_start;
  };
  if (mode == O_RDWR || (mode == O_RDONLY && nonblock) || partner_came()) {
    return vfs::FileRef(std::move(file));
  }
  vfs::SyncWaiter w;
  f.openers.Add(&w);
  int rc = 0;
  while (!partner_came()) {
    lock.unlock();
    rc = w.WaitInterruptible();
    lock.lock();
    if (rc == -EINTR) break;
  }
  f.openers.Remove(&w);
  lock.unlock();
  // Dropping `file` undoes this open's counts.
  if (rc == -EINTR) return cv::ErrnoStatus(kERestartSys, "FIFO open");
  return vfs::FileRef(std::move(file));
}

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
      return OpenFifo(path, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
    default:
      return Errno(ENXIO);
  }
}

class TmpfsFileSystem final : public vfs::FileSystem {
 public:
  explicit TmpfsFileSystem(std::shared_ptr<Tmpfs> tmpfs)
      : tmpfs_(std::move(tmpfs)) {}
  std::string_view type() const override { return "tmpfs"; }

 private:
  const std::shared_ptr<Tmpfs> tmpfs_;
};

}  // namespace

TmpfsMount NewTmpfs(const TmpfsOptions& opts) {
  auto fs = std::make_shared<Tmpfs>(opts.size_bytes);
  vfs::NewFileSpec spec;
  spec.mode = S_IFDIR | (opts.mode & 07777);
  spec.uid = opts.uid;
  spec.gid = opts.gid;
  auto root = std::make_shared<TmpfsInode>(fs, spec, 1);
  TmpfsMount m;
  m.root = vfs::Dentry::NewRoot(std::move(root));
  m.fs = std::make_shared<TmpfsFileSystem>(std::move(fs));
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
