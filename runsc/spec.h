// The parts of an OCI bundle's config.json that runsc uses, parsed and
// validated up front so that a bad field is refused with a message naming it
// before anything is created.
#ifndef CVISOR_RUNSC_SPEC_H_
#define CVISOR_RUNSC_SPEC_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace runsc {

struct SpecRlimit {
  std::string type;  // "RLIMIT_NOFILE"
  int resource = 0;  // RLIMIT_NOFILE
  uint64_t soft = 0;
  uint64_t hard = 0;
};

enum class MountKind {
  kProc,
  kTmpfs,
  kSysfs,
  kDevpts,
  kMqueue,
  kCgroup,
  kBind
};

struct SpecMount {
  MountKind kind = MountKind::kTmpfs;
  std::string destination;  // absolute, inside the container
  std::string type;         // as written ("proc", "bind", "none", ...)
  // As written; for bind mounts a relative source is made absolute against
  // the bundle directory, as runc does.
  std::string source;
  std::vector<std::string> options;
};

// process.capabilities as masks, bit N = capability N.
struct SpecCapabilities {
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t bounding = 0;
  uint64_t ambient = 0;
};

struct SpecNamespace {
  std::string type;  // pid, network, mount, ipc, uts, user, cgroup, time
  std::string path;  // empty: a new namespace
};

struct Spec {
  std::string oci_version;
  // process
  bool terminal = false;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;
  std::vector<SpecRlimit> rlimits;
  // Unset: the process gets no capabilities (as in gVisor; runc would leave
  // it all of its own).
  std::optional<SpecCapabilities> capabilities;
  bool no_new_privileges = false;
  // root
  std::string root_path;  // absolute host path of the root file system
  bool root_readonly = false;
  std::string hostname;  // empty: not set in the spec
  std::vector<SpecMount> mounts;
  std::vector<SpecNamespace> namespaces;
  std::map<std::string, std::string> annotations;
};

// Parses and validates config.json text. `bundle_dir` (absolute) is what a
// relative root.path and bind-mount source are resolved against. Every error
// is one line starting with "config.json: " that names the field.
absl::StatusOr<Spec> ParseSpec(absl::string_view json_text,
                               const std::string& bundle_dir);

// Reads <bundle_dir>/config.json and parses it. A file that cannot be read
// gives "open <path>: <reason>".
absl::StatusOr<Spec> LoadSpec(const std::string& bundle_dir);

// RLIMIT_* name -> resource number, or -1.
int RlimitResourceByName(absl::string_view name);

// "CAP_CHOWN" -> 0, ... up to CAP_CHECKPOINT_RESTORE (40); -1 if unknown.
int CapabilityByName(absl::string_view name);

// The capabilities Docker and runc's default spec give a container: CHOWN,
// DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP,
// SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE. `runsc do`
// grants them as effective, permitted and bounding sets.
uint64_t DefaultCapabilities();

const char* MountKindName(MountKind kind);

}  // namespace runsc

#endif  // CVISOR_RUNSC_SPEC_H_
