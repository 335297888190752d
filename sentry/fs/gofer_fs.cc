#include "sentry/fs/gofer_fs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
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
class GoferInode;

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

  // Live inodes by host identity. Several inodes (fids) may name one file
  // (hard links, a file walked twice): a change reported by the gofer
  // (a link count after unlink, attributes after setattr) reaches all.
  void Register(GoferInode* inode, const struct stat& st) {
    std::lock_guard<std::mutex> lock(registry_mu_);
    registry_[{st.st_dev, st.st_ino}].push_back(inode);
  }
  void Unregister(GoferInode* inode, const struct stat& st) {
    std::lock_guard<std::mutex> lock(registry_mu_);
    auto it = registry_.find({st.st_dev, st.st_ino});
    if (it == registry_.end()) return;
    std::erase(it->second, inode);
    if (it->second.empty()) registry_.erase(it);
  }
  // Gives `st` to every live inode of that file.
  void UpdateStat(const struct stat& st);
  // Drops the cached attributes of every live inode of that file but
  // `except`.
  void InvalidateStat(const struct stat& st, const GoferInode* except);

  const std::shared_ptr<gofer::Client> client;

 private:
  std::mutex mu_;
  std::vector<uint64_t> pending_;  // guarded by mu_
  // Lock order: registry_mu_, then an inode's mu_. An inode unregisters in
  // its destructor under registry_mu_, so an entry found here is alive.
  std::mutex registry_mu_;
  std::map<std::pair<uint64_t, uint64_t>, std::vector<GoferInode*>>
      registry_;  // guarded by registry_mu_
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
        identity_(info.stat),
        stat_(info.stat) {
    conn_->Register(this, identity_);
  }
  ~GoferInode() override {
    conn_->Unregister(this, identity_);
    conn_->Release(fid_);
  }

  static std::shared_ptr<GoferInode> Make(
      const std::shared_ptr<GoferConnection>& conn,
      const gofer::InodeInfo& info) {
    return std::make_shared<GoferInode>(conn, info);
  }

  uint64_t fid() const { return fid_; }
  const GoferConnection* connection() const { return conn_.get(); }

  absl::StatusOr<struct stat> Stat() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stat_valid_) return stat_;
      // Writes went through a host fd: that fd knows the size and times
      // without a gofer round trip.
      if (!host_fds_.empty()) {
        struct stat st;
        if (fstat(host_fds_.front().fd, &st) == 0) {
          stat_ = st;
          stat_valid_ = true;
          return st;
        }
      }
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
  void InvalidateStat() {
    std::lock_guard<std::mutex> lock(mu_);
    stat_valid_ = false;
  }
  // The size and times changed under a write through a donated fd: this
  // inode's next Stat asks that fd, and other inodes of a hard-linked file
  // forget what they cached.
  void NoteWrite() {
    bool linked;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stat_valid_ = false;
      linked = stat_.st_nlink > 1;
    }
    if (linked) conn_->InvalidateStat(identity_, this);
  }

  // Host fds of open descriptions of this file (GoferFile registers its
  // own for as long as it lives): Stat and truncation use them directly,
  // which also works once the file has no name left.
  void AddHostFd(int fd, bool writable) {
    std::lock_guard<std::mutex> lock(mu_);
    host_fds_.push_back({fd, writable});
  }
  void RemoveHostFd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(host_fds_, [fd](const HostFd& h) { return h.fd == fd; });
  }

  // The fd Create opened along with the file, for the Open that follows.
  void SetCreatedFd(cv::UniqueFd fd) {
    std::lock_guard<std::mutex> lock(mu_);
    created_fd_ = std::move(fd);
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
    return vfs::InodeRef(Make(conn_, r.inodes[0]));
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
      out.inodes.push_back(Make(conn_, info));
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

  absl::StatusOr<vfs::InodeRef> Create(const std::string& name,
                                       const vfs::NewFileSpec& spec) override {
    // Created and opened in one step, read-write: open(O_CREAT, 0444) must
    // give the creator the access it asked for, which a second open by
    // name could not (and the name could change in between). The fd waits
    // on the new inode for the Open the VFS makes next.
    ASSIGN_OR_RETURN(gofer::CreateResult r,
                     conn_->client->Create(fid_, name, spec.mode & 07777,
                                           spec.uid, spec.gid, O_RDWR));
    SetStat(r.dir);
    std::shared_ptr<GoferInode> inode = Make(conn_, r.inode);
    inode->SetCreatedFd(std::move(r.fd));
    return vfs::InodeRef(std::move(inode));
  }

  absl::StatusOr<vfs::InodeRef> Mkdir(const std::string& name,
                                      const vfs::NewFileSpec& spec) override {
    ASSIGN_OR_RETURN(gofer::MakeResult r,
                     conn_->client->Mkdir(fid_, name, spec.mode & 07777,
                                          spec.uid, spec.gid));
    return Made(r);
  }

  absl::StatusOr<vfs::InodeRef> Mknod(const std::string& name,
                                      const vfs::NewFileSpec& spec) override {
    ASSIGN_OR_RETURN(
        gofer::MakeResult r,
        conn_->client->Mknod(fid_, name, spec.mode, spec.uid, spec.gid));
    return Made(r);
  }

  absl::StatusOr<vfs::InodeRef> Symlink(const std::string& name,
                                        const std::string& target,
                                        const vfs::NewFileSpec& spec) override {
    ASSIGN_OR_RETURN(
        gofer::MakeResult r,
        conn_->client->Symlink(fid_, name, target, spec.uid, spec.gid));
    return Made(r);
  }

  absl::Status Link(const std::string& name,
                    const std::shared_ptr<vfs::Inode>& target) override {
    auto* t = dynamic_cast<GoferInode*>(target.get());
    if (t == nullptr || t->conn_ != conn_) return cv::ErrnoStatus(EXDEV);
    ASSIGN_OR_RETURN(gofer::LinkResult r,
                     conn_->client->Link(t->fid_, fid_, name));
    SetStat(r.dir);
    conn_->UpdateStat(r.target);
    return absl::OkStatus();
  }

  absl::Status Unlink(const std::string& name) override {
    return Remove(name, 0);
  }
  absl::Status Rmdir(const std::string& name) override {
    return Remove(name, AT_REMOVEDIR);
  }

  absl::Status Rename(const std::string& name, vfs::Inode& new_dir,
                      const std::string& new_name, unsigned flags) override {
    auto* to = dynamic_cast<GoferInode*>(&new_dir);
    if (to == nullptr || to->conn_ != conn_) return cv::ErrnoStatus(EXDEV);
    ASSIGN_OR_RETURN(
        gofer::RenameResult r,
        conn_->client->Rename(fid_, name, to->fid_, new_name, flags));
    SetStat(r.old_dir);
    to->SetStat(r.new_dir);
    if (r.moved) conn_->UpdateStat(*r.moved);
    if (r.replaced) conn_->UpdateStat(*r.replaced);
    return absl::OkStatus();
  }

  absl::Status SetAttr(const vfs::SetAttrRequest& req) override;

  absl::StatusOr<struct statfs> StatFs() override {
    return conn_->client->StatFs(fid_);
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
  struct HostFd {
    int fd;
    bool writable;
  };

  absl::StatusOr<vfs::InodeRef> Made(const gofer::MakeResult& r) {
    SetStat(r.dir);
    return vfs::InodeRef(Make(conn_, r.inode));
  }

  absl::Status Remove(const std::string& name, int flags) {
    ASSIGN_OR_RETURN(gofer::UnlinkResult r,
                     conn_->client->Unlink(fid_, name, flags));
    SetStat(r.dir);
    // Open files and other names of the victim see its new link count
    // (0 for a removed directory, which the VFS then treats as dead).
    if (r.victim) conn_->UpdateStat(*r.victim);
    return absl::OkStatus();
  }

  const std::shared_ptr<GoferConnection> conn_;
  const uint64_t fid_;
  const struct stat identity_;  // dev and ino at walk time, for the registry
  std::mutex mu_;
  struct stat stat_;                   // guarded by mu_
  bool stat_valid_ = true;             // guarded by mu_
  std::optional<std::string> target_;  // guarded by mu_
  std::vector<HostFd> host_fds_;       // guarded by mu_
  cv::UniqueFd created_fd_;            // guarded by mu_
  cv::UniqueFd ro_fd_;  // plain read-only opens dup this; guarded by mu_
};

void GoferConnection::UpdateStat(const struct stat& st) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find({st.st_dev, st.st_ino});
  if (it == registry_.end()) return;
  for (GoferInode* inode : it->second) inode->SetStat(st);
}

