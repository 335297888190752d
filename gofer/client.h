// The sentry's side of the gofer protocol (proto/gofer.proto): synchronous
// calls over one SOCK_SEQPACKET connection, safe to use from many sentry
// threads at once. Errors come back as statuses carrying the gofer's errno
// (common/errno_status.h).
#ifndef CVISOR_GOFER_CLIENT_H_
#define CVISOR_GOFER_CLIENT_H_

#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace cvisor::gofer {
class Request;
class Response;
}  // namespace cvisor::gofer

namespace gofer {

struct InodeInfo {
  uint64_t fid = 0;
  struct stat stat {};
};

// inodes.size() < names.size() means the walk stopped early: either at a
// symlink (stop_errno == 0, the last inode is the symlink, for the caller to
// resolve) or because of stop_errno (ENOTDIR after a non-directory or when
// the starting fid is not a directory; ENOENT, EACCES, ... for the component
// after the last inode). Every returned fid is the caller's to Close.
struct WalkResult {
  std::vector<InodeInfo> inodes;  // one per component walked
  int stop_errno = 0;             // why the walk stopped early, or 0
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*
  uint64_t next_offset = 0;
};

struct ReadDirResult {
  std::vector<DirEntry> entries;
  bool eof = false;
};

// The result of Create: the new file, its opened host fd, and the
// directory's attributes after the change.
struct CreateResult {
  InodeInfo inode;
  cv::UniqueFd fd;
  struct stat dir {};
};

// The result of Mkdir, Mknod and Symlink.
struct MakeResult {
  InodeInfo inode;
  struct stat dir {};
};

struct LinkResult {
  struct stat target {};  // after the link
  struct stat dir {};
};

struct UnlinkResult {
  struct stat dir {};
  std::optional<struct stat> victim;  // the removed file, after the removal
};

struct RenameResult {
  struct stat old_dir {};
  struct stat new_dir {};
  std::optional<struct stat> moved;
  std::optional<struct stat> replaced;  // what new_name was, if anything
};

// Attribute changes for SetAttr: only fields whose bit is in `mask` apply.
struct SetAttrArgs {
  enum : unsigned {
    kMode = 1 << 0,
    kUid = 1 << 1,
    kGid = 1 << 2,
    kSize = 1 << 3,
    kAtime = 1 << 4,
    kMtime = 1 << 5,
    kKillSuid = 1 << 6,
  };
  unsigned mask = 0;
  mode_t mode = 0;  // 07777 bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  struct timespec atime {};
  struct timespec mtime {};
};

// Every call returns an errno-carrying status (cv::StatusToErrno): the
// gofer's errno for a refused request; EIO once the connection is unusable
// (the gofer died, closed the socket or answered out of protocol), after
// which every call fails fast with EIO.
class Client final {
 public:
  explicit Client(cv::UniqueFd sock);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The root of attach point `mount` (0: the container's root; i: the
  // gofer's i-th extra mount). ENOENT for an unknown index.
  absl::StatusOr<InodeInfo> Attach(uint32_t mount = 0);
  // Any number of names: long walks go out as several requests. A bad name
  // (empty, ".", "..", containing '/' or NUL, over NAME_MAX) fails the whole
  // walk with EINVAL before anything is sent.
  absl::StatusOr<WalkResult> Walk(uint64_t fid,
                                  const std::vector<std::string>& names);
  absl::StatusOr<struct stat> Stat(uint64_t fid);
  // Returns the host fd the gofer donated (close-on-exec). Flags as in
  // proto/gofer.proto OpenRequest.
  absl::StatusOr<cv::UniqueFd> Open(uint64_t fid, int flags);
  // count == 0: as many entries as fit in one reply. Fewer entries than
  // asked for does not mean the end: only `eof` does.
  absl::StatusOr<ReadDirResult> ReadDir(uint64_t fid, uint64_t offset,
                                        uint32_t count);
  absl::StatusOr<std::string> Readlink(uint64_t fid);
  // Mutations (proto/gofer.proto). Names are single components: a bad one
  // fails with EINVAL before anything is sent. Modes are taken as given
  // (07777 bits, no umask applied); uid/gid become the owner.
  // Creates and opens a regular file (O_EXCL); `flags` as for Open.
  absl::StatusOr<CreateResult> Create(uint64_t dir, const std::string& name,
                                      mode_t mode, uint32_t uid, uint32_t gid,
                                      int flags);
  absl::StatusOr<MakeResult> Mkdir(uint64_t dir, const std::string& name,
                                   mode_t mode, uint32_t uid, uint32_t gid);
  // `mode` includes the type: S_IFREG (or 0), S_IFIFO or S_IFSOCK.
  absl::StatusOr<MakeResult> Mknod(uint64_t dir, const std::string& name,
                                   mode_t mode, uint32_t uid, uint32_t gid);
  absl::StatusOr<MakeResult> Symlink(uint64_t dir, const std::string& name,
                                     const std::string& target, uint32_t uid,
                                     uint32_t gid);
  absl::StatusOr<LinkResult> Link(uint64_t target, uint64_t dir,
                                  const std::string& name);
  // flags: 0 or AT_REMOVEDIR.
  absl::StatusOr<UnlinkResult> Unlink(uint64_t dir, const std::string& name,
                                      int flags);
  // flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE.
  absl::StatusOr<RenameResult> Rename(uint64_t old_dir,
                                      const std::string& old_name,
                                      uint64_t new_dir,
                                      const std::string& new_name,
                                      unsigned flags);
  // Returns the attributes after the change.
  absl::StatusOr<struct stat> SetAttr(uint64_t fid, const SetAttrArgs& args);
  absl::StatusOr<struct statfs> StatFs(uint64_t fid);

  // Releases fids; errors are logged, not returned (there is nothing the
  // caller could do).
  void Close(const std::vector<uint64_t>& fids);

 private:
  // Sends `req` and waits for its reply; `fd`, if given, receives a donated
  // fd. Transport failures mark the connection dead. Holds mu_.
  absl::Status Call(const char* op, const cvisor::gofer::Request& req,
                    cvisor::gofer::Response* resp, cv::UniqueFd* fd);

  std::mutex mu_;  // one request in flight per connection
  cv::UniqueFd sock_;
  bool dead_ = false;  // guarded by mu_
};

}  // namespace gofer

#endif  // CVISOR_GOFER_CLIENT_H_
