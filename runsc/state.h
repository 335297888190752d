// Container state kept under --root: one directory per container holding the
// OCI state (state.json), updated under an flock on the directory so that
// concurrent runsc invocations see whole states only.
#ifndef CVISOR_RUNSC_STATE_H_
#define CVISOR_RUNSC_STATE_H_

#include <sys/types.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace runsc {

inline constexpr char kOciVersion[] = "1.0.2";

// OCI runtime state (runtime-spec "State").
struct ContainerState {
  std::string oci_version = kOciVersion;
  std::string id;
  std::string status;  // "creating", "created", "running", "stopped"
  pid_t pid = 0;       // the sandbox (runsc boot) process, on the host
  std::string bundle;
  std::map<std::string, std::string> annotations;
  std::string created;  // RFC 3339, UTC
};

std::string StateToJson(const ContainerState& state);
absl::StatusOr<ContainerState> StateFromJson(absl::string_view text);

// Container ids name directories: [A-Za-z0-9_.-]+, not "." or "..", at most
// 255 bytes.
absl::Status ValidateContainerId(absl::string_view id);

// Owns <root>/<id>. Creating it is how an id is claimed (mkdir is atomic);
// the directory is removed by Remove() or, on any early return, by the
// destructor, so an error leaves nothing behind.
class ContainerDir final {
 public:
  // Creates <root> if needed and claims <root>/<id>. Fails with
  // AlreadyExists "container \"<id>\" already exists" when it is taken.
  static absl::StatusOr<ContainerDir> Create(const std::string& root,
                                             const std::string& id);

  ContainerDir(ContainerDir&& other) noexcept;
  ContainerDir& operator=(ContainerDir&&) = delete;
  ContainerDir(const ContainerDir&) = delete;
  ContainerDir& operator=(const ContainerDir&) = delete;
  ~ContainerDir();

  // Replaces state.json atomically under an exclusive flock.
  absl::Status WriteState(const ContainerState& state);
  // Deletes the directory and everything runsc put in it.
  absl::Status Remove();

  const std::string& path() const { return path_; }

 private:
  ContainerDir(std::string path, cv::UniqueFd dir)
      : path_(std::move(path)), dir_(std::move(dir)) {}

  std::string path_;
  cv::UniqueFd dir_;  // invalid once removed
};

// Reads <root>/<id>/state.json under a shared flock.
absl::StatusOr<ContainerState> ReadState(const std::string& root,
                                         const std::string& id);

// RFC 3339 time with nanoseconds, as runc prints "created".
std::string NowRfc3339();

}  // namespace runsc

#endif  // CVISOR_RUNSC_STATE_H_