void GoferConnection::InvalidateStat(const struct stat& st,
                                     const GoferInode* except) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find({st.st_dev, st.st_ino});
  if (it == registry_.end()) return;
  for (GoferInode* inode : it->second) {
    if (inode != except) inode->InvalidateStat();
  }
}

// A regular file opened through the gofer: data moves through the donated
// host fd with pread/pwrite at the description's own offset.
class GoferFile final : public vfs::FileDescription {
 public:
  // `shared_fd`: fd is a dup of the inode's cached read-only fd, so its
  // host status flags are shared with other descriptions.
  GoferFile(const vfs::Path& path, int flags, cv::UniqueFd fd,
            std::shared_ptr<GoferInode> inode, bool shared_fd)
      : FileDescription(path, flags),
        fd_(std::move(fd)),
        inode_(std::move(inode)),
        shared_fd_(shared_fd) {
    inode_->AddHostFd(fd_.get(), writable());
  }
  ~GoferFile() override { inode_->RemoveHostFd(fd_.get()); }

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
    inode_->NoteWrite();
    return n;
  }

  int64_t PWrite(vfs::IoSequence& src, int64_t offset) override {
    // With O_APPEND the host appends whatever the offset, as Linux does.
    int64_t n = HostWrite(fd_.get(), src, offset);
    inode_->NoteWrite();
    return n;
  }

  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t target = HostSeekTarget(fd_.get(), offset_, offset, whence);
    if (target >= 0) offset_ = target;
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
    // A shared read-only fd keeps its flags: O_NONBLOCK and O_APPEND mean
    // nothing for reads of a regular file, O_NOATIME only spares the host
    // an atime update, and O_DIRECT reads return the same bytes buffered.
    if (shared_fd_) return 0;
    int host = fcntl(fd_.get(), F_GETFL);
    if (host < 0) return -errno;
    host = (host & ~kHostStatusFlags) | (new_flags & kHostStatusFlags);
    return fcntl(fd_.get(), F_SETFL, host) != 0 ? -errno : 0;
  }

 private:
  const cv::UniqueFd fd_;
  const std::shared_ptr<GoferInode> inode_;
  const bool shared_fd_;
};

