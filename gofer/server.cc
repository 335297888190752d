// gofer::Serve: the request loop and the fid table. Every file is held as an
// O_PATH fd obtained by walking one component at a time with O_NOFOLLOW, so
// no request can make the gofer resolve a path, follow a symlink or step
// above the root it was given.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>  // RENAME_*
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "gofer/gofer.h"
#include "gofer/pseudo_fs.h"
#include "gofer/wire.h"
#include "proto/gofer.pb.h"

namespace gofer {
namespace {

namespace pb = ::cvisor::gofer;

// One host file reachable from the root. The O_PATH fd pins the inode; the
// parent and name are kept because reopening a non-directory with real
// access needs them (an O_PATH fd can only be "reopened" through
// /proc/self/fd, and there is no /proc after pivot_root).
struct HostFile {
  cv::UniqueFd fd;                   // O_PATH | O_NOFOLLOW
  std::shared_ptr<HostFile> parent;  // null for the root
  std::string name;                  // name in parent at walk time
  mode_t type = 0;                   // S_IFMT bits; an inode's type is fixed
  dev_t dev = 0;
  ino_t ino = 0;
  uint32_t mount = 0;     // the attach point it was reached from
  bool readonly = false;  // that attach point refuses changes
  cv::UniqueFd dir;  // O_RDONLY directory fd for getdents, opened on demand

