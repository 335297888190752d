// The gofer: the file server for one container. It owns the container's view
// of the file system and serves proto/gofer.proto requests from the sentry,
// donating host fds for opened files.
#ifndef CVISOR_GOFER_GOFER_H_
#define CVISOR_GOFER_GOFER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/unique_fd.h"

namespace gofer {

// An extra attach point (a bind mount): a host directory or a single file
// (Docker bind-mounts /etc/hosts, /etc/resolv.conf and /etc/hostname as
// files).
struct GoferMountSource {
  std::string path;  // host path, resolved before the gofer confines itself
  bool readonly = false;
};

struct GoferOptions {
  std::string root;       // the container's root file system (host path)
  bool readonly = false;  // the root refuses writes (EROFS)
  // Attach point i + 1 of the protocol (AttachRequest.mount); 0 is `root`.
  std::vector<GoferMountSource> mounts = {};
};

// What Serve serves for one attach point. A directory is given as an fd of
// it (O_PATH is enough) with `name` empty. Any other file is given as an fd
// of a directory holding it plus its `name` there: reopening a file with
// real access needs a parent to open it from (there is no /proc to reopen
// an O_PATH fd through), and that directory is never exposed as a fid.
struct AttachPoint {
  cv::UniqueFd fd;
  std::string name;
  bool readonly = false;
};

// Confines the calling process to options.root and options.mounts (a new
// mount namespace, each source cloned with open_tree before pivot_root into
// the root, nothing else visible) and serves requests on `sock` until the
// peer closes it. Returns the error that stopped it from serving, or OK on
// a clean shutdown. Meant for `runsc gofer`.
absl::Status RunGofer(const GoferOptions& options, cv::UniqueFd sock);

// Serves one connection against already-open attach points (points[0] is
// attach point 0, the root), without confining the process (RunGofer calls
// this after confining; tests call it directly). Returns when the peer
// closes the socket; fails up front (EINVAL, ENOTDIR, ...) on an empty list
// or a point that cannot be used.
absl::Status Serve(std::vector<AttachPoint> points, int sock);
// The same with a single root directory.
absl::Status Serve(cv::UniqueFd root_dir, bool readonly, int sock);

}  // namespace gofer

#endif  // CVISOR_GOFER_GOFER_H_
