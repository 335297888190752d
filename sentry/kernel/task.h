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
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/platform.h"

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

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<uint32_t> groups;
};

class Task final {
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
  // Makes the task's thread come back from the application promptly (any
  // thread; a no-op before the task has a context).
  void Interrupt() {
    std::lock_guard<std::mutex> lock(context_mu_);
    if (context_) context_->Interrupt();
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
  uint64_t signal_mask = 0;
  uint64_t altstack_sp = 0;
  uint64_t altstack_size = 0;
  std::string comm;  // PR_SET_NAME, /proc/[pid]/comm

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
  std::mutex context_mu_;  // guards context_ against Interrupt()
  std::unique_ptr<platform::Context> context_;
  platform::Registers regs_{};
};

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_TASK_H_
