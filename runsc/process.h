// Child processes of runsc: `runsc boot` and `runsc gofer`, re-executed from
// /proc/self/exe into new namespaces. A Child owns the process through a
// pidfd (no pid-reuse races when signalling or waiting) and kills and reaps
// it when dropped, so no error path leaves a process behind.
#ifndef CVISOR_RUNSC_PROCESS_H_
#define CVISOR_RUNSC_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace runsc {

// How a process ended.
struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit code, or the signal number if signaled

  // What a shell (and runc) reports: the code, or 128+N for signal N.
  int ShellStatus() const { return signaled ? 128 + code : code; }
  // "exit status 3" or "killed by signal 9 (SIGKILL)".
  std::string ToString() const;
};

struct SpawnOptions {
  std::string name;  // for messages: "runsc boot"
  std::string path = "/proc/self/exe";
  std::vector<std::string> argv;
  std::vector<std::string> env;  // the complete environment
  // CLONE_NEW* flags for clone3(2).
  uint64_t clone_flags = 0;
  // {fd in this process, fd number in the child}. Every other fd is closed
  // in the child. The targets should be 0..N without gaps.
  std::vector<std::pair<int, int>> fds;
  // setsid(2): the child leaves runsc's session, so a terminal's ^C reaches
  // only runsc (which forwards it once), as runc's container processes do.
  bool new_session = true;
  // Dispositions to set in the child before exec (runsc changes SIGPIPE).
  std::vector<std::pair<int, struct sigaction>> sigactions;
};

class Child final {
 public:
  // Starts the child. It runs with PR_SET_PDEATHSIG=SIGKILL (so a killed
  // runsc takes it along), an empty signal mask, and, with CLONE_NEWNS, its
  // mounts made private so nothing it mounts propagates to the host.
  // Failures up to the execve are reported here, naming the step.
  static absl::StatusOr<Child> Spawn(const SpawnOptions& options);

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Kills (SIGKILL) and reaps the child unless it was reaped already.
  ~Child();

  pid_t pid() const { return pid_; }
  // Becomes readable (POLLIN) when the child exits.
  int pidfd() const { return pidfd_.get(); }
  bool reaped() const { return status_.has_value(); }
  const std::optional<ExitStatus>& status() const { return status_; }

  absl::Status Signal(int sig);
  // Reaps the child if it has exited; nullopt if it still runs.
  absl::StatusOr<std::optional<ExitStatus>> TryWait();
  absl::StatusOr<ExitStatus> Wait();
  // SIGKILL and reap.
  ExitStatus Kill();

 private:
  Child(pid_t pid, cv::UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  absl::StatusOr<std::optional<ExitStatus>> WaitImpl(bool block);

  pid_t pid_ = -1;
  cv::UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

}  // namespace runsc

#endif  // CVISOR_RUNSC_PROCESS_H_
