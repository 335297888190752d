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
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/wait.h"

namespace sentry {

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
  int exit_signal = SIGCHLD;     // sent to the parent on exit; 0 for none
  uint32_t uid = 0;              // real uid at creation (SIGCHLD's si_uid)
  bool child_subreaper = false;  // PR_SET_CHILD_SUBREAPER
  // creds.cc state: PR_SET_DUMPABLE (0 or 1; per mm in Linux, which is per
  // process here), guarded by mu.
  int dumpable = 1;
  bool zombie = false;         // exited, not yet reaped
  int exit_status = 0;         // wait(2) status once a zombie
  bool group_exiting = false;  // exit_group() or a fatal signal
  int group_exit_status = 0;
  std::array<rlimit, RLIM_NLIMITS> rlimits{};
  std::vector<Task*> tasks;  // live threads, guarded by mu

  // Signal state, guarded by the kernel's tree lock (Kernel::signal_mu()).
  std::array<KernelSigaction, kNumSignals> actions{};  // index signo-1
  SignalQueue pending;  // process-directed signals
  // Job control. A stop signal sets stop_requested; each thread parks when
  // it next handles signals, and the last one to park makes the group
  // stopped and tells the parent. SIGCONT (or SIGKILL) ends it.
  bool stop_requested = false;
  bool stopped = false;
  int stop_signal = 0;
  int threads_parked = 0;
  // What wait(2) has still to report: WUNTRACED a stop, WCONTINUED a
  // continue. Each is consumed by one report (unless WNOWAIT).
  bool stop_report = false;
  bool continue_report = false;
  // wait4/waitid sleepers of this process, told when a child changes state.
  vfs::WaiterList child_waiters;
  // CPU time of exited threads and of reaped children (getrusage, times).
  int64_t dead_threads_utime_ns = 0, dead_threads_stime_ns = 0;
  int64_t children_utime_ns = 0, children_stime_ns = 0;
  // POSIX and interval timers (timers.h); created on first use.
  std::shared_ptr<class TimerTable> timers;

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

  // Every process, live or zombie, in pid order (for /proc). Takes the
  // tree lock.
  std::vector<std::shared_ptr<ThreadGroup>> ThreadGroups();

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
  // does (-1 any, >0 that pid, 0 own group, <-1 that group); `options` are
  // waitid's (WEXITED, WSTOPPED, WCONTINUED, WNOHANG, WNOWAIT, __WALL,
  // __WCLONE). Returns the pid reported, 0 (WNOHANG, none ready), -ECHILD,
  // or -kERestartSys when a signal interrupts the wait.
  struct WaitResult {
    int pid = 0;
    int status = 0;  // wait(2) status encoding
    int code = 0;    // CLD_* for waitid
    uint32_t uid = 0;
    int64_t utime_ns = 0, stime_ns = 0;
  };
  int64_t WaitChild(Task& task, int pid, int options, WaitResult* out);

  FutexTable& futexes() { return futexes_; }

  // ---- Signals ----
  // The lock guarding every task's and process's signal state (masks,
  // pending queues, actions, job-control state) and the process tree.
  std::mutex& signal_mu() { return mu_; }

  // Sends `info` to the process `tgid` (any thread not blocking it takes
  // it) or to the thread `tid`. `from_outside`: the sender is outside the
  // sandbox (runsc forwarding a signal to the container), which can reach
  // the init with SIGKILL/SIGSTOP even when it has no handler. Returns 0,
  // -ESRCH (no such process or thread) or -EINVAL (bad signal number).
  // Signal 0 only checks that the target exists.
  int SignalProcess(int tgid, const siginfo_t& info, bool from_outside = false);
  int SignalThread(int tid, const siginfo_t& info);
  // kill(2)'s target forms: pid > 0, 0 (caller's group), -1 (every process
  // but the init and the caller), < -1 (that group). Checks permission.
  int Kill(Task& sender, int pid, const siginfo_t& info);
  // Same as above with the lock held; `tg`/`task` must be live.
  int SendToGroupLocked(ThreadGroup& tg, const siginfo_t& info,
                        bool from_outside);
  int SendToTaskLocked(Task& task, const siginfo_t& info);
  // A synchronous fault in `task`: delivered even if blocked or ignored
  // (then with the default action), as Linux's force_sig.
  void ForceSignal(Task& task, const siginfo_t& info);

  // The monotonic time the kernel booted (for uptime).
  int64_t boot_time_ns() const { return boot_time_ns_; }

 private:
  friend class Task;  // signal delivery works on the state below

  std::unique_ptr<platform::Platform> platform_;
  KernelOptions options_;
  int64_t boot_time_ns_;
  FutexTable futexes_;

  void KillAllLocked();
  void ExitRobustList(Task& task);
  void ExitGroupLocked(ThreadGroup& tg, int status);
  void ReparentChildrenLocked(ThreadGroup& dying);
  // Makes the group stopped once every thread has parked.
  void CompleteGroupStopLocked(ThreadGroup& tg);
  // Tells `tg`'s parent about a change of state (exit, stop, continue):
  // SIGCHLD or the child's exit signal, and a wake-up for its waiters.
  void NotifyParentLocked(ThreadGroup& tg, int code, int status, int signo);
  // Whether `tg` must take `signo` at all: ignored signals (by action or,
  // for the init, by having no handler) are dropped at send time.
  bool IgnoredLocked(ThreadGroup& tg, int signo, uint64_t blocked,
                     bool from_outside);
  // Job-control side effects of sending `signo` to `tg`, which happen even
  // if the signal is then ignored: SIGCONT resumes a stopped group and
  // cancels pending stops; a stop signal cancels a pending SIGCONT.
  void PrepareSignalLocked(ThreadGroup& tg, int signo);
  bool MayKillLocked(Task& sender, ThreadGroup& target, int signo);
  // The thread of `tg` that takes a process-directed `signo`, or null if
  // every thread blocks it.
  Task* PickTargetLocked(ThreadGroup& tg, int signo);
  // Whether `tg`'s process group is orphaned: no member has a parent in
  // another group of the same session.
  bool OrphanedPgrpLocked(ThreadGroup& tg);

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
inline int StoppedStatus(int signo) { return ((signo & 0xff) << 8) | 0x7f; }
inline constexpr int kContinuedStatus = 0xffff;

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_KERNEL_H_