  HostFile() = default;
  HostFile(const HostFile&) = delete;
  HostFile& operator=(const HostFile&) = delete;
  // Releases a chain of otherwise unreferenced ancestors iteratively: a deep
  // directory tree must not turn into deep recursion here.
  ~HostFile() {
    std::shared_ptr<HostFile> p = std::move(parent);
    while (p && p.use_count() == 1) {
      std::shared_ptr<HostFile> next = std::move(p->parent);
      p = std::move(next);
    }
  }
};

void FillStat(const struct stat& st, pb::Stat* out) {
  out->set_dev(st.st_dev);
  out->set_ino(st.st_ino);
  out->set_mode(st.st_mode);
  out->set_nlink(st.st_nlink);
  out->set_uid(st.st_uid);
  out->set_gid(st.st_gid);
  out->set_rdev(st.st_rdev);
  out->set_size(st.st_size);
  out->set_blksize(st.st_blksize);
  out->set_blocks(st.st_blocks);
  out->set_atime_sec(st.st_atim.tv_sec);
  out->set_atime_nsec(st.st_atim.tv_nsec);
  out->set_mtime_sec(st.st_mtim.tv_sec);
  out->set_mtime_nsec(st.st_mtim.tv_nsec);
  out->set_ctime_sec(st.st_ctim.tv_sec);
  out->set_ctime_nsec(st.st_ctim.tv_nsec);
}

// A single path component the sentry may ask for. NUL would silently
// shorten the name seen by openat.
bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= NAME_MAX && name != "." &&
         name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// Bytes a length-delimited field of `size` bytes takes inside its parent
// (one-byte tag, varint length, payload).
size_t FieldCost(size_t size) {
  size_t varint = 1;
  for (size_t v = size; v >= 0x80; v >>= 7) ++varint;
  return 1 + varint + size;
}

// True when fd (the root of a mount just walked into) is on a kernel pseudo
// file system, or when that cannot be told.
bool CrossesIntoPseudoFs(int fd) {
  struct statfs sfs;
  if (fstatfs(fd, &sfs) != 0) return true;
  return IsPseudoFsMagic(sfs.f_type);
}

// open(2) flags the sentry may pass. Flags that only matter to the fd table
// or path lookup are accepted and dropped; O_NOFOLLOW is always applied.
constexpr int kPassedOpenFlags = O_ACCMODE | O_TRUNC | O_APPEND | O_DIRECTORY |
                                 O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT |
                                 O_NOATIME;
constexpr int kIgnoredOpenFlags =
    O_CLOEXEC | O_LARGEFILE | O_NOCTTY | O_NOFOLLOW;

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // Linux 6.6; older headers lack it
#endif

// chmod of whatever `fd` (an O_PATH fd included) refers to. fchmodat2 with
// AT_EMPTY_PATH is the one call that takes an O_PATH fd without a path to
// re-resolve; on a symlink it fails with EOPNOTSUPP, as Linux's lchmod.
int ChmodFd(int fd, mode_t mode) {
  return static_cast<int>(syscall(SYS_fchmodat2, fd, "", mode & 07777,
                                  AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
}
int ChownFd(int fd, uint32_t uid, uint32_t gid) {
  return fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}
int StatFd(int fd, struct stat* st) {
  return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}
bool SameInode(const HostFile& a, const HostFile& b) {
  return a.dev == b.dev && a.ino == b.ino;
}

class FileServer final {
 public:
  explicit FileServer(std::vector<std::shared_ptr<HostFile>> roots)
      : roots_(std::move(roots)) {}

  // Serves one request. `donate` receives the fd to send with the reply.
  pb::Response Handle(const pb::Request& req, cv::UniqueFd* donate) {
    pb::Response resp;
    absl::Status s;
    switch (req.msg_case()) {
      case pb::Request::kAttach:
        s = Attach(req.attach(), resp.mutable_attach());
        break;
      case pb::Request::kWalk:
        s = Walk(req.walk(), resp.mutable_walk());
        break;
      case pb::Request::kStat:
        s = Stat(req.stat(), resp.mutable_stat());
        break;
      case pb::Request::kOpen:
        s = Open(req.open(), donate);
        resp.mutable_open();
        break;
      case pb::Request::kReaddir:
        s = ReadDir(req.readdir(), resp.mutable_readdir());
        break;
      case pb::Request::kReadlink:
        s = Readlink(req.readlink(), resp.mutable_readlink());
        break;
      case pb::Request::kClose:
        s = Close(req.close());
        resp.mutable_close();
        break;
      case pb::Request::kCreate:
        s = Create(req.create(), resp.mutable_create(), donate);
        break;
      case pb::Request::kMkdir:
        s = Mkdir(req.mkdir(), resp.mutable_mkdir());
        break;
      case pb::Request::kMknod:
        s = Mknod(req.mknod(), resp.mutable_mknod());
        break;
      case pb::Request::kSymlink:
        s = Symlink(req.symlink(), resp.mutable_symlink());
        break;
      case pb::Request::kLink:
        s = Link(req.link(), resp.mutable_link());
        break;
      case pb::Request::kUnlink:
        s = Unlink(req.unlink(), resp.mutable_unlink());
        break;
      case pb::Request::kRename:
        s = Rename(req.rename(), resp.mutable_rename());
        break;
      case pb::Request::kSetattr:
        s = SetAttr(req.setattr(), resp.mutable_setattr());
        break;
      case pb::Request::kStatfs:
        s = StatFs(req.statfs(), resp.mutable_statfs());
        break;
      case pb::Request::MSG_NOT_SET:
        s = cv::ErrnoStatus(EINVAL, "request names no operation");
        break;
    }
    if (!s.ok()) {
      donate->reset();
      return ErrorResponse(s);
    }
    return resp;
  }

  static pb::Response ErrorResponse(const absl::Status& s) {
    pb::Response resp;
    int err = cv::StatusToErrno(s);
    resp.set_errnum(err > 0 ? err : EIO);
    resp.set_error(std::string(s.message()));
    return resp;
  }

 private:
  absl::StatusOr<std::shared_ptr<HostFile>> Lookup(uint64_t fid) const {
    auto it = fids_.find(fid);
    if (it == fids_.end()) {
      return cv::ErrnoStatus(EBADF, absl::StrCat("fid ", fid));
    }
    return it->second;
  }

  uint64_t NewFid(std::shared_ptr<HostFile> file) {
    uint64_t fid = next_fid_++;
    fids_.emplace(fid, std::move(file));
    return fid;
  }

  absl::Status Attach(const pb::AttachRequest& req, pb::AttachResponse* out) {
    if (req.mount() >= roots_.size()) {
      return cv::ErrnoStatus(ENOENT,
                             absl::StrCat("attach: no mount ", req.mount()));
    }
    const std::shared_ptr<HostFile>& root = roots_[req.mount()];
    struct stat st;
    if (StatFd(root->fd.get(), &st) != 0) {
      return cv::ErrnoStatus(errno, "stat of the root");
    }
    out->mutable_root()->set_fid(NewFid(root));
    FillStat(st, out->mutable_root()->mutable_stat());
    return absl::OkStatus();
  }

  absl::Status Walk(const pb::WalkRequest& req, pb::WalkResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> cur, Lookup(req.fid()));
    if (static_cast<size_t>(req.names_size()) > wire::kMaxWalkNames) {
      return cv::ErrnoStatus(
          EINVAL, absl::StrCat("walk of ", req.names_size(), " names (max ",
                               wire::kMaxWalkNames, ")"));
    }
    for (const std::string& name : req.names()) {
      if (!ValidName(name)) {
        return cv::ErrnoStatus(EINVAL, "walk: invalid name component");
      }
    }
    if (req.names_size() > 0 && !S_ISDIR(cur->type)) {
      out->set_stop_errno(ENOTDIR);
      return absl::OkStatus();
    }
    for (int i = 0; i < req.names_size(); ++i) {
      if (i > 0 && !S_ISDIR(cur->type)) {
        // The sentry resolves symlinks itself; anything else cannot hold
        // names.
        if (!S_ISLNK(cur->type)) out->set_stop_errno(ENOTDIR);
        break;
      }
      const std::string& name = req.names(i);
      cv::UniqueFd fd(
          openat(cur->fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) {
        out->set_stop_errno(errno);
        break;
      }
      struct stat st;
      if (fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) !=
          0) {
        out->set_stop_errno(errno);
        break;
      }
      if (st.st_dev != cur->dev && CrossesIntoPseudoFs(fd.get())) {
        // RunGofer detaches these mounts; this catches any it missed.
        out->set_stop_errno(EACCES);
        break;
      }
      auto file = std::make_shared<HostFile>();
      file->fd = std::move(fd);
      file->parent = cur;
      file->name = name;
      file->type = st.st_mode & S_IFMT;
      file->dev = st.st_dev;
      file->ino = st.st_ino;
      file->mount = cur->mount;
      file->readonly = cur->readonly;
      pb::Inode* inode = out->add_inodes();
      inode->set_fid(NewFid(file));
      FillStat(st, inode->mutable_stat());
      cur = std::move(file);
    }
    return absl::OkStatus();
  }

  absl::Status Stat(const pb::StatRequest& req, pb::StatResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> file, Lookup(req.fid()));
    struct stat st;
    if (fstatat(file->fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) !=
        0) {
      return cv::ErrnoStatus(errno, "stat");
    }
    FillStat(st, out->mutable_stat());
    return absl::OkStatus();
  }

  absl::Status Open(const pb::OpenRequest& req, cv::UniqueFd* donate) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> file, Lookup(req.fid()));
    const int requested = static_cast<int>(req.flags());
    if (requested & ~(kPassedOpenFlags | kIgnoredOpenFlags)) {
      // O_CREAT, O_EXCL, O_TMPFILE, O_PATH and unknown bits.
      return cv::ErrnoStatus(
          EINVAL, absl::StrCat("open flags 0x", absl::Hex(req.flags())));
    }
    const int flags = requested & kPassedOpenFlags;
    const int acc = flags & O_ACCMODE;
    if (acc == O_ACCMODE) return cv::ErrnoStatus(EINVAL, "open access mode");
    const bool write = acc != O_RDONLY;
    // The order of checks follows Linux's do_open/may_open.
    if ((flags & O_DIRECTORY) && !S_ISDIR(file->type)) {
      return cv::ErrnoStatus(ENOTDIR, "open");
    }
    if (S_ISLNK(file->type)) return cv::ErrnoStatus(ELOOP, "open of a symlink");
    if (S_ISDIR(file->type) && (write || (flags & O_TRUNC))) {
      return cv::ErrnoStatus(EISDIR, "open of a directory for writing");
    }
    if (file->readonly &&
        (write || (S_ISREG(file->type) && (flags & O_TRUNC)))) {
      return cv::ErrnoStatus(EROFS, "open for writing");
    }
    if (S_ISSOCK(file->type)) return cv::ErrnoStatus(ENXIO, "open of a socket");
    if (!S_ISREG(file->type) && !S_ISDIR(file->type)) {
      // Devices and FIFOs are the sentry's business (its devfs and pipes);
      // a host device is never handed to the sandbox.
      return cv::ErrnoStatus(EACCES, "open of a device or FIFO");
    }

