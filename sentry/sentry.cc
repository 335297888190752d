#include "sentry/sentry.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "gofer/client.h"
#include "sentry/fs/host_file.h"
#include "sentry/kernel/exec.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mounts.h"
#include "sentry/procfs/procfs.h"
#include "sentry/signal_forward.h"
#include "sentry/syscalls/mount.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

Credentials InitCredentials(const BootConfig& c) {
  Credentials creds;
  creds.ruid = creds.euid = creds.suid = creds.fsuid = c.uid;
  creds.rgid = creds.egid = creds.sgid = creds.fsgid = c.gid;
  creds.groups = c.additional_gids;
  // As runc leaves them before it execs the container's process (which
  // then recomputes them from these, see ApplyExecCredentials).
  creds.cap_effective = c.capabilities.effective;
  creds.cap_permitted = c.capabilities.permitted;
  creds.cap_inheritable = c.capabilities.inheritable;
  creds.cap_bounding = c.capabilities.bounding;
  // Linux keeps an ambient capability only while it is permitted and
  // inheritable; runc's attempt to raise any other fails and is skipped.
  creds.cap_ambient = c.capabilities.ambient & c.capabilities.permitted &
                      c.capabilities.inheritable;
  return creds;
}

// The sentry is pid 1 of a new pid namespace, but the /proc it inherited
// describes the host's: the platform reads /proc/<stub pid>, which must name
// our own stubs. Mount a procfs of our namespace over it (our mount namespace
// is private, so the host's view is untouched).
absl::Status MountOwnProc() {
  if (getpid() != 1) return absl::OkStatus();
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            nullptr) != 0) {
    return cv::ErrnoStatus(errno, "mounting the sentry's /proc");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> Boot(const BootConfig& config) {
  if (config.argv.empty()) {
    return absl::InvalidArgumentError("no program to run (empty argv)");
  }
  // Before any thread starts: every sentry thread inherits the mask.
  SignalForwarder::BlockForwardedSignals();
  RETURN_IF_ERROR(MountOwnProc());
  // The sentry holds host fds for the sandbox (open files, cached read-only
  // fds of gofer files, memfds): take the whole hard limit. The container's
  // own limits are the kernel's, not these.
  if (rlimit rl;
      getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<platform::Platform> platform,
                   platform::Platform::Create(config.platform));

  KernelOptions options;
  options.hostname = config.hostname;
  options.strace = config.strace;
  for (const Rlimit& r : config.rlimits) {
    options.rlimits.push_back({r.resource, {r.soft, r.hard}});
  }
  // The kernel outlives Boot() if a task is still blocked in a host wait
  // when the init dies: the sandbox process exiting takes care of it.
  auto* kernel_ptr = new Kernel(std::move(platform), std::move(options));
  Kernel& kernel = *kernel_ptr;

  SetProcfsFactory([](Kernel& k) {
    procfs::ProcfsMount m = procfs::NewProcfs(k);
    return NewFileSystem{std::move(m.fs), std::move(m.root)};
  });
  auto client = std::make_shared<gofer::Client>(cv::UniqueFd(config.gofer_fd));
  ASSIGN_OR_RETURN(std::shared_ptr<vfs::FsContext> fs,
                   BuildFileSystemTree(config, client, kernel));

  int tid = kernel.AllocateTid();
  auto tg = std::make_shared<ThreadGroup>(tid);
  tg->pgid = tg->sid = tid;
  tg->rlimits = kernel.DefaultRlimits();
  kernel.AddThreadGroup(tg);
  auto task = std::make_unique<Task>(kernel, tg, tid);
  task->creds() = InitCredentials(config);
  task->no_new_privs = config.no_new_privs;
  fs->SwapUmask(config.umask);
  tg->uid = task->creds().ruid;
  task->set_fs(fs);
  if (absl::Status s = vfs::ChangeDirectory(*fs, task->creds(), config.cwd);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("process.cwd \"", config.cwd,
                                               "\": ", s.message()));
  }

  auto fds = std::make_shared<vfs::FdTable>();
  for (int i = 0; i < 3; i++) {
    int host = fcntl(config.stdio_fds[i], F_DUPFD_CLOEXEC, 3);
    if (host < 0) continue;  // a closed stdio stays closed in the sandbox
    ASSIGN_OR_RETURN(vfs::FileRef file, fs::NewHostFile(cv::UniqueFd(host)));
    fds->InstallAt(i, std::move(file), false, vfs::FdTable::kMaxFds);
  }
  task->set_fd_table(fds);

  std::string error;
  int rc = kernel.StartTask(
      std::move(task),
      [&config](Task& t, std::string* err) -> int {
        auto path = LookPath(t, config.argv[0], config.envp);
        absl::Status s = path.ok() ? Exec(t, *path, config.argv, config.envp)
                                   : path.status();
        if (!s.ok()) {
          *err = std::string(s.message());
          return -cv::StatusToErrno(s);
        }
        return 0;
      },
      &error);
  if (rc != 0) {
    absl::Status s(cv::ErrnoStatus(-rc).code(), error);
    s.SetPayload(cv::kErrnoPayload, absl::Cord(absl::StrCat(-rc)));
    return s;
  }

  int status;
  {
    SignalForwarder forwarder(kernel);
    status = kernel.WaitForInit();
  }
  if (kernel.AllTasksGone()) {
    delete kernel_ptr;
  } else {
    cv::LogWarning(
        "tasks still blocked after the init exited; leaving them "
        "to the sandbox's exit");
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace sentry
