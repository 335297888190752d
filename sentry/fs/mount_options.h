// Mount options as OCI specs and mount(2) give them.
#ifndef CVISOR_SENTRY_FS_MOUNT_OPTIONS_H_
#define CVISOR_SENTRY_FS_MOUNT_OPTIONS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sentry::fs {

// mount(8)-style options: the per-mount flags they name (ro, nosuid, nodev,
// noexec, noatime, ...) and the rest, comma-joined, as file system data
// (mode=1777,size=64m). Propagation and bind options are dropped.
struct ParsedMountOptions {
  int flags = 0;
  std::string data;
};
ParsedMountOptions ParseMountOptions(const std::vector<std::string>& options);

// tmpfs's data options; unknown keys and bad values are errors naming them.
struct TmpfsDataOptions {
  mode_t mode = 01777;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size_bytes = 0;  // 0: unlimited
};
absl::StatusOr<TmpfsDataOptions> ParseTmpfsData(const std::string& data);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_MOUNT_OPTIONS_H_