    if (S_ISDIR(file->type)) {
      // A directory reopens race-free through its own O_PATH fd.
      cv::UniqueFd fd(openat(file->fd.get(), ".",
                             flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
      if (!fd.valid()) return cv::ErrnoStatus(errno, "open of a directory");
      *donate = std::move(fd);
      return absl::OkStatus();
    }

    if (file->parent == nullptr) return cv::ErrnoStatus(EIO, "open: no parent");
    // O_NONBLOCK so that a FIFO swapped in under the name since the walk
    // cannot block the gofer; O_TRUNC waits until the inode is confirmed.
    ASSIGN_OR_RETURN(cv::UniqueFd fd, ReopenVerified(*file, flags & ~O_TRUNC));
    if (flags & O_TRUNC) {
      if (acc == O_RDONLY) {
        // Linux truncates on O_RDONLY|O_TRUNC too (with write permission),
        // which the read-only fd cannot do.
        ASSIGN_OR_RETURN(cv::UniqueFd wfd, ReopenVerified(*file, O_WRONLY));
        if (ftruncate(wfd.get(), 0) != 0) {
          return cv::ErrnoStatus(errno, "open: truncate");
        }
      } else if (ftruncate(fd.get(), 0) != 0) {
        return cv::ErrnoStatus(errno, "open: truncate");
      }
    }
    if (!(flags & O_NONBLOCK)) {
      int fl = fcntl(fd.get(), F_GETFL);
      if (fl < 0 || fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
        return cv::ErrnoStatus(errno, "open: fcntl");
      }
    }
    *donate = std::move(fd);
    return absl::OkStatus();
  }

  // Opens parent/name again with real access and checks that it is still
  // the inode the fid was walked to (the name may have been replaced on the
  // host since).
  absl::StatusOr<cv::UniqueFd> ReopenVerified(const HostFile& file, int flags) {
    cv::UniqueFd fd(
        openat(file.parent->fd.get(), file.name.c_str(),
               flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) return cv::ErrnoStatus(errno, "open");
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return cv::ErrnoStatus(errno, "open: stat");
    if (st.st_dev != file.dev || st.st_ino != file.ino) {
      return cv::ErrnoStatus(ESTALE, "open: file replaced since walk");
    }
    return fd;
  }

  absl::Status ReadDir(const pb::ReadDirRequest& req,
                       pb::ReadDirResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> file, Lookup(req.fid()));
    if (!S_ISDIR(file->type)) return cv::ErrnoStatus(ENOTDIR, "readdir");
    if (!file->dir.valid()) {
      cv::UniqueFd dir(openat(file->fd.get(), ".",
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir.valid()) return cv::ErrnoStatus(errno, "readdir: open");
      file->dir = std::move(dir);
    }
    // Offsets are the file system's own d_off cookies (hashes on ext4), so
    // resuming is an lseek to the cookie of the last entry returned.
    if (lseek(file->dir.get(), static_cast<off_t>(req.offset()), SEEK_SET) <
        0) {
      return cv::ErrnoStatus(errno, "readdir: seek");
    }
    // Room for the reply's own fields around the entries.
    constexpr size_t kBudget = wire::kMaxMessageSize - 64;
    size_t used = 0;
    alignas(8) char buf[16 * 1024];
    for (;;) {
      ssize_t n = getdents64(file->dir.get(), buf, sizeof buf);
      if (n < 0) {
        if (out->entries_size() > 0) break;  // return what was read
        return cv::ErrnoStatus(errno, "readdir: getdents64");
      }
      if (n == 0) {
        out->set_eof(true);
        break;
      }
      for (ssize_t pos = 0; pos < n;) {
        const size_t kHeader = offsetof(struct dirent64, d_name);
        struct dirent64 hdr;
        memcpy(&hdr, buf + pos, kHeader);
        if (hdr.d_reclen < kHeader || pos + hdr.d_reclen > n) {
          return cv::ErrnoStatus(EIO, "readdir: malformed getdents64 record");
        }
        const char* name = buf + pos + kHeader;
        pb::Dirent ent;
        ent.set_name(name, strnlen(name, hdr.d_reclen - kHeader));
        ent.set_ino(hdr.d_ino);
        ent.set_type(hdr.d_type);
        ent.set_next_offset(static_cast<uint64_t>(hdr.d_off));
        size_t cost = FieldCost(ent.ByteSizeLong());
        if ((req.count() != 0 &&
             static_cast<uint32_t>(out->entries_size()) >= req.count()) ||
            used + cost > kBudget) {
          return absl::OkStatus();
        }
        used += cost;
        *out->add_entries() = std::move(ent);
        pos += hdr.d_reclen;
      }
      if (req.count() != 0 &&
          static_cast<uint32_t>(out->entries_size()) >= req.count()) {
        break;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Readlink(const pb::ReadlinkRequest& req,
                        pb::ReadlinkResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> file, Lookup(req.fid()));
    if (!S_ISLNK(file->type)) return cv::ErrnoStatus(EINVAL, "readlink");
    char buf[PATH_MAX + 1];
    ssize_t n = readlinkat(file->fd.get(), "", buf, sizeof buf);
    if (n < 0) return cv::ErrnoStatus(errno, "readlink");
    if (static_cast<size_t>(n) > PATH_MAX) {
      return cv::ErrnoStatus(ENAMETOOLONG, "readlink");
    }
    out->set_target(buf, n);
    return absl::OkStatus();
  }

  // --- Mutations -----------------------------------------------------------

  absl::StatusOr<std::shared_ptr<HostFile>> LookupWritableDir(uint64_t fid,
                                                              const char* op) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> dir, Lookup(fid));
    if (!S_ISDIR(dir->type)) return cv::ErrnoStatus(ENOTDIR, op);
    if (dir->readonly) return cv::ErrnoStatus(EROFS, op);
    return dir;
  }

  static absl::Status CheckName(const std::string& name, const char* op) {
    if (!ValidName(name)) {
      return cv::ErrnoStatus(EINVAL, absl::StrCat(op, ": invalid name"));
    }
    return absl::OkStatus();
  }

  // A fid for `name` in `dir`, just made by this process: an O_PATH fd of
  // it, checked against `expect` (the inode made) when given.
  absl::StatusOr<std::shared_ptr<HostFile>> Adopt(
      const std::shared_ptr<HostFile>& dir, const std::string& name,
      struct stat* st, const struct stat* expect) {
    cv::UniqueFd fd(
        openat(dir->fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return cv::ErrnoStatus(errno, "open of the new file");
    if (StatFd(fd.get(), st) != 0) {
      return cv::ErrnoStatus(errno, "stat of the new file");
    }
    if (expect != nullptr &&
        (st->st_dev != expect->st_dev || st->st_ino != expect->st_ino)) {
      return cv::ErrnoStatus(ESTALE, "new file replaced");
    }
    auto file = std::make_shared<HostFile>();
    file->fd = std::move(fd);
    file->parent = dir;
    file->name = name;
    file->type = st->st_mode & S_IFMT;
    file->dev = st->st_dev;
    file->ino = st->st_ino;
    file->mount = dir->mount;
    file->readonly = dir->readonly;
    return file;
  }

  // Gives a file just made to its owner with its exact mode (the process
  // umask is not ours to change: tests share it), and hands out a fid. On
  // failure the file is removed again, so a refused request leaves nothing.
  absl::Status Finish(const std::shared_ptr<HostFile>& dir,
                      const std::string& name, bool is_dir, mode_t mode,
                      uint32_t uid, uint32_t gid, const struct stat* expect,
                      pb::Inode* out_inode, pb::Stat* out_dir) {
    struct stat st;
    absl::Status s = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(std::shared_ptr<HostFile> file,
                       Adopt(dir, name, &st, expect));
      if (ChownFd(file->fd.get(), uid, gid) != 0) {
        return cv::ErrnoStatus(errno, "chown of the new file");
      }
      // After the chown, which clears set-ID bits on non-directories.
      if (!S_ISLNK(file->type) && ChmodFd(file->fd.get(), mode) != 0) {
        return cv::ErrnoStatus(errno, "chmod of the new file");
      }
      if (StatFd(file->fd.get(), &st) != 0) {
        return cv::ErrnoStatus(errno, "stat of the new file");
      }
      out_inode->set_fid(NewFid(std::move(file)));
      return absl::OkStatus();
    }();
    if (!s.ok()) {
      unlinkat(dir->fd.get(), name.c_str(), is_dir ? AT_REMOVEDIR : 0);
      return s;
    }
    FillStat(st, out_inode->mutable_stat());
    return DirStat(*dir, out_dir);
  }

  static absl::Status DirStat(const HostFile& dir, pb::Stat* out) {
    struct stat st;
    if (StatFd(dir.fd.get(), &st) != 0) {
      return cv::ErrnoStatus(errno, "stat of the directory");
    }
    FillStat(st, out);
    return absl::OkStatus();
  }

  absl::Status Create(const pb::CreateRequest& req, pb::CreateResponse* out,
                      cv::UniqueFd* donate) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> dir,
                     LookupWritableDir(req.dir(), "create"));
    RETURN_IF_ERROR(CheckName(req.name(), "create"));
    const int requested = static_cast<int>(req.flags());
    if ((requested & ~(kPassedOpenFlags | kIgnoredOpenFlags)) ||
        (requested & O_DIRECTORY) || (requested & O_ACCMODE) == O_ACCMODE) {
      return cv::ErrnoStatus(
          EINVAL, absl::StrCat("create flags 0x", absl::Hex(req.flags())));
    }
    const int flags = requested & kPassedOpenFlags & ~O_TRUNC;
    // O_EXCL: never follows a symlink planted under the name, and the
    // creator gets the access it asked for whatever the mode says.
    cv::UniqueFd fd(
        openat(dir->fd.get(), req.name().c_str(),
               flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
               req.mode() & 07777));
    if (!fd.valid()) return cv::ErrnoStatus(errno, "create");
    struct stat made;
    if (fstat(fd.get(), &made) != 0) {
      int err = errno;
      unlinkat(dir->fd.get(), req.name().c_str(), 0);
      return cv::ErrnoStatus(err, "create: stat");
    }
    RETURN_IF_ERROR(Finish(dir, req.name(), false, req.mode(), req.uid(),
                           req.gid(), &made, out->mutable_inode(),
                           out->mutable_dir()));
    *donate = std::move(fd);
    return absl::OkStatus();
  }

  absl::Status Mkdir(const pb::MkdirRequest& req, pb::MakeResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> dir,
                     LookupWritableDir(req.dir(), "mkdir"));
    RETURN_IF_ERROR(CheckName(req.name(), "mkdir"));
    if (mkdirat(dir->fd.get(), req.name().c_str(), req.mode() & 07777) != 0) {
      return cv::ErrnoStatus(errno, "mkdir");
    }
    return Finish(dir, req.name(), true, req.mode(), req.uid(), req.gid(),
                  nullptr, out->mutable_inode(), out->mutable_dir());
  }

