// What `runsc run`/`do` hands to the `runsc boot` process it spawns: the
// sentry's BootConfig (without its fds, which are passed by number on the
// boot command line) as one JSON document read from an inherited memfd.
#ifndef CVISOR_RUNSC_BOOT_CONFIG_H_
#define CVISOR_RUNSC_BOOT_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runsc/spec.h"
#include "sentry/sentry.h"

namespace runsc {

struct BootRequest {
  std::string container_id;
  // gofer_fd and stdio_fds are not serialized; `runsc boot` fills them in.
  sentry::BootConfig config;
  std::string network = "none";
  // The spec's mounts; proc, tmpfs, sysfs, ... are the sentry's own file
  // systems, so it is the one that will set them up.
  std::vector<SpecMount> mounts;
};

// Schema (version 3), all keys always present. A "str" that is not valid
// UTF-8 is written as {"base64":"..."}. Capability sets are masks, bit N =
// capability N.
// {"version":2, "id":str, "argv":[str], "env":[str], "cwd":str, "uid":u32,
//  "gid":u32, "additional_gids":[u32],
//  "capabilities":{"effective":u64, "permitted":u64, "inheritable":u64,
//                  "bounding":u64, "ambient":u64}, "no_new_privileges":bool,
//  "umask":u32, "hostname":str,
//  "rlimits":[{"resource":int,"soft":u64,"hard":u64}], "platform":str,
//  "strace":bool, "root_readonly":bool, "overlay":bool, "network":str,
//  "mounts":[{"kind":str,"destination":str,"type":str,"source":str,
//             "options":[str]}]}
std::string BootRequestToJson(const BootRequest& request);
absl::StatusOr<BootRequest> BootRequestFromJson(absl::string_view text);

}  // namespace runsc

#endif  // CVISOR_RUNSC_BOOT_CONFIG_H_
