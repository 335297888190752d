// The sentry's side of the gofer protocol (proto/gofer.proto): synchronous
// calls over one SOCK_SEQPACKET connection, safe to use from many sentry
// threads at once. Errors come back as statuses carrying the gofer's errno
// (common/errno_status.h).
#ifndef CVISOR_GOFER_CLIENT_H_
#define CVISOR_GOFER_CLIENT_H_

#include <sys/stat.h>

#include <cstdint>
#include <mutex>
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

// Every call returns an errno-carrying status (cv::StatusToErrno): the
// gofer's errno for a refused request; EIO once the connection is unusable
// (the gofer died, closed the socket or answered out of protocol), after
// which every call fails fast with EIO.
class Client final {
 public:
  explicit Client(cv::UniqueFd sock);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<InodeInfo> Attach();
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