  absl::Status Mknod(const pb::MknodRequest& req, pb::MakeResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> dir,
                     LookupWritableDir(req.dir(), "mknod"));
    RETURN_IF_ERROR(CheckName(req.name(), "mknod"));
    mode_t type = req.mode() & S_IFMT;
    switch (type) {
      case 0:
        type = S_IFREG;
        break;
      case S_IFREG:
      case S_IFIFO:
      case S_IFSOCK:
        break;
      case S_IFCHR:
      case S_IFBLK:
        return cv::ErrnoStatus(EPERM, "mknod of a device");
      case S_IFDIR:
        return cv::ErrnoStatus(EPERM, "mknod of a directory");
      default:
        return cv::ErrnoStatus(EINVAL, "mknod: unknown file type");
    }
    if (mknodat(dir->fd.get(), req.name().c_str(), type | (req.mode() & 07777),
                0) != 0) {
      return cv::ErrnoStatus(errno, "mknod");
    }
    return Finish(dir, req.name(), false, req.mode(), req.uid(), req.gid(),
                  nullptr, out->mutable_inode(), out->mutable_dir());
  }

  absl::Status Symlink(const pb::SymlinkRequest& req, pb::MakeResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> dir,
                     LookupWritableDir(req.dir(), "symlink"));
    RETURN_IF_ERROR(CheckName(req.name(), "symlink"));
    const std::string& target = req.target();
    if (target.empty()) return cv::ErrnoStatus(ENOENT, "symlink: empty target");
    if (target.find('\0') != std::string::npos) {
      return cv::ErrnoStatus(EINVAL, "symlink: NUL in target");
    }
    if (target.size() >= PATH_MAX) {
      return cv::ErrnoStatus(ENAMETOOLONG, "symlink: target");
    }
    if (symlinkat(target.c_str(), dir->fd.get(), req.name().c_str()) != 0) {
      return cv::ErrnoStatus(errno, "symlink");
    }
    return Finish(dir, req.name(), false, 0, req.uid(), req.gid(), nullptr,
                  out->mutable_inode(), out->mutable_dir());
  }

  absl::Status Link(const pb::LinkRequest& req, pb::LinkResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> target, Lookup(req.target()));
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> dir,
                     LookupWritableDir(req.dir(), "link"));
    RETURN_IF_ERROR(CheckName(req.name(), "link"));
    if (S_ISDIR(target->type)) {
      return cv::ErrnoStatus(EPERM, "link of a directory");
    }
    if (target->mount != dir->mount) return cv::ErrnoStatus(EXDEV, "link");
    if (target->readonly) return cv::ErrnoStatus(EROFS, "link");
    // AT_EMPTY_PATH links the very inode the fid holds: no name of it is
    // looked up again (a removed file gives ENOENT, as Linux).
    if (linkat(target->fd.get(), "", dir->fd.get(), req.name().c_str(),
               AT_EMPTY_PATH) != 0) {
      return cv::ErrnoStatus(errno, "link");
    }
    struct stat st;
    if (StatFd(target->fd.get(), &st) != 0) {
      return cv::ErrnoStatus(errno, "link: stat");
    }
    FillStat(st, out->mutable_target());
    return DirStat(*dir, out->mutable_dir());
  }

  absl::Status Unlink(const pb::UnlinkRequest& req, pb::UnlinkResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> dir,
                     LookupWritableDir(req.dir(), "unlink"));
    RETURN_IF_ERROR(CheckName(req.name(), "unlink"));
    if (req.flags() & ~static_cast<uint32_t>(AT_REMOVEDIR)) {
      return cv::ErrnoStatus(EINVAL, "unlink flags");
    }
    // Pinned first, so that its link count can be reported afterwards.
    cv::UniqueFd victim(openat(dir->fd.get(), req.name().c_str(),
                               O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!victim.valid()) return cv::ErrnoStatus(errno, "unlink");
    if (unlinkat(dir->fd.get(), req.name().c_str(),
                 static_cast<int>(req.flags())) != 0) {
      return cv::ErrnoStatus(errno, "unlink");
    }
    struct stat st;
    if (StatFd(victim.get(), &st) == 0) FillStat(st, out->mutable_victim());
    return DirStat(*dir, out->mutable_dir());
  }

  absl::Status Rename(const pb::RenameRequest& req, pb::RenameResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> old_dir,
                     LookupWritableDir(req.old_dir(), "rename"));
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> new_dir,
                     LookupWritableDir(req.new_dir(), "rename"));
    RETURN_IF_ERROR(CheckName(req.old_name(), "rename"));
    RETURN_IF_ERROR(CheckName(req.new_name(), "rename"));
    const unsigned flags = req.flags();
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
        flags == (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
      return cv::ErrnoStatus(EINVAL, "rename flags");
    }
    if (old_dir->mount != new_dir->mount) {
      return cv::ErrnoStatus(EXDEV, "rename across attach points");
    }
    cv::UniqueFd moved(openat(old_dir->fd.get(), req.old_name().c_str(),
                              O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!moved.valid()) return cv::ErrnoStatus(errno, "rename");
    cv::UniqueFd replaced(openat(new_dir->fd.get(), req.new_name().c_str(),
                                 O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat mst, rst;
    if (StatFd(moved.get(), &mst) != 0) {
      return cv::ErrnoStatus(errno, "rename: stat");
    }
    const bool had_target =
        replaced.valid() && StatFd(replaced.get(), &rst) == 0;
    // The raw call: glibc turns flags == 0 into renameat, one more syscall
    // for the filter to allow.
    if (syscall(SYS_renameat2, old_dir->fd.get(), req.old_name().c_str(),
                new_dir->fd.get(), req.new_name().c_str(), flags) != 0) {
      return cv::ErrnoStatus(errno, "rename");
    }
    // Fids keep the parent and name they reopen through: make them follow
    // the move (the sentry keeps using the same fid for the moved file).
    std::vector<HostFile*> to_new, to_old;
    for (auto& [fid, file] : fids_) {
      if (file->parent == nullptr) continue;
      if (file->dev == mst.st_dev && file->ino == mst.st_ino &&
          file->name == req.old_name() && SameInode(*file->parent, *old_dir)) {
        to_new.push_back(file.get());
      } else if ((flags & RENAME_EXCHANGE) && had_target &&
                 file->dev == rst.st_dev && file->ino == rst.st_ino &&
                 file->name == req.new_name() &&
                 SameInode(*file->parent, *new_dir)) {
        to_old.push_back(file.get());
      }
    }
    for (HostFile* f : to_new) {
      f->parent = new_dir;
      f->name = req.new_name();
    }
    for (HostFile* f : to_old) {
      f->parent = old_dir;
      f->name = req.old_name();
    }
    if (StatFd(moved.get(), &mst) == 0) FillStat(mst, out->mutable_moved());
    if (had_target && StatFd(replaced.get(), &rst) == 0) {
      FillStat(rst, out->mutable_replaced());
    }
    RETURN_IF_ERROR(DirStat(*old_dir, out->mutable_old_dir()));
    return DirStat(*new_dir, out->mutable_new_dir());
  }

  absl::Status SetAttr(const pb::SetAttrRequest& req,
                       pb::SetAttrResponse* out) {
    using M = pb::SetAttrRequest;
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> file, Lookup(req.fid()));
    const uint32_t mask = req.mask();
    constexpr uint32_t kKnown = M::MODE | M::UID | M::GID | M::SIZE | M::ATIME |
                                M::MTIME | M::KILL_SUID;
    if (mask & ~kKnown) return cv::ErrnoStatus(EINVAL, "setattr mask");
    if (mask != 0 && file->readonly) return cv::ErrnoStatus(EROFS, "setattr");
    const int fd = file->fd.get();
    if (mask & M::SIZE) {
      if (S_ISDIR(file->type)) return cv::ErrnoStatus(EISDIR, "truncate");
      if (!S_ISREG(file->type)) return cv::ErrnoStatus(EINVAL, "truncate");
      if (file->parent == nullptr) {
        return cv::ErrnoStatus(EIO, "truncate: no parent");
      }
      if (req.size() > static_cast<uint64_t>(INT64_MAX)) {
        return cv::ErrnoStatus(EINVAL, "truncate: size");
      }
      ASSIGN_OR_RETURN(cv::UniqueFd wfd, ReopenVerified(*file, O_WRONLY));
      if (ftruncate(wfd.get(), static_cast<off_t>(req.size())) != 0) {
        return cv::ErrnoStatus(errno, "truncate");
      }
    }
    if (mask & (M::UID | M::GID)) {
      uint32_t uid = (mask & M::UID) ? req.uid() : static_cast<uint32_t>(-1);
      uint32_t gid = (mask & M::GID) ? req.gid() : static_cast<uint32_t>(-1);
      if (ChownFd(fd, uid, gid) != 0) return cv::ErrnoStatus(errno, "chown");
    }
    if (mask & M::MODE) {
      if (ChmodFd(fd, req.mode()) != 0) return cv::ErrnoStatus(errno, "chmod");
    } else if ((mask & M::KILL_SUID) && !S_ISDIR(file->type) &&
               !S_ISLNK(file->type)) {
      struct stat st;
      if (StatFd(fd, &st) != 0) return cv::ErrnoStatus(errno, "setattr");
      mode_t mode = st.st_mode & 07777;
      mode_t kill = S_ISUID;
      if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) kill |= S_ISGID;
      if ((mode & kill) && ChmodFd(fd, mode & ~kill) != 0) {
        return cv::ErrnoStatus(errno, "chmod");
      }
    }
    if (mask & (M::ATIME | M::MTIME)) {
      struct timespec ts[2];
      ts[0].tv_sec = req.atime_sec();
      ts[0].tv_nsec = req.atime_nsec();
      ts[1].tv_sec = req.mtime_sec();
      ts[1].tv_nsec = req.mtime_nsec();
      if (!(mask & M::ATIME)) ts[0] = {0, UTIME_OMIT};
      if (!(mask & M::MTIME)) ts[1] = {0, UTIME_OMIT};
      for (const auto& t : ts) {
        if (t.tv_nsec != UTIME_OMIT &&
            (t.tv_nsec < 0 || t.tv_nsec >= 1000000000L)) {
          return cv::ErrnoStatus(EINVAL, "setattr: time");
        }
      }
      if (utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
        return cv::ErrnoStatus(errno, "utimens");
      }
    }
    struct stat st;
    if (StatFd(fd, &st) != 0) return cv::ErrnoStatus(errno, "setattr: stat");
    FillStat(st, out->mutable_stat());
    return absl::OkStatus();
  }

  absl::Status StatFs(const pb::StatFsRequest& req, pb::StatFsResponse* out) {
    ASSIGN_OR_RETURN(std::shared_ptr<HostFile> file, Lookup(req.fid()));
    struct statfs sfs;
    if (fstatfs(file->fd.get(), &sfs) != 0) {
      return cv::ErrnoStatus(errno, "statfs");
    }
    out->set_type(sfs.f_type);
    out->set_bsize(sfs.f_bsize);
    out->set_blocks(sfs.f_blocks);
    out->set_bfree(sfs.f_bfree);
    out->set_bavail(sfs.f_bavail);
    out->set_files(sfs.f_files);
    out->set_ffree(sfs.f_ffree);
    uint32_t halves[2];
    static_assert(sizeof halves == sizeof sfs.f_fsid);
    memcpy(halves, &sfs.f_fsid, sizeof halves);
    out->set_fsid(static_cast<uint64_t>(halves[0]) |
                  (static_cast<uint64_t>(halves[1]) << 32));
    out->set_namelen(sfs.f_namelen);
    out->set_frsize(sfs.f_frsize);
    out->set_flags(sfs.f_flags);
    return absl::OkStatus();
  }

  absl::Status Close(const pb::CloseRequest& req) {
    int unknown = 0;
    for (uint64_t fid : req.fids()) {
      if (fids_.erase(fid) == 0) ++unknown;
    }
    if (unknown > 0) {
      return cv::ErrnoStatus(
          EBADF, absl::StrCat("close: ", unknown, " unknown fid(s)"));
    }
    return absl::OkStatus();
  }

  std::vector<std::shared_ptr<HostFile>> roots_;  // by attach index
  absl::flat_hash_map<uint64_t, std::shared_ptr<HostFile>> fids_;
  uint64_t next_fid_ = 1;
};

