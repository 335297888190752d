// An in-memory file system for the VFS's unit tests: directories, regular
// files and symlinks built up front, with counters that let tests see which
// requests reached the "file system" (and so what the dentry cache saved).
#ifndef CVISOR_SENTRY_VFS_TEST_FS_H_
#define CVISOR_SENTRY_VFS_TEST_FS_H_

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/errno_status.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs::testing {

struct MemCounters {
  std::atomic<int> lookups{0};       // Lookup calls
  std::atomic<int> path_lookups{0};  // LookupPath calls
  std::atomic<int> readlinks{0};
  std::atomic<int> readdirs{0};
  std::atomic<int> live_inodes{0};
};

class MemInode final : public Inode {
 public:
  MemInode(mode_t mode, std::shared_ptr<MemCounters> counters, uint32_t uid,
           uint32_t gid, uint64_t ino)
      : Inode(mode), counters_(std::move(counters)) {
    st_.st_mode = mode;
    st_.st_uid = uid;
    st_.st_gid = gid;
    st_.st_ino = ino;
    st_.st_nlink = S_ISDIR(mode) ? 2 : 1;
    st_.st_blksize = 4096;
    counters_->live_inodes++;
  }
  ~MemInode() override { counters_->live_inodes--; }

  absl::StatusOr<struct stat> Stat() override {
    struct stat st = st_;
    st.st_size = IsSymlink() ? target.size() : data.size();
    return st;
  }

  absl::StatusOr<InodeRef> Lookup(const std::string& name) override {
    counters_->lookups++;
    auto it = children.find(name);
    if (it == children.end()) return cv::ErrnoStatus(ENOENT);
    return InodeRef(it->second);
  }

  absl::StatusOr<LookupPathResult> LookupPath(
      const std::vector<std::string>& names) override {
    counters_->path_lookups++;
    // The default loop, minus the per-name counting: one "round trip".
    LookupPathResult r;
    MemInode* dir = this;
    for (const std::string& name : names) {
      auto it = dir->children.find(name);
      if (it == dir->children.end()) {
        r.stop_errno = ENOENT;
        break;
      }
      r.inodes.push_back(it->second);
      dir = it->second.get();
      if (!dir->IsDir()) break;
    }
    return r;
  }

  absl::StatusOr<std::string> Readlink() override {
    if (!IsSymlink()) return cv::ErrnoStatus(EINVAL);
    counters_->readlinks++;
    return target;
  }

  absl::StatusOr<FileRef> Open(const Path& path, int flags) override;

  // ".", "..", then the children by name; `batch` entries per call so that
  // tests exercise listings that take several requests.
  absl::StatusOr<DirBatch> ReadDir(uint64_t offset) override {
    if (!IsDir()) return cv::ErrnoStatus(ENOTDIR);
    counters_->readdirs++;
    std::vector<DirEntry> all;
    all.push_back({".", st_.st_ino, DT_DIR, 1});
    all.push_back({"..", 1, DT_DIR, 2});
    uint64_t off = 2;
    for (const auto& [name, child] : children) {
      uint8_t type = child->IsDir()       ? DT_DIR
                     : child->IsSymlink() ? DT_LNK
                                          : DT_REG;
      all.push_back({name, child->st_.st_ino, type, ++off});
    }
    DirBatch b;
    for (size_t i = offset; i < all.size() && b.entries.size() < batch; ++i) {
      b.entries.push_back(all[i]);
    }
    b.eof = offset + b.entries.size() >= all.size();
    return b;
  }

  std::map<std::string, std::shared_ptr<MemInode>> children;
  std::string target;  // symlinks
  std::string data;    // regular files
  size_t batch = 3;
  struct stat st_ {};

 private:
  std::shared_ptr<MemCounters> counters_;
};

// A regular file's description: reads and seeks over MemInode::data.
class MemFile final : public FileDescription {
 public:
  MemFile(const Path& path, int flags, std::shared_ptr<MemInode> inode)
      : FileDescription(path, flags), inode_(std::move(inode)) {}

  int64_t Read(IoSequence& dst) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n = PRead(dst, offset_);
    if (n > 0) offset_ += n;
    return n;
  }
  int64_t PRead(IoSequence& dst, int64_t offset) override {
    const std::string& d = inode_->data;
    if (offset >= static_cast<int64_t>(d.size())) return 0;
    size_t n = std::min(dst.size(), d.size() - offset);
    if (int err = dst.CopyOut(0, d.data() + offset, n); err != 0) return err;
    return static_cast<int64_t>(n);
  }
  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t base = whence == SEEK_SET   ? 0
                   : whence == SEEK_CUR ? offset_
                   : whence == SEEK_END
                       ? static_cast<int64_t>(inode_->data.size())
                       : -1;
    if (base < 0 || base + offset < 0) return -EINVAL;
    offset_ = base + offset;
    return offset_;
  }

 private:
  std::shared_ptr<MemInode> inode_;
};

