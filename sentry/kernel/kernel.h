// Kernel: the state shared by every task of a sandbox — the platform, the
// PID namespace, thread groups, and the options the sandbox was booted with.
#ifndef CVISOR_SENTRY_KERNEL_KERNEL_H_
#define CVISOR_SENTRY_KERNEL_KERNEL_H_

#include <signal.h>
#include <sys/resource.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/platform.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/task.h"

namespace sentry {

// The x86-64 kernel's struct sigaction (rt_sigaction's argument).
struct KernelSigaction {
  uint64_t handler = 0;  // SIG_DFL (0) / SIG_IGN (1) / address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};

// A process: the threads sharing a pid, with the state they share.
class ThreadGroup final {
 public:
  explicit ThreadGroup(int tgid) : tgid_(tgid) {}
  int tgid() const { return tgid_; }

  std::mutex mu;
  int ppid = 0;  // 0 for the init process (its parent is outside the sandbox)
  int pgid = 0;
  int sid = 0;

  // Process-tree state, guarded by the kernel's tree lock (Kernel::tree_mu).
  int exit_signal = SIGCHLD;   // sent to the parent on exit; 0 for none
  bool zombie = false;         // exited, not yet reaped
  int exit_status = 0;         // wait(2) status once a zombie
  bool group_exiting = false;  // exit_group() or a fatal signal
  int group_exit_status = 0;
  std::array<KernelSigaction, 64> actions{};  // index signo-1
  std::array<rlimit, RLIM_NLIMITS> rlimits{};
  std::vector<Task*> tasks;  // live threads, guarded by mu

 private:
  const int tgid_;
};

struct KernelOptions {
  std::string hostname = "localhost";
  std::string domainname = "(none)";
  bool strace = false;
  std::vector<std::pair<int, rlimit>> rlimits;
};

class Kernel final {
 public:
  Kernel(std::unique_ptr<platform::Platform> platform, KernelOptions options);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  platform::Platform& platform() { return *platform_; }
  const KernelOptions& options() const { return options_; }
  const std::string& hostname() const { return options_.hostname; }
  const std::string& domainname() const { return options_.domainname; }

  // Allocates a thread id in the sandbox's PID namespace (the first is 1).
  int AllocateTid();

  // The rlimits a new process starts with (Linux defaults plus the spec's).
  std::array<rlimit, RLIM_NLIMITS> DefaultRlimits() const;

  // Runs `task` on a new host thread; `start` runs first on that thread
  // (it builds the address space, which binds the platform context to the
  // thread) and returns 0 or a negative errno, which StartTask returns after
  // the task is running or has failed to start. `error` receives a message.
  int StartTask(std::unique_ptr<Task> task,
                std::function<int(Task&, std::string*)> start,
                std::string* error);

  // Blocks until the init process (tid 1) has exited, every task has left
  // and returns its wait(2) status.
  int WaitForInit();

  // The live or zombie process with this pid, or null.
  std::shared_ptr<ThreadGroup> FindThreadGroup(int tgid);

  // True once every task thread has left.
  bool AllTasksGone();

  // Called by a task's thread when it leaves its run loop.
  void TaskExited(Task& task);

  // Registers a new thread group (a process) and its first task.
  void AddThreadGroup(std::shared_ptr<ThreadGroup> tg);

  // execve(): the other threads of `task`'s process are killed.
  void KillOtherThreads(Task& task);

  // exit_group(): every other thread of `task`'s group leaves its loop.
  void ExitGroup(Task& task, int status);

  // wait4/waitid for children of `task`'s process. `pid` selects as wait4
  // does (-1 any, >0 that pid, 0 own group, <-1 that group). Returns the
  // reaped pid, 0 (WNOHANG, none ready), or -ECHILD. `status` receives the
  // wait status.
  int64_t WaitChild(Task& task, int pid, int options, int* status, bool reap);

  FutexTable& futexes() { return futexes_; }

  // The monotonic time the kernel booted (for uptime).
  int64_t boot_time_ns() const { return boot_time_ns_; }

 private:
  std::unique_ptr<platform::Platform> platform_;
  KernelOptions options_;
  int64_t boot_time_ns_;
  FutexTable futexes_;

  void KillAllLocked();

  std::mutex mu_;  // the tree lock: tasks, groups, parentage, exits
  std::condition_variable cv_;
  std::map<int, std::shared_ptr<ThreadGroup>> groups_;  // incl. zombies
  std::map<int, Task*> tasks_;                          // live tasks
  int next_tid_ = 1;
  int live_tasks_ = 0;
  bool init_exited_ = false;
  int init_status_ = 0;
};

// Linux's wait(2) status encodings.
inline int ExitedStatus(int code) { return (code & 0xff) << 8; }
inline int SignaledStatus(int signo) { return signo & 0x7f; }

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_KERNEL_H_
