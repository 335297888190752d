// The sentry's entry point for `runsc boot`: builds the kernel, mounts the
// container's root through the gofer, starts the container's init process and
// runs until the init exits.
#ifndef CVISOR_SENTRY_SENTRY_H_
#define CVISOR_SENTRY_SENTRY_H_

#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sentry {

struct Rlimit {
  int resource;  // RLIMIT_*
  uint64_t soft;
  uint64_t hard;
};

// One of the spec's mounts, in the order the spec lists them.
struct MountConfig {
  // "bind", "tmpfs", "proc", "sysfs", "devpts", "mqueue" or "cgroup".
  std::string type;
  std::string destination;  // absolute, inside the container
  std::vector<std::string> options;
  // For "bind": the gofer's attach point serving the source (1 = the first
  // bind mount; 0 is the root).
  uint32_t gofer_mount = 0;
};

struct BootConfig {
  std::vector<std::string> argv;  // argv[0] is the path looked up
  std::vector<std::string> envp;
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  // The init's capability sets before its execve, bit N = capability N (as
  // capget(2) reports them). All empty unless the spec grants some.
  struct Capabilities {
    uint64_t effective = 0, permitted = 0, inheritable = 0;
    uint64_t bounding = 0, ambient = 0;
  } capabilities;
  bool no_new_privs = false;  // process.noNewPrivileges
  uint32_t umask = 022;       // process.user.umask
  std::string hostname = "localhost";
  std::vector<Rlimit> rlimits;
  std::string platform = "ptrace";
  bool strace = false;  // log every application syscall
  int gofer_fd = -1;    // connected to the gofer serving the root
  // The root as the container sees it: read-only (EROFS) or not.
  bool root_readonly = false;
  // The root is an overlay: the gofer serves it read-only and the
  // container's writes land in an upper layer in sandbox memory.
  bool overlay = false;
  std::vector<MountConfig> mounts;
  int stdio_fds[3] = {0, 1, 2};  // host fds that become the init's 0, 1, 2
};

// Runs the container to completion. Returns the init's exit status the way
// a shell reports it: the exit code, or 128+N if it was killed by signal N.
// An error means the container could not be started (the message names
// what, e.g. the missing executable's path).
absl::StatusOr<int> Boot(const BootConfig& config);

}  // namespace sentry

#endif  // CVISOR_SENTRY_SENTRY_H_
