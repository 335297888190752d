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

namespace gofer {

struct InodeInfo {
  uint64_t fid = 0;
  struct stat stat {};
};

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

class Client final {
 public:
  explicit Client(cv::UniqueFd sock);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<InodeInfo> Attach();
  absl::StatusOr<WalkResult> Walk(uint64_t fid,
                                  const std::vector<std::string>& names);
  absl::StatusOr<struct stat> Stat(uint64_t fid);
  // Returns the host fd the gofer donated.
  absl::StatusOr<cv::UniqueFd> Open(uint64_t fid, int flags);
  absl::StatusOr<ReadDirResult> ReadDir(uint64_t fid, uint64_t offset,
                                        uint32_t count);
  absl::StatusOr<std::string> Readlink(uint64_t fid);
  // Releases fids; errors are logged, not returned (there is nothing the
  // caller could do).
  void Close(const std::vector<uint64_t>& fids);

 private:
  std::mutex mu_;  // one request in flight per connection
  cv::UniqueFd sock_;
};

}  // namespace gofer

#endif  // CVISOR_GOFER_CLIENT_H_
