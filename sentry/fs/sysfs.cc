#include "sentry/fs/sysfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace sentry::fs {
namespace {

// sysfs's magic, as statfs(2) reports it.
constexpr long kSysfsMagic = 0x62656572;

class SysfsFileSystem final : public vfs::FileSystem {
 public:
  std::string_view type() const override { return "sysfs"; }
};

// Attributes shared by every node: one device, one mount time.
struct Shared {
  dev_t dev;
  struct timespec time;
  std::atomic<ino_t> next_ino{1};
};

class SysfsInode : public vfs::Inode {
 public:
  SysfsInode(std::shared_ptr<Shared> shared, mode_t mode)
      : Inode(mode), shared_(std::move(shared)), mode_(mode) {
    ino_ = shared_->next_ino.fetch_add(1);
  }
  absl::StatusOr<struct stat> Stat() override {
    struct stat st = {};
    st.st_dev = shared_->dev;
    st.st_ino = ino_;
    st.st_mode = mode_;
    st.st_nlink = IsDir() ? 2 : 1;
    // sysfs reports a page for every attribute whatever its length.
    st.st_size = IsDir() ? 0 : 4096;
    st.st_blksize = 4096;
    st.st_atim = st.st_mtim = st.st_ctim = shared_->time;
    return st;
  }
  absl::StatusOr<struct statfs> StatFs() override {
    struct statfs s = {};
    s.f_type = kSysfsMagic;
    s.f_bsize = 4096;
    s.f_namelen = 255;
    s.f_frsize = 4096;
    s.f_flags = ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC;
    return s;
  }
  ino_t ino() const { return ino_; }

 protected:
  std::shared_ptr<Shared> shared_;

 private:
  const mode_t mode_;
  ino_t ino_;
};

// An open attribute: its text, read like a short regular file.
class TextFile final : public vfs::FileDescription {
 public:
  TextFile(const vfs::Path& path, int flags, const std::string& text)
      : FileDescription(path, flags), text_(text) {}
  int64_t Read(vfs::IoSequence& dst) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n = PRead(dst, offset_);
    if (n > 0) offset_ += n;
    return n;
  }
  int64_t PRead(vfs::IoSequence& dst, int64_t offset) override {
    if (offset < 0) return -EINVAL;
    if (static_cast<uint64_t>(offset) >= text_.size()) return 0;
    size_t n = std::min(dst.size(), text_.size() - offset);
    if (dst.CopyOut(0, text_.data() + offset, n) != 0) return -EFAULT;
    return static_cast<int64_t>(n);
  }
  int64_t Write(vfs::IoSequence&) override { return -EACCES; }
  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t base = whence == SEEK_SET   ? 0
                   : whence == SEEK_CUR ? offset_
                   : whence == SEEK_END ? static_cast<int64_t>(text_.size())
                                        : -1;
    if (base < 0 || base + offset < 0) return -EINVAL;
    offset_ = base + offset;
    return offset_;
  }

 private:
  const std::string& text_;
};

class SysfsFile final : public SysfsInode {
 public:
  SysfsFile(std::shared_ptr<Shared> shared, std::string text)
      : SysfsInode(std::move(shared), S_IFREG | 0444), text_(std::move(text)) {}
  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override {
    if ((flags & O_ACCMODE) != O_RDONLY) return cv::ErrnoStatus(EACCES);
    return std::make_shared<TextFile>(path, flags, text_);
  }

 private:
  // Outlives every TextFile: the description holds the dentry, which holds
  // this inode.
  const std::string text_;
};

class SysfsDir final : public SysfsInode {
 public:
  SysfsDir(std::shared_ptr<Shared> shared, ino_t parent_ino)
      : SysfsInode(std::move(shared), S_IFDIR | 0755),
        parent_ino_(parent_ino == 0 ? ino() : parent_ino) {}

  std::shared_ptr<SysfsDir> AddDir(const std::string& name) {
    auto d = std::make_shared<SysfsDir>(shared_, ino());
    children_[name] = d;
    return d;
  }
  void AddFile(const std::string& name, std::string text) {
    children_[name] = std::make_shared<SysfsFile>(shared_, std::move(text));
  }

  absl::StatusOr<vfs::InodeRef> Lookup(const std::string& name) override {
    auto it = children_.find(name);
    if (it == children_.end()) return cv::ErrnoStatus(ENOENT);
    return it->second;
  }
  absl::StatusOr<vfs::DirBatch> ReadDir(uint64_t offset) override {
    vfs::DirBatch batch;
    uint64_t i = 0;
    auto add = [&](const std::string& name, ino_t ino, uint8_t type) {
      if (i++ >= offset) batch.entries.push_back({name, ino, type, i});
    };
    add(".", ino(), DT_DIR);
    add("..", parent_ino_, DT_DIR);
    for (const auto& [name, inode] : children_) {
      auto* child = static_cast<SysfsInode*>(inode.get());
      add(name, child->ino(), child->IsDir() ? DT_DIR : DT_REG);
    }
    batch.eof = true;
    return batch;
  }
  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override {
    return vfs::NewDirectoryFile(path, flags);
  }

 private:
  const ino_t parent_ino_;
  // Built before the file system is mounted and never changed after.
  std::map<std::string, vfs::InodeRef> children_;
};

// A fresh anonymous device number per instance, as Linux gives each
// superblock without a backing device.
dev_t NextAnonDev() {
  static std::atomic<unsigned> minor{0x400};
  return makedev(0, minor.fetch_add(1));
}

}  // namespace

SysfsMount NewSysfs(int cpus) {
  auto shared = std::make_shared<Shared>();
  shared->dev = NextAnonDev();
  clock_gettime(CLOCK_REALTIME, &shared->time);
  auto root = std::make_shared<SysfsDir>(shared, 0);
  std::string range =
      cpus <= 1 ? "0\n" : absl::StrCat("0-", std::max(cpus, 1) - 1, "\n");
  auto cpu = root->AddDir("devices")->AddDir("system")->AddDir("cpu");
  for (const char* name : {"online", "possible", "present"}) {
    cpu->AddFile(name, range);
  }
  // get_nprocs_conf() counts the cpuN directories.
  for (int i = 0; i < std::max(cpus, 1); ++i) {
    cpu->AddDir(absl::StrCat("cpu", i));
  }
  // The mount point Docker's spec puts a cgroup file system on.
  root->AddDir("fs")->AddDir("cgroup");
  root->AddDir("kernel");
  root->AddDir("class");
  SysfsMount m;
  m.fs = std::make_shared<SysfsFileSystem>();
  m.root = vfs::Dentry::NewRoot(std::move(root));
  return m;
}

}  // namespace sentry::fs