bool PeerGone(const absl::Status& s) {
  int err = cv::StatusToErrno(s);
  return err == EPIPE || err == ECONNRESET || err == ENOTCONN;
}

}  // namespace

absl::Status Serve(std::vector<AttachPoint> points, int sock) {
  if (points.empty()) return cv::ErrnoStatus(EINVAL, "gofer: no attach point");
  std::vector<std::shared_ptr<HostFile>> roots;
  for (size_t i = 0; i < points.size(); ++i) {
    AttachPoint& p = points[i];
    struct stat st;
    if (StatFd(p.fd.get(), &st) != 0) {
      return cv::ErrnoStatus(errno, absl::StrCat("gofer: attach point ", i));
    }
    if (!S_ISDIR(st.st_mode)) {
      return cv::ErrnoStatus(ENOTDIR,
                             absl::StrCat("gofer: attach point ", i,
                                          " is given by a non-directory fd"));
    }
    auto dir = std::make_shared<HostFile>();
    dir->fd = std::move(p.fd);
    dir->type = S_IFDIR;
    dir->dev = st.st_dev;
    dir->ino = st.st_ino;
    dir->mount = static_cast<uint32_t>(i);
    dir->readonly = p.readonly;
    if (p.name.empty()) {
      roots.push_back(std::move(dir));
      continue;
    }
    if (!ValidName(p.name)) {
      return cv::ErrnoStatus(
          EINVAL, absl::StrCat("gofer: attach point ", i, ": bad name"));
    }
    // The directory only serves to reopen the file: it gets no fid.
    cv::UniqueFd fd(
        openat(dir->fd.get(), p.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid() || StatFd(fd.get(), &st) != 0) {
      return cv::ErrnoStatus(errno, absl::StrCat("gofer: attach point ", i));
    }
    auto file = std::make_shared<HostFile>();
    file->fd = std::move(fd);
    file->parent = dir;
    file->name = p.name;
    file->type = st.st_mode & S_IFMT;
    file->dev = st.st_dev;
    file->ino = st.st_ino;
    file->mount = dir->mount;
    file->readonly = p.readonly;
    roots.push_back(std::move(file));
  }
  FileServer server(std::move(roots));

  wire::ConfigureSocket(sock);
  auto buf = std::make_unique<char[]>(wire::kMaxMessageSize);
  for (;;) {
    // No fds are accepted from the sentry: nothing it sends can end up in
    // the gofer's fd table.
    ASSIGN_OR_RETURN(wire::Packet packet,
                     wire::RecvPacket(sock, buf.get(), wire::kMaxMessageSize,
                                      /*accept_fd=*/false));
    if (packet.peer_closed) return absl::OkStatus();

    pb::Response resp;
    cv::UniqueFd donate;
    pb::Request req;
    if (packet.truncated) {
      resp = FileServer::ErrorResponse(cv::ErrnoStatus(
          EINVAL,
          absl::StrCat("request over ", wire::kMaxMessageSize, " bytes")));
    } else if (!req.ParseFromArray(buf.get(), static_cast<int>(packet.size))) {
      resp = FileServer::ErrorResponse(
          cv::ErrnoStatus(EINVAL, "request does not parse"));
    } else {
      resp = server.Handle(req, &donate);
    }
    if (cv::DebugEnabled()) {
      cv::LogDebug("gofer: request case ", static_cast<int>(req.msg_case()),
                   " -> errno ", resp.errnum());
    }

    absl::Status s = wire::SendMessage(sock, resp, donate.get());
    if (!s.ok() && !PeerGone(s)) {
      // Most likely the reply was too big or the fd could not be passed:
      // tell the sentry instead of leaving it waiting.
      cv::LogWarning("gofer: sending a reply: ", s.message());
      s = wire::SendMessage(sock, FileServer::ErrorResponse(cv::ErrnoStatus(
                                      EIO, "gofer could not send its reply")));
    }
    if (!s.ok()) {
      if (PeerGone(s)) return absl::OkStatus();
      return s;
    }
  }
}

absl::Status Serve(cv::UniqueFd root_dir, bool readonly, int sock) {
  std::vector<AttachPoint> points(1);
  points[0].fd = std::move(root_dir);
  points[0].readonly = readonly;
  return Serve(std::move(points), sock);
}

}  // namespace gofer
