// The gofer: the file server for one container. It owns the container's view
// of the file system and serves proto/gofer.proto requests from the sentry,
// donating host fds for opened files.
#ifndef CVISOR_GOFER_GOFER_H_
#define CVISOR_GOFER_GOFER_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/unique_fd.h"

namespace gofer {

struct GoferOptions {
  std::string root;       // the container's root file system (host path)
  bool readonly = false;  // refuse opens for writing
};

// Confines the calling process to options.root (a new mount namespace,
// pivot_root, nothing else visible) and serves requests on `sock` until the
// peer closes it. Returns the error that stopped it from serving, or OK on
// a clean shutdown. Meant for `runsc gofer`.
absl::Status RunGofer(const GoferOptions& options, cv::UniqueFd sock);

// Serves one connection against an already-open root directory, without
// confining the process (RunGofer calls this after confining; tests call it
// directly). Returns when the peer closes the socket.
absl::Status Serve(cv::UniqueFd root_dir, bool readonly, int sock);

}  // namespace gofer

#endif  // CVISOR_GOFER_GOFER_H_
