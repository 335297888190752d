// Task: one application thread, and the state a syscall handler reaches
// through it (its process, address space, fd table, file system context and
// credentials). Each Task runs on its own sentry host thread, which owns the
// platform Context.
#ifndef CVISOR_SENTRY_KERNEL_TASK_H_
#define CVISOR_SENTRY_KERNEL_TASK_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform/platform.h"
#include "sentry/kernel/signal.h"
#include "sentry/vfs/wait.h"

namespace sentry {

namespace mm {
class MemoryManager;
}
namespace vfs {
class FdTable;
class FsContext;
}  // namespace vfs

class Kernel;
class ThreadGroup;

// A vfork parent sleeps on this until its child execs or exits.
struct VforkDone {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  void Signal() {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [this] { return done; });
  }
};

// A task's credentials: ids and capability sets (bit N is capability N,
// as capget(2) reports them). The sandbox's first task gets root's ids and
// the capabilities the spec grants.
struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<uint32_t> groups;
  uint64_t cap_effective = 0, cap_permitted = 0, cap_inheritable = 0;
  uint64_t cap_bounding = 0, cap_ambient = 0;
  uint32_t securebits = 0;
  bool HasCap(int cap) const { return (cap_effective >> cap) & 1; }
};

class Task final : public vfs::Interruptor {
 public:
  Task(Kernel& kernel, std::shared_ptr<ThreadGroup> tg, int tid);
  ~Task();
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  int tid() const { return tid_; }
  Kernel& kernel() { return kernel_; }
  ThreadGroup& thread_group() { return *tg_; }
  const std::shared_ptr<ThreadGroup>& shared_thread_group() { return tg_; }

  mm::MemoryManager& mm() { return *mm_; }
  vfs::FdTable& fd_table() { return *fd_table_; }
  vfs::FsContext& fs() { return *fs_; }
  Credentials& creds() { return creds_; }
  platform::Context& context() { return *context_; }
  platform::Registers& regs() { return regs_; }

  void set_mm(std::shared_ptr<mm::MemoryManager> mm) { mm_ = std::move(mm); }
  const std::shared_ptr<mm::MemoryManager>& shared_mm() { return mm_; }
  void set_fd_table(std::shared_ptr<vfs::FdTable> t) {
    fd_table_ = std::move(t);
  }
  const std::shared_ptr<vfs::FdTable>& shared_fd_table() { return fd_table_; }
  void set_fs(std::shared_ptr<vfs::FsContext> fs) { fs_ = std::move(fs); }
  const std::shared_ptr<vfs::FsContext>& shared_fs() { return fs_; }
  // Replaces the platform context (exec). The old one is destroyed here, so
  // this runs on the task's own thread.
  void set_context(std::unique_ptr<platform::Context> c) {
    std::unique_ptr<platform::Context> old;
    std::lock_guard<std::mutex> lock(context_mu_);
    old = std::exchange(context_, std::move(c));
  }
  // The host pid and tid of the stub thread running the task; false before
  // the task has a context. Any thread (the context may be replaced by exec
  // meanwhile: this reads it under the lock that guards that).
  bool StubIds(pid_t* pid, pid_t* tid) {
    std::lock_guard<std::mutex> lock(context_mu_);
    if (!context_) return false;
    *pid = context_->address_space().pid();
    *tid = context_->tid();
    return true;
  }

  // Makes the task's thread come back from the application promptly (any
  // thread; a no-op before the task has a context).
  void Interrupt() {
    std::lock_guard<std::mutex> lock(context_mu_);
    if (context_) context_->Interrupt();
  }

  // rt_sigreturn: restores the registers, mask and FP state saved in the
  // signal frame at the stack pointer. Returns 0, or a negative errno when
  // the frame is unreadable (then the task gets SIGSEGV).
  int SigReturn();
  // Recomputes whether signals await delivery after the mask changed or a
  // signal was taken. signal_mu() held.
  void RecalcWakeLocked();

  // Tells the task it has something to act on (a signal it does not block,
  // a stop, exit): a sleep it is in ends with EINTR, and it handles signals
  // before it next runs application code. Called with signal_mu() held.
  void Wake();
  // vfs::Interruptor: sleeps on this task's thread end when it is woken.
  bool Arm(vfs::Waiter* w) override;
  bool Disarm() override;
  // True when woken and not yet handled (any thread, no lock).
  bool interrupted() const {
    return interrupt_pending_.load(std::memory_order_acquire);
  }

  // The task's run loop: switch into the application, serve what stopped
  // it, repeat until the task exits. Runs on the task's own host thread.
  void Run();

