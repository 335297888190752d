#include "runsc/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace runsc {
namespace {

// struct clone_args from <linux/sched.h>, which clashes with <sched.h>.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its
// wrappers; the raw calls are as simple.
int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(
      syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// What the child reports through the exec-status pipe when a step before
// execve fails.
enum ChildStep : int {
  kStepPdeathsig = 1,
  kStepParentGone,
  kStepSigmask,
  kStepSigaction,
  kStepSetsid,
  kStepMountPrivate,
  kStepDupFd,
  kStepExec,
};

const char* StepName(int step) {
  switch (step) {
    case kStepPdeathsig:
      return "prctl(PR_SET_PDEATHSIG)";
    case kStepParentGone:
      return "parent exited";
    case kStepSigmask:
      return "sigprocmask";
    case kStepSigaction:
      return "sigaction";
    case kStepSetsid:
      return "setsid";
    case kStepMountPrivate:
      return "making mounts private";
    case kStepDupFd:
      return "setting up fds";
    case kStepExec:
      return "exec";
  }
  return "?";
}

struct ChildReport {
  int step;
  int err;
};

[[noreturn]] void ChildFail(int report_fd, int step) {
  ChildReport r{step, errno};
  (void)!write(report_fd, &r, sizeof r);
  _exit(127);
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (!signaled) return absl::StrCat("exit status ", code);
  const char* name = sigabbrev_np(code);
  return absl::StrCat("killed by signal ", code, " (SIG", name ? name : "?",
                      ")");
}

absl::StatusOr<Child> Child::Spawn(const SpawnOptions& options) {
  // Everything the child needs is prepared here: between clone and execve
  // it may only make async-signal-safe calls (it is a fork of a process
  // whose allocator locks may be held).
  std::vector<char*> argv;
  for (const auto& a : options.argv)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : options.env)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return cv::ErrnoStatus(errno, "pipe2");
  cv::UniqueFd report_r(report[0]), report_w(report[1]);
  // Lets the child see whether runsc died before PR_SET_PDEATHSIG took hold
  // (getppid() cannot tell: it is 0 in a new pid namespace).
  cv::UniqueFd self(PidfdOpen(getpid()));
  if (!self) return cv::ErrnoStatus(errno, "pidfd_open");

  // Above every fd involved, so that moving fds into place never clobbers
  // one not moved yet.
  int high = std::max({report_w.get(), self.get(), 2});
  int max_target = 2;
  for (const auto& [from, to] : options.fds) {
    high = std::max({high, from, to});
    max_target = std::max(max_target, to);
  }
  high += 1;
  std::vector<int> moved(options.fds.size());
  sigset_t empty;
  sigemptyset(&empty);

  int pidfd = -1;
  CloneArgs args{};
  args.flags = options.clone_flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return cv::ErrnoStatus(errno, "clone3");

  if (pid == 0) {
    int rfd = report_w.get();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(rfd, kStepPdeathsig);
    pollfd p{self.get(), POLLIN, 0};
    if (poll(&p, 1, 0) != 0) {
      errno = ESRCH;
      ChildFail(rfd, kStepParentGone);
    }
    if (sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) {
      ChildFail(rfd, kStepSigmask);
    }
    for (const auto& [sig, action] : options.sigactions) {
      if (sigaction(sig, &action, nullptr) != 0) ChildFail(rfd, kStepSigaction);
    }
    if (options.new_session && setsid() < 0) ChildFail(rfd, kStepSetsid);
    if ((options.clone_flags & CLONE_NEWNS) &&
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ChildFail(rfd, kStepMountPrivate);
    }
    rfd = fcntl(rfd, F_DUPFD_CLOEXEC, high);
    if (rfd < 0) ChildFail(report_w.get(), kStepDupFd);
    for (size_t i = 0; i < options.fds.size(); ++i) {
      moved[i] = fcntl(options.fds[i].first, F_DUPFD_CLOEXEC, high);
      if (moved[i] < 0) ChildFail(rfd, kStepDupFd);
    }
    for (size_t i = 0; i < options.fds.size(); ++i) {
      // dup2 clears FD_CLOEXEC on the target.
      if (dup2(moved[i], options.fds[i].second) < 0) ChildFail(rfd, kStepDupFd);
    }
    // Nothing else crosses the exec: not our own fds, not whatever runsc's
    // caller left open.
    for (int fd = 0; fd <= max_target; ++fd) {
      bool wanted = false;
      for (const auto& m : options.fds) wanted |= m.second == fd;
      if (!wanted) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (close_range(max_target + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      ChildFail(rfd, kStepDupFd);
    }
    execve(options.path.c_str(), argv.data(), envp.data());
    ChildFail(rfd, kStepExec);
  }

  Child child(static_cast<pid_t>(pid), cv::UniqueFd(pidfd));
  report_w.reset();
  ChildReport r;
  ssize_t n;
  do {
    n = read(report_r.get(), &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof r) {
    (void)child.Wait();
    return cv::ErrnoStatus(
        r.err, absl::StrCat("starting ", options.name, ": ", StepName(r.step)));
  }
  return child;
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      status_(std::move(other.status_)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    if (pidfd_ && !status_) Kill();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_ = std::move(other.status_);
  }
  return *this;
}

Child::~Child() {
  if (pidfd_ && !status_) Kill();
}

absl::Status Child::Signal(int sig) {
  if (status_) return cv::ErrnoStatus(ESRCH, "pidfd_send_signal");
  if (PidfdSendSignal(pidfd_.get(), sig) != 0) {
    return cv::ErrnoStatus(errno, "pidfd_send_signal");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ExitStatus>> Child::WaitImpl(bool block) {
  if (status_) return status_;
  if (!pidfd_) return absl::FailedPreconditionError("no child");
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int r;
  do {
    r = waitid(P_PIDFD, pidfd_.get(), &info, WEXITED | (block ? 0 : WNOHANG));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return cv::ErrnoStatus(errno, "waitid");
  if (info.si_pid == 0) return std::optional<ExitStatus>();  // still running
  ExitStatus s;
  s.signaled = info.si_code != CLD_EXITED;
  s.code = info.si_status;
  status_ = s;
  return status_;
}

absl::StatusOr<std::optional<ExitStatus>> Child::TryWait() {
  return WaitImpl(false);
}

absl::StatusOr<ExitStatus> Child::Wait() {
  absl::StatusOr<std::optional<ExitStatus>> s = WaitImpl(true);
  if (!s.ok()) return s.status();
  return **s;
}

ExitStatus Child::Kill() {
  if (status_) return *status_;
  PidfdSendSignal(pidfd_.get(), SIGKILL);
  absl::StatusOr<ExitStatus> s = Wait();
  // waitid on our own child with a valid pidfd cannot fail; keep a value.
  return s.ok() ? *s : ExitStatus{true, SIGKILL};
}

}  // namespace runsc
