// The ptrace platform: application threads are stub threads traced with
// PTRACE_SYSEMU by the sentry thread that owns them. Internal to platform/;
// the rest of the sentry sees only platform/platform.h. Tests include this
// header for the test-only hooks.
//
// How it fits together:
// * stub.S is copied to a fixed address near the top of the address space
//   (stub.cc). A factory thread forks the stub template, which drops
//   everything but that region and the vDSO and installs a seccomp filter
//   allowing syscalls only from the stub code (stub_factory.cc).
// * NewAddressSpace: the factory clones a process from the template
//   (CLONE_PARENT: a child of the sentry); the caller seizes it briefly to
//   clone the first application thread, then claims that thread.
// * Stub process shape: the thread-group leader is a "manager" that only
//   ever sleeps in the stub's pause loop, untraced; every application thread
//   is a non-leader thread. A traced leader's exit is not reported while
//   other threads live, so keeping application threads off the leader means
//   every Context's exit is reported (and reaped) at once.
// * Under PTRACE_SYSEMU the host reports the syscall-entry stop and skips
//   the syscall before seccomp runs: application syscalls never reach the
//   filter. Injected syscalls (PTRACE_CONT at the stub's `syscall; int3`)
//   come from stub code and pass it. Code that ran untraced could make no
//   syscall outside the stub code.
// * Lifetime: traced threads die with their owner thread
//   (PTRACE_O_EXITKILL); every stub process dies with the factory thread
//   (PR_SET_PDEATHSIG, set by the stub code itself right after clone).
#ifndef CVISOR_PLATFORM_PTRACE_PTRACE_PLATFORM_H_
#define CVISOR_PLATFORM_PTRACE_PTRACE_PLATFORM_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "platform/platform.h"
#include "platform/ptrace/stub_factory.h"
#include "platform/ptrace/tracee.h"

namespace platform::ptrace_internal {

// Facts every context needs, shared so a context does not depend on the
// Platform object.
struct StubConfig {
  StubAddresses addrs;
  size_t xstate_size = 0;  // 0: FP state via PTRACE_GETFPREGS
  // The fd-import socketpair (owned by the platform): the sentry sends on
  // `import_send_fd`; `import_drain_fd` is a sentry copy of the stubs' end,
  // used to drop a datagram no stub took.
  int import_send_fd = -1;
  int import_drain_fd = -1;
};

class PtraceAddressSpace final : public AddressSpace {
 public:
  explicit PtraceAddressSpace(pid_t pid) : pid_(pid) {}
  ~PtraceAddressSpace() override { Release(); }
  PtraceAddressSpace(const PtraceAddressSpace&) = delete;
  PtraceAddressSpace& operator=(const PtraceAddressSpace&) = delete;

  pid_t pid() const override { return pid_; }
  ssize_t ReadMemory(uint64_t addr, void* buf, size_t len) override;
  ssize_t WriteMemory(uint64_t addr, const void* buf, size_t len) override;
  void Release() override;

  // Thread bookkeeping for contexts (claimed or pending). AddThread fails if
  // the address space was released.
  bool AddThread(pid_t tid);
  // The thread's exit was reaped by its owner.
  void ThreadReaped(pid_t tid);
  enum class Departure {
    kExitThread,  // others remain: the caller makes its thread exit
    kReleased,    // it was the last: the process was killed and reaped
    kGone,        // the address space was already released
  };
  Departure RemoveThread(pid_t tid);
  bool alive() const { return alive_.load(std::memory_order_relaxed); }

 private:
  void ReleaseLocked();  // mu_ held

  const pid_t pid_;  // the manager thread = the thread group
  std::atomic<bool> alive_{true};
  std::mutex mu_;
  // Guarded by mu_:
  bool released_ = false;
  struct Thread {
    pid_t tid;
    bool reaped;
  };
  std::vector<Thread> threads_;
};

class PtraceContext final : public Context {
 public:
  // `tid` must be stopped and traced by the calling thread; `regs` are its
  // registers at that stop.
  PtraceContext(std::shared_ptr<PtraceAddressSpace> as,
                std::shared_ptr<const StubConfig> config, pid_t tid,
                const Registers& regs);
  ~PtraceContext() override;
  PtraceContext(const PtraceContext&) = delete;
  PtraceContext& operator=(const PtraceContext&) = delete;

