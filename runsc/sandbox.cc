#include "runsc/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "runsc/process.h"
#include "runsc/state.h"
#include "runsc/util.h"

extern char** environ;

namespace runsc {
namespace {

// How long the gofer gets to notice that the sandbox closed its socket and
// exit by itself before it is killed.
constexpr int kGoferGraceMs = 100;

constexpr uint64_t kBootNamespaces =
    CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
constexpr uint64_t kGoferNamespaces = CLONE_NEWNS;

// Blocks the forwarded signals for the lifetime of a run and reads them from
// a signalfd, so none is lost between spawning the sandbox and waiting, and
// none interrupts runsc. Restores the mask on the way out.
class SignalForwarding final {
 public:
  static absl::StatusOr<SignalForwarding> Start() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kForwardedSignals) sigaddset(&set, sig);
    SignalForwarding f;
    if (sigprocmask(SIG_BLOCK, &set, &f.old_mask_) != 0) {
      return cv::ErrnoStatus(errno, "sigprocmask");
    }
    f.fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!f.fd_) {
      int err = errno;
      sigprocmask(SIG_SETMASK, &f.old_mask_, nullptr);
      return cv::ErrnoStatus(err, "signalfd");
    }
    f.active_ = true;
    return f;
  }
  SignalForwarding(SignalForwarding&& o) noexcept
      : fd_(std::move(o.fd_)),
        old_mask_(o.old_mask_),
        active_(std::exchange(o.active_, false)) {}
  ~SignalForwarding() {
    if (!active_) return;
    // Signals that came after the sandbox ended are dropped rather than
    // acted on once unblocked: runsc is about to report the status.
    while (!Read().empty()) {
    }
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  int fd() const { return fd_.get(); }

  // The pending signals, oldest first.
  std::vector<int> Read() {
    std::vector<int> out;
    signalfd_siginfo info[8];
    for (;;) {
      ssize_t n = read(fd_.get(), info, sizeof info);
      if (n <= 0) break;
      for (size_t i = 0; i < n / sizeof info[0]; ++i) {
        out.push_back(static_cast<int>(info[i].ssi_signo));
      }
    }
    return out;
  }

 private:
  SignalForwarding() = default;
  cv::UniqueFd fd_;
  sigset_t old_mask_;
  bool active_ = false;
};

// Ignores SIGPIPE in runsc (a closed stderr must not kill it mid-cleanup)
// and remembers what the children should get back.
class IgnoreSigpipe final {
 public:
  IgnoreSigpipe() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &old_, nullptr); }
  const struct sigaction& old() const { return old_; }

 private:
  struct sigaction old_ {};
};

std::vector<std::string> Environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

absl::StatusOr<cv::UniqueFd> SealedMemfd(absl::string_view name,
                                         absl::string_view contents) {
  cv::UniqueFd fd(
      memfd_create(std::string(name).c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return cv::ErrnoStatus(errno, "memfd_create");
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return cv::ErrnoStatus(errno, "writing memfd");
    }
    done += n;
  }
  // The boot process reads what runsc validated, nothing else.
  if (fcntl(fd.get(), F_ADD_SEALS,
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return cv::ErrnoStatus(errno, "sealing memfd");
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return cv::ErrnoStatus(errno, "lseek");
  return fd;
}

bool IsForwarded(int sig) {
  for (int s : kForwardedSignals) {
    if (s == sig) return true;
  }
  return false;
}

// What the boot process wrote to its error fd: why the container could not
// start. Non-blocking: the sandbox has exited, whatever it wrote is there.
std::string ReadBootError(int fd) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  std::string msg;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    msg.append(buf, n);
    if (msg.size() > 65536) break;
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) {
    msg.pop_back();
  }
  return msg;
}

}  // namespace