  // Application memory access. Each returns 0 or a negative errno (-EFAULT
  // for a bad address; CopyInString also -ENAMETOOLONG when no NUL is found
  // within `max` bytes).
  int CopyIn(uint64_t addr, void* buf, size_t len);
  int CopyOut(uint64_t addr, const void* buf, size_t len);
  int CopyInString(uint64_t addr, size_t max, std::string* out);
  template <typename T>
  int CopyInObj(uint64_t addr, T* out) {
    return CopyIn(addr, out, sizeof(T));
  }
  template <typename T>
  int CopyOutObj(uint64_t addr, const T& in) {
    return CopyOut(addr, &in, sizeof(T));
  }
  // Reads a NULL-terminated array of string pointers (argv, envp).
  int CopyInStringVector(uint64_t addr, std::vector<std::string>* out);

  // Thread state the syscalls keep.
  uint64_t clear_child_tid = 0;
  uint64_t robust_list_head = 0;
  uint64_t robust_list_len = 0;

  // ---- Signals: guarded by kernel().signal_mu(); the task's own thread
  // may read its own fields without it. ----
  uint64_t signal_mask = 0;
  // rt_sigtimedwait unblocks the signals it waits for; what was blocked
  // before still counts when deciding whether a signal is ignored.
  uint64_t real_blocked = 0;
  SignalQueue pending;  // thread-directed signals
  bool parked = false;  // stopped in a group stop
  // A mask to restore once signals are handled (rt_sigsuspend, ppoll,
  // pselect6): saved in the signal frame if a handler runs.
  std::optional<uint64_t> saved_mask;
  uint64_t altstack_sp = 0;
  uint64_t altstack_size = 0;
  bool altstack_autodisarm = false;
  // What restart_syscall(2) runs after a signal interrupted a syscall that
  // returned kERestartBlock (nanosleep, clock_nanosleep, poll...).
  std::function<int64_t(Task&)> restart_fn;
  // The fault being delivered (x86 trap number and error code, for the
  // frame's sigcontext).
  uint64_t fault_trapno = 0, fault_err = 0;
  // Set by a handler that replaced the registers wholesale (rt_sigreturn):
  // the run loop must not store its return value in rax.
  bool regs_replaced = false;
  std::string comm;       // PR_SET_NAME, /proc/[pid]/comm
  int pdeath_signal = 0;  // PR_SET_PDEATHSIG
  // ---- creds.cc state (prctl, scheduling). Per thread, as in Linux;
  // written under kernel().signal_mu() (see kernel/credentials.h). ----
  bool no_new_privs = false;                // PR_SET_NO_NEW_PRIVS, sticky
  uint64_t timer_slack_ns = 50000;          // PR_SET_TIMERSLACK
  uint64_t default_timer_slack_ns = 50000;  // restored by PR_SET_TIMERSLACK 0
  int nice = 0;                             // setpriority, -20..19
  int sched_policy = 0;                     // SCHED_OTHER, _FIFO, ...
  int sched_priority = 0;                   // 1..99 for SCHED_FIFO/RR
  bool sched_reset_on_fork = false;         // SCHED_RESET_ON_FORK

  // Set when the task must leave its run loop: exit(), exit_group(), or
  // another thread's exit_group / the init's death (then from another
  // thread, which also interrupts the context).
  std::atomic<bool> exiting{false};
  int exit_status = 0;  // wait(2) status encoding

  // CLONE_VFORK: the parent waits until the child execs or exits.
  std::shared_ptr<VforkDone> vfork_done;

 private:
  Kernel& kernel_;
  std::shared_ptr<ThreadGroup> tg_;
  int tid_;
  std::shared_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<vfs::FdTable> fd_table_;
  std::shared_ptr<vfs::FsContext> fs_;
  Credentials creds_;
  // Runs signal delivery before the task returns to the application.
  // `syscall_ret` is the result of the syscall just served (a restart code
  // decides how it continues) or 0.
  void HandleSignals(int64_t syscall_ret);
  // Fills fault_trapno/fault_err for a fault Switch() reported.
  void FaultTrap(const platform::SwitchResult& r);
  // Whether the task has something to act on. signal_mu() held.
  bool NeedsWakeLocked() const;
  // Builds the frame for a handler; false if the stack is unusable.
  bool SetupFrame(const siginfo_t& info, const KernelSigaction& act,
                  uint64_t mask);

  std::atomic<bool> interrupt_pending_{false};
  std::atomic<bool> in_app_{false};  // in (or about to enter) Switch()
  std::mutex block_mu_;              // guards blocker_
  vfs::Waiter* blocker_ = nullptr;   // the sleep to end on Wake()
  std::mutex context_mu_;            // guards context_ against Interrupt()
  std::unique_ptr<platform::Context> context_;
  platform::Registers regs_{};
};

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_TASK_H_
