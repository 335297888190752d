// Starting and running one sandbox in the foreground: the gofer and the boot
// process (the sentry), their fds and namespaces, the container's state
// directory, signal forwarding, and cleanup on every path.
#ifndef CVISOR_RUNSC_SANDBOX_H_
#define CVISOR_RUNSC_SANDBOX_H_

#include <csignal>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"
#include "runsc/boot_config.h"

namespace runsc {

inline constexpr char kDefaultStateRoot[] = "/run/cvisor";

// The global flags (runc's and gVisor's).
struct GlobalOptions {
  std::string root = kDefaultStateRoot;  // absolute once parsed
  std::string log_path;                  // --log
  bool log_json = false;                 // --log-format json
  bool debug = false;
  std::string debug_log_dir;  // --debug-log: DIR/runsc.<command>.log
  std::string platform = "ptrace";
  bool strace = false;
  std::string network = "none";
  bool systemd_cgroup = false;  // accepted, ignored
  // --overlay: "memory" (the root is an overlay whose writes stay in sandbox
  // memory) or "none" (writes reach the root's files, if it is writable).
  std::string overlay = "memory";
};

// Signals `runsc run`/`do` pass on to the sandbox, as runc passes them to
// the container's init. SIGCHLD and SIGURG are runsc's own business.
inline constexpr int kForwardedSignals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                            SIGUSR1, SIGUSR2, SIGWINCH};

struct SandboxSpec {
  std::string id;
  std::string bundle;  // recorded in state.json; empty for `do`
  std::map<std::string, std::string> annotations;
  std::string rootfs;            // host path the gofer serves as "/"
  bool rootfs_readonly = false;  // what the gofer serves, not the container
  // Bind mount sources the gofer serves after the root, in order (attach
  // points 1, 2, ...), and whether each is read-only.
  std::vector<std::pair<std::string, bool>> gofer_mounts;
  BootRequest boot;
  std::string pid_file;  // absolute; empty: none
};

// The children are /proc/self/exe again, each in a session of its own and
// with PR_SET_PDEATHSIG=SIGKILL:
//   runsc [--debug] [--log-format=json] gofer --sock-fd=3 [--log-fd=4]
//         --rootfs=PATH [--readonly] [--mount=ro:PATH|rw:PATH]... -- ID
//     new mount namespace; fds 0,1 /dev/null, 2 runsc's stderr, 3 the gofer
//     end of a SOCK_SEQPACKET socketpair.
//   runsc [--debug] [--log-format=json] boot --config-fd=3 --gofer-fd=4
//         --error-fd=5 [--log-fd=6] -- ID
//     new pid, mount, uts, ipc and net namespaces (it is pid 1); fds 0-2
//     runsc's stdio, 3 a sealed memfd with the BootRequest JSON
//     (boot_config.h), 4 the sentry end of the socketpair, 5 a pipe on which
//     it writes why the container could not start (then exits 1).
// Claims spec.id under globals.root, starts the gofer and the sandbox, waits
// for the sandbox while forwarding kForwardedSignals to it, then stops the
// gofer and removes the state. Returns the container init's status as runc
// reports it (the code, 128+N for signal N), or why it could not run it.
// Nothing is left behind on any path.
absl::StatusOr<int> RunSandbox(const GlobalOptions& globals,
                               const SandboxSpec& spec);

// The log fd for a child command ("boot", "gofer"), by the flags: a file in
// --debug-log, else the --log file, else stderr with --debug or --strace,
// else none (invalid fd).
absl::StatusOr<cv::UniqueFd> OpenChildLog(const GlobalOptions& globals,
                                          absl::string_view command);

// The global flags a child command is started with (its log settings).
std::vector<std::string> ChildGlobalFlags(const GlobalOptions& globals);

}  // namespace runsc

#endif  // CVISOR_RUNSC_SANDBOX_H_