absl::StatusOr<cv::UniqueFd> OpenChildLog(const GlobalOptions& globals,
                                          absl::string_view command) {
  std::string path;
  if (!globals.debug_log_dir.empty()) {
    path = absl::StrCat(globals.debug_log_dir, "/runsc.", command, ".log");
  } else if (!globals.log_path.empty()) {
    path = globals.log_path;
  } else if (globals.debug || globals.strace) {
    cv::UniqueFd fd(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
    if (!fd) return cv::ErrnoStatus(errno, "dup stderr");
    return fd;
  } else {
    return cv::UniqueFd();
  }
  cv::UniqueFd fd(
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) return PathError("open", path, errno);
  return fd;
}

std::vector<std::string> ChildGlobalFlags(const GlobalOptions& globals) {
  std::vector<std::string> flags;
  if (globals.debug) flags.push_back("--debug");
  if (globals.log_json) flags.push_back("--log-format=json");
  return flags;
}

absl::StatusOr<int> RunSandbox(const GlobalOptions& globals,
                               const SandboxSpec& spec) {
  // Signals first: one arriving after the state directory exists must not
  // kill runsc and leave the directory behind.
  IgnoreSigpipe sigpipe;
  ASSIGN_OR_RETURN(SignalForwarding signals, SignalForwarding::Start());

  ASSIGN_OR_RETURN(ContainerDir dir,
                   ContainerDir::Create(globals.root, spec.id));
  ContainerState state;
  state.id = spec.id;
  state.status = "creating";
  state.bundle = spec.bundle;
  state.annotations = spec.annotations;
  state.created = NowRfc3339();
  RETURN_IF_ERROR(dir.WriteState(state));
  std::vector<std::string> env = Environment();
  std::vector<std::string> flags = ChildGlobalFlags(globals);

  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    return cv::ErrnoStatus(errno, "socketpair");
  }
  cv::UniqueFd sentry_end(sp[0]), gofer_end(sp[1]);
  cv::UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return PathError("open", "/dev/null", errno);

  // The gofer: stdin/stdout on /dev/null (it serves files, not streams),
  // stderr shared so that a fatal error of its own is seen.
  ASSIGN_OR_RETURN(cv::UniqueFd gofer_log, OpenChildLog(globals, "gofer"));
  SpawnOptions g;
  g.name = "runsc gofer";
  g.argv = {"runsc"};
  g.argv.insert(g.argv.end(), flags.begin(), flags.end());
  g.argv.insert(g.argv.end(), {"gofer", "--sock-fd=3"});
  if (gofer_log) g.argv.push_back("--log-fd=4");
  g.argv.push_back(absl::StrCat("--rootfs=", spec.rootfs));
  if (spec.rootfs_readonly) g.argv.push_back("--readonly");
  for (const auto& [source, readonly] : spec.gofer_mounts) {
    g.argv.push_back(
        absl::StrCat("--mount=", readonly ? "ro:" : "rw:", source));
  }
  g.argv.insert(g.argv.end(), {"--", spec.id});
  g.env = env;
  g.clone_flags = kGoferNamespaces;
  g.fds = {{devnull.get(), 0},
           {devnull.get(), 1},
           {STDERR_FILENO, 2},
           {gofer_end.get(), 3}};
  if (gofer_log) g.fds.push_back({gofer_log.get(), 4});
  g.sigactions = {{SIGPIPE, sigpipe.old()}};
  cv::LogDebug("starting gofer for ", spec.rootfs,
               spec.rootfs_readonly ? " (read-only)" : "");
  ASSIGN_OR_RETURN(Child gofer, Child::Spawn(g));
  gofer_end.reset();
  gofer_log.reset();

  // The sandbox: the caller's stdio become the container's fds 0, 1, 2.
  ASSIGN_OR_RETURN(
      cv::UniqueFd config,
      SealedMemfd("runsc-boot-config", BootRequestToJson(spec.boot)));
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) return cv::ErrnoStatus(errno, "pipe2");
  cv::UniqueFd error_r(ep[0]), error_w(ep[1]);
  ASSIGN_OR_RETURN(cv::UniqueFd boot_log, OpenChildLog(globals, "boot"));
  SpawnOptions b;
  b.name = "runsc boot";
  b.argv = {"runsc"};
  b.argv.insert(b.argv.end(), flags.begin(), flags.end());
  b.argv.insert(b.argv.end(),
                {"boot", "--config-fd=3", "--gofer-fd=4", "--error-fd=5"});
  if (boot_log) b.argv.push_back("--log-fd=6");
  b.argv.insert(b.argv.end(), {"--", spec.id});
  b.env = env;
  b.clone_flags = kBootNamespaces;
  b.fds = {{STDIN_FILENO, 0}, {STDOUT_FILENO, 1},    {STDERR_FILENO, 2},
           {config.get(), 3}, {sentry_end.get(), 4}, {error_w.get(), 5}};
  if (boot_log) b.fds.push_back({boot_log.get(), 6});
  b.sigactions = {{SIGPIPE, sigpipe.old()}};
  ASSIGN_OR_RETURN(Child boot, Child::Spawn(b));
  sentry_end.reset();
  error_w.reset();
  config.reset();
  boot_log.reset();
  cv::LogDebug("sandbox started: boot pid ", boot.pid(), ", gofer pid ",
               gofer.pid());

  state.status = "running";
  state.pid = boot.pid();
  RETURN_IF_ERROR(dir.WriteState(state));
  if (!spec.pid_file.empty()) {
    RETURN_IF_ERROR(
        WriteFileAtomic(spec.pid_file, absl::StrCat(boot.pid()), 0644));
  }

  std::string failure;
  while (!boot.reaped()) {
    pollfd p[3] = {{signals.fd(), POLLIN, 0},
                   {boot.pidfd(), POLLIN, 0},
                   {gofer.reaped() ? -1 : gofer.pidfd(), POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return cv::ErrnoStatus(errno, "poll");
    }
    if (p[0].revents) {
      for (int sig : signals.Read()) {
        cv::LogDebug("forwarding signal ", sig, " (SIG", sigabbrev_np(sig),
                     ") to the sandbox");
        absl::Status s = boot.Signal(sig);
        if (!s.ok()) cv::LogDebug("forwarding signal ", sig, ": ", s.message());
      }
    }
    if (p[2].revents) {
      ASSIGN_OR_RETURN(std::optional<ExitStatus> gs, gofer.TryWait());
      // A gofer exits 0 only when the sandbox closed its socket, i.e. is
      // going away; anything else leaves the sandbox without files.
      if (gs && (gs->signaled || gs->code != 0)) {
        failure = absl::StrCat("gofer exited unexpectedly (", gs->ToString(),
                               "); stopping the sandbox");
        boot.Kill();
      }
    }
    if (p[1].revents) RETURN_IF_ERROR(boot.TryWait().status());
  }
  ExitStatus boot_status = *boot.status();
  cv::LogDebug("sandbox ", boot_status.ToString());

  if (!gofer.reaped()) {
    pollfd p{gofer.pidfd(), POLLIN, 0};
    poll(&p, 1, kGoferGraceMs);
    ASSIGN_OR_RETURN(std::optional<ExitStatus> gs, gofer.TryWait());
    if (!gs) {
      cv::LogDebug("gofer still running after the sandbox exited; killing it");
      gofer.Kill();
    } else if (gs->signaled || gs->code != 0) {
      cv::LogWarning("gofer ", gs->ToString());
    }
  }

  std::string boot_error = ReadBootError(error_r.get());
  state.status = "stopped";
  if (absl::Status s = dir.WriteState(state); !s.ok()) {
    cv::LogWarning("writing state: ", s.message());
  }
  if (absl::Status s = dir.Remove(); !s.ok()) {
    cv::LogWarning("removing container state: ", s.message());
  }

  if (!boot_error.empty()) return absl::FailedPreconditionError(boot_error);
  if (!failure.empty()) return absl::InternalError(failure);
  if (boot_status.signaled && !IsForwarded(boot_status.code)) {
    cv::LogWarning("sandbox ", boot_status.ToString());
  }
  return boot_status.ShellStatus();
}

}  // namespace runsc