absl::StatusOr<vfs::FileRef> GoferInode::Open(const vfs::Path& path,
                                              int flags) {
  if (IsDir()) return vfs::NewDirectoryFile(path, flags);
  cv::UniqueFd fd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fd = std::move(created_fd_);
  }
  // The fd Create made is read-write (the description's own flags decide
  // what may be done with it); its status flags are set to the open's.
  // O_SYNC and O_DSYNC cannot be set after the fact: such an open asks
  // the gofer like any other.
  if (fd.valid() && !(flags & (O_SYNC | O_DSYNC))) {
    int host = fcntl(fd.get(), F_GETFL);
    if (host < 0 ||
        fcntl(fd.get(), F_SETFL,
              (host & ~kHostStatusFlags) | (flags & kHostStatusFlags)) != 0) {
      fd.reset();
    }
  } else {
    fd.reset();
  }
  // Plain read-only opens of a regular file share one host fd per inode,
  // each description getting a dup of it: reads are preads at the
  // description's own offset, so only the gofer round trip is saved, which
  // is most of an open's cost. Programs open the same libraries and
  // configuration files over and over.
  const bool plain_read = IsRegular() && (flags & kGoferOpenFlags) == O_RDONLY;
  bool shared = false;
  if (!fd.valid() && plain_read) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ro_fd_.valid()) {
      fd = cv::UniqueFd(fcntl(ro_fd_.get(), F_DUPFD_CLOEXEC, 0));
      shared = fd.valid();
    }
  }
  if (!fd.valid()) {
    // Anything but a regular file (a FIFO, socket or device in the image)
    // is refused by the gofer with the errno a nodev mount would give.
    ASSIGN_OR_RETURN(fd, conn_->client->Open(fid_, flags & kGoferOpenFlags));
    if (plain_read) {
      cv::UniqueFd keep(fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
      std::lock_guard<std::mutex> lock(mu_);
      if (keep.valid() && !ro_fd_.valid()) {
        ro_fd_ = std::move(keep);
        shared = true;
      }
    }
  }
  if (flags & O_TRUNC) {
    // The gofer truncated it: the new size and times, from the file.
    struct stat st;
    if (fstat(fd.get(), &st) == 0) {
      conn_->UpdateStat(st);
    } else {
      InvalidateStat();
    }
  }
  auto self = std::static_pointer_cast<GoferInode>(path.dentry->inode());
  return vfs::FileRef(std::make_shared<GoferFile>(path, flags, std::move(fd),
                                                  std::move(self), shared));
}