  AddressSpace& address_space() override { return *as_; }
  std::shared_ptr<AddressSpace> shared_address_space() override { return as_; }
  pid_t tid() const override { return tid_; }
  SwitchResult Switch(Registers& regs) override;
  void Interrupt() override;
  int64_t InjectSyscall(long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                        uint64_t a3, uint64_t a4, uint64_t a5) override;
  absl::StatusOr<int> ImportFd(int host_fd) override;
  absl::Status GetFpState(FpState& out) override;
  absl::Status SetFpState(const FpState& in) override;
  absl::StatusOr<std::unique_ptr<PendingContext>> ForkAddressSpace() override;
  absl::StatusOr<std::unique_ptr<PendingContext>> NewThread() override;

  // Test only: like Switch(), but resumes with PTRACE_CONT instead of
  // PTRACE_SYSEMU, so the application's syscalls reach the host kernel as if
  // the stub had escaped tracing (its seccomp filter must stop them).
  SwitchResult SwitchWithoutSysemuForTesting(Registers& regs);

 private:
  SwitchResult Resume(Registers& regs, int request);
  SwitchResult WaitForStop(Registers& regs);
  SwitchResult Exited() const;
  void MarkDead(int wait_status);
  bool OnOwnerThread() const;
  bool CheckOwner(const char* what) const;  // logs misuse
  // Injects clone(flags) at the clone site; the new tid or an error
  // naming `what`.
  absl::StatusOr<pid_t> InjectClone(uint64_t flags, const char* what);

  const std::shared_ptr<PtraceAddressSpace> as_;
  const std::shared_ptr<const StubConfig> config_;
  const pid_t tid_;
  const pthread_t owner_;
  // Registers of the stub thread at its first stop: a known-good base for
  // injections (user selectors, no trap flag) whatever the app did since.
  const Registers base_regs_;
  std::atomic<bool> dead_{false};
  int exit_status_ = 0;
  // An interrupt arrived while a syscall was being injected; the next
  // Switch() reports it.
  bool deferred_interrupt_ = false;
};

class PtracePendingContext final : public PendingContext {
 public:
  PtracePendingContext(std::shared_ptr<PtraceAddressSpace> as,
                       std::shared_ptr<const StubConfig> config, pid_t tid)
      : as_(std::move(as)), config_(std::move(config)), tid_(tid) {}
  ~PtracePendingContext() override;
  absl::StatusOr<std::unique_ptr<Context>> Claim() override;

  // Test only: the stub process and thread waiting to be claimed.
  pid_t pid() const { return as_->pid(); }
  pid_t tid() const { return tid_; }

 private:
  std::shared_ptr<PtraceAddressSpace> as_;
  std::shared_ptr<const StubConfig> config_;
  const pid_t tid_;
  bool claimed_ = false;
};

class PtracePlatform final : public Platform {
 public:
  static absl::StatusOr<std::unique_ptr<PtracePlatform>> Create();
  ~PtracePlatform() override;

  const std::string& name() const override { return name_; }
  const Layout& layout() const override { return layout_; }
  const FpState& initial_fp_state() const override {
    return factory_->facts().initial_fp;
  }
  absl::StatusOr<std::unique_ptr<Context>> NewAddressSpace() override;

  // Test only.
  pid_t template_pid() const { return factory_->template_pid(); }

 private:
  PtracePlatform() = default;

  const std::string name_ = "ptrace";
  Layout layout_{};
  StubAddresses addrs_;
  std::shared_ptr<const StubConfig> config_;
  cv::UniqueFd import_send_;  // the sentry's end of the fd-import socket
  cv::UniqueFd import_stub_;  // the stubs' end (kept for draining)
  std::unique_ptr<StubFactory> factory_;
};

}  // namespace platform::ptrace_internal

#endif  // CVISOR_PLATFORM_PTRACE_PTRACE_PLATFORM_H_
