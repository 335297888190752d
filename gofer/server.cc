// gofer::Serve: the request loop and the fid table. Every file is held as an
// O_PATH fd obtained by walking one component at a time with O_NOFOLLOW, so
// no request can make the gofer resolve a path, follow a symlink or step
// above the root it was given.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

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

class FileServer final {
 public:
  FileServer(std::shared_ptr<HostFile> root, bool readonly)
      : root_(std::move(root)), readonly_(readonly) {}

  // Serves one request. `donate` receives the fd to send with the reply.
  pb::Response Handle(const pb::Request& req, cv::UniqueFd* donate) {
    pb::Response resp;
    absl::Status s;
    switch (req.msg_case()) {
      case pb::Request::kAttach:
        s = Attach(resp.mutable_attach());
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

  absl::Status Attach(pb::AttachResponse* out) {
    struct stat st;
    if (fstatat(root_->fd.get(), "", &st,
                AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return cv::ErrnoStatus(errno, "stat of the root");
    }
    out->mutable_root()->set_fid(NewFid(root_));
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
    if (readonly_ && (write || (S_ISREG(file->type) && (flags & O_TRUNC)))) {
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

  std::shared_ptr<HostFile> root_;
  bool readonly_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<HostFile>> fids_;
  uint64_t next_fid_ = 1;
};

bool PeerGone(const absl::Status& s) {
  int err = cv::StatusToErrno(s);
  return err == EPIPE || err == ECONNRESET || err == ENOTCONN;
}

}  // namespace

absl::Status Serve(cv::UniqueFd root_dir, bool readonly, int sock) {
  struct stat st;
  if (fstatat(root_dir.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) !=
      0) {
    return cv::ErrnoStatus(errno, "gofer: stat of the root");
  }
  if (!S_ISDIR(st.st_mode)) {
    return cv::ErrnoStatus(ENOTDIR, "gofer: the root is not a directory");
  }
  auto root = std::make_shared<HostFile>();
  root->fd = std::move(root_dir);
  root->type = S_IFDIR;
  root->dev = st.st_dev;
  root->ino = st.st_ino;
  FileServer server(std::move(root), readonly);

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

}  // namespace gofer