absl::Status GoferInode::SetAttr(const vfs::SetAttrRequest& req) {
  using R = vfs::SetAttrRequest;
  gofer::SetAttrArgs args;
  args.mask = req.mask;
  args.mode = req.mode & 07777;
  args.uid = req.uid;
  args.gid = req.gid;
  args.size = req.size;
  args.atime = req.atime;
  args.mtime = req.mtime;
  static_assert(unsigned{R::kMode} == unsigned{gofer::SetAttrArgs::kMode} &&
                unsigned{R::kUid} == unsigned{gofer::SetAttrArgs::kUid} &&
                unsigned{R::kGid} == unsigned{gofer::SetAttrArgs::kGid} &&
                unsigned{R::kSize} == unsigned{gofer::SetAttrArgs::kSize} &&
                unsigned{R::kAtime} == unsigned{gofer::SetAttrArgs::kAtime} &&
                unsigned{R::kMtime} == unsigned{gofer::SetAttrArgs::kMtime} &&
                unsigned{R::kKillSuid} ==
                    unsigned{gofer::SetAttrArgs::kKillSuid});
  if ((args.mask & R::kSize) && IsRegular()) {
    // ftruncate(2) of an open file must work after the file lost its name
    // (the gofer truncates by reopening the name): use a writable host fd
    // of this file when there is one.
    std::lock_guard<std::mutex> lock(mu_);
    for (const HostFd& h : host_fds_) {
      if (!h.writable) continue;
      if (req.size > static_cast<uint64_t>(INT64_MAX)) {
        return cv::ErrnoStatus(EINVAL);
      }
      if (ftruncate(h.fd, static_cast<off_t>(req.size)) != 0) {
        return cv::ErrnoStatus(errno, "ftruncate");
      }
      args.mask &= ~R::kSize;
      stat_valid_ = false;
      break;
    }
  }
  if (args.mask == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(struct stat st, conn_->client->SetAttr(fid_, args));
  SetStat(st);
  conn_->UpdateStat(st);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GoferMount> NewGoferFileSystem(
    std::shared_ptr<gofer::Client> client, uint32_t mount_index) {
  auto conn = std::make_shared<GoferConnection>(std::move(client));
  ASSIGN_OR_RETURN(gofer::InodeInfo root, conn->client->Attach(mount_index));
  GoferMount m;
  m.root = vfs::Dentry::NewRoot(GoferInode::Make(conn, root));
  m.fs = std::make_shared<GoferFileSystem>(std::move(conn));
  return m;
}

absl::StatusOr<GoferMount> NewGoferFileSystem(
    std::shared_ptr<gofer::Client> client) {
  return NewGoferFileSystem(std::move(client), 0);
}

absl::StatusOr<std::shared_ptr<vfs::FsContext>> MountGoferRoot(
    std::shared_ptr<gofer::Client> client, bool readonly) {
  ASSIGN_OR_RETURN(GoferMount m, NewGoferFileSystem(std::move(client), 0));
  if (!m.root->IsDir()) {
    return cv::ErrnoStatus(ENOTDIR, "gofer attach: root is not a directory");
  }
  auto ns = vfs::MountNamespace::New(std::move(m.fs), std::move(m.root),
                                     readonly ? MS_RDONLY : 0);
  return vfs::FsContext::New(std::move(ns));
}

}  // namespace sentry::fs
