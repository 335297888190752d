#include "runsc/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "runsc/util.h"

namespace runsc {
namespace {

using nlohmann::json;

constexpr char kStateFile[] = "state.json";

// Holds an flock for a scope; the lock goes with the fd's open file
// description, so a crashed holder never leaves it taken.
class FlockGuard {
 public:
  FlockGuard(int fd, int op) : fd_(fd) {
    while (flock(fd_, op) != 0 && errno == EINTR) {
    }
  }
  ~FlockGuard() { flock(fd_, LOCK_UN); }

 private:
  int fd_;
};

}  // namespace

std::string NowRfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  return absl::StrFormat("%s.%09ldZ", buf, ts.tv_nsec);
}

std::string StateToJson(const ContainerState& state) {
  json j;
  j["ociVersion"] = state.oci_version;
  j["id"] = state.id;
  j["status"] = state.status;
  j["pid"] = state.pid;
  j["bundle"] = state.bundle;
  j["annotations"] = state.annotations;
  if (!state.created.empty()) j["created"] = state.created;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<ContainerState> StateFromJson(absl::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    return absl::DataLossError("state.json is not a JSON object");
  ContainerState s;
  try {
    s.oci_version = j.at("ociVersion").get<std::string>();
    s.id = j.at("id").get<std::string>();
    s.status = j.at("status").get<std::string>();
    s.pid = j.value("pid", 0);
    s.bundle = j.value("bundle", "");
    if (j.contains("annotations") && j["annotations"].is_object()) {
      s.annotations =
          j["annotations"].get<std::map<std::string, std::string>>();
    }
    s.created = j.value("created", "");
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("state.json: ", e.what()));
  }
  return s;
}

absl::Status ValidateContainerId(absl::string_view id) {
  bool ok = !id.empty() && id != "." && id != ".." && id.size() <= 255;
  for (char c : id) {
    ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid container id ",
      json(std::string(id))
          .dump(-1, ' ', false, json::error_handler_t::replace),
      ": must be 1 to 255 characters from [A-Za-z0-9_.-], not \".\" or "
      "\"..\""));
}

absl::StatusOr<ContainerDir> ContainerDir::Create(const std::string& root,
                                                  const std::string& id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  // The state root holds other containers' state: private to root, as runc.
  RETURN_IF_ERROR(MakeDirs(root, 0700));
  std::string path = absl::StrCat(root == "/" ? "" : root, "/", id);
  if (mkdir(path.c_str(), 0711) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("container \"", id, "\" already exists"));
    }
    return PathError("mkdir", path, errno);
  }
  cv::UniqueFd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    int err = errno;
    rmdir(path.c_str());
    return PathError("open", path, err);
  }
  return ContainerDir(std::move(path), std::move(dir));
}

ContainerDir::ContainerDir(ContainerDir&& other) noexcept
    : path_(std::move(other.path_)), dir_(std::move(other.dir_)) {}

ContainerDir::~ContainerDir() {
  if (dir_) {
    absl::Status s = Remove();
    if (!s.ok()) cv::LogWarning("removing ", path_, ": ", s.message());
  }
}

absl::Status ContainerDir::WriteState(const ContainerState& state) {
  if (!dir_) return absl::FailedPreconditionError("container state removed");
  FlockGuard lock(dir_.get(), LOCK_EX);
  return WriteFileAtomic(absl::StrCat(path_, "/", kStateFile),
                         StateToJson(state), 0644);
}

absl::Status ContainerDir::Remove() {
  if (!dir_) return absl::OkStatus();
  cv::UniqueFd dir = std::move(dir_);
  FlockGuard lock(dir.get(), LOCK_EX);
  // Everything in the directory is ours (state.json, temporaries of
  // WriteFileAtomic, later the control socket): delete it all.
  int listing = dup(dir.get());
  if (listing < 0) return PathError("dup", path_, errno);
  DIR* d = fdopendir(listing);
  if (d == nullptr) {
    int err = errno;
    close(listing);
    return PathError("opendir", path_, err);
  }
  rewinddir(d);
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (unlinkat(dir.get(), e->d_name, 0) != 0 && errno != ENOENT) {
      int err = errno;
      closedir(d);
      return PathError("unlink", absl::StrCat(path_, "/", name), err);
    }
  }
  closedir(d);
  if (rmdir(path_.c_str()) != 0 && errno != ENOENT) {
    return PathError("rmdir", path_, errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerState> ReadState(const std::string& root,
                                         const std::string& id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  std::string path = absl::StrCat(root, "/", id);
  cv::UniqueFd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("container \"", id, "\" does not exist"));
    }
    return PathError("open", path, errno);
  }
  FlockGuard lock(dir.get(), LOCK_SH);
  ASSIGN_OR_RETURN(std::string text,
                   ReadFile(absl::StrCat(path, "/", kStateFile), 1 << 20));
  return StateFromJson(text);
}

}  // namespace runsc