inline absl::StatusOr<FileRef> MemInode::Open(const Path& path, int flags) {
  if (IsDir()) return NewDirectoryFile(path, flags);
  if (IsRegular()) {
    auto self = std::static_pointer_cast<MemInode>(path.dentry->inode());
    return FileRef(std::make_shared<MemFile>(path, flags, std::move(self)));
  }
  return cv::ErrnoStatus(ENXIO);
}

class MemFs final : public FileSystem {
 public:
  explicit MemFs(size_t cache = kDefaultDentryCacheSize)
      : FileSystem(cache), counters(std::make_shared<MemCounters>()) {
    root = NewInode(S_IFDIR | 0755);
  }
  std::string_view type() const override { return "memfs"; }

  std::shared_ptr<MemInode> NewInode(mode_t mode, uint32_t uid = 0,
                                     uint32_t gid = 0) {
    return std::make_shared<MemInode>(mode, counters, uid, gid, next_ino++);
  }

  // Creates every missing directory along `path` ("a/b/c"), returns the
  // last.
  std::shared_ptr<MemInode> Dir(const std::string& path, mode_t perm = 0755,
                                uint32_t uid = 0, uint32_t gid = 0) {
    std::shared_ptr<MemInode> cur = root;
    for (const std::string& name : Split(path)) {
      auto& child = cur->children[name];
      if (child == nullptr) child = NewInode(S_IFDIR | perm, uid, gid);
      cur = child;
    }
    return cur;
  }
  std::shared_ptr<MemInode> File(const std::string& path,
                                 const std::string& data, mode_t perm = 0644,
                                 uint32_t uid = 0, uint32_t gid = 0) {
    auto [dir, name] = Parent(path);
    auto f = NewInode(S_IFREG | perm, uid, gid);
    f->data = data;
    dir->children[name] = f;
    return f;
  }
  std::shared_ptr<MemInode> Symlink(const std::string& path,
                                    const std::string& target) {
    auto [dir, name] = Parent(path);
    auto l = NewInode(S_IFLNK | 0777);
    l->target = target;
    dir->children[name] = l;
    return l;
  }

  std::shared_ptr<MemInode> root;
  std::shared_ptr<MemCounters> counters;

 private:
  static std::vector<std::string> Split(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      if (j > i) out.push_back(path.substr(i, j - i));
      i = j + 1;
    }
    return out;
  }
  std::pair<std::shared_ptr<MemInode>, std::string> Parent(
      const std::string& path) {
    std::vector<std::string> parts = Split(path);
    std::string name = parts.back();
    parts.pop_back();
    std::string dir;
    for (const std::string& p : parts) dir += p + "/";
    return {Dir(dir), name};
  }

  uint64_t next_ino = 1;
};

}  // namespace sentry::vfs::testing

#endif  // CVISOR_SENTRY_VFS_TEST_FS_H_
