// The platform: how the sentry runs application code and gets control back
// on every syscall, fault and interrupt. The rest of the sentry sees only this
// header; the ptrace implementation lives in platform/ptrace/.
//
// Threading model. A Context (one application thread) is bound to the host
// thread that created or claimed it: only that thread may Switch() into it or
// inject syscalls through it (ptrace ties a tracee to one tracer thread).
// Interrupt() may be called from any thread. An AddressSpace is one stub
// process; it is shared by the Contexts of the threads that run in it.
#ifndef CVISOR_PLATFORM_PLATFORM_H_
#define CVISOR_PLATFORM_PLATFORM_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace platform {

// General-purpose registers, in the layout of the x86-64 user_regs_struct.
struct Registers {
  uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
  uint64_t rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
  uint64_t fs_base, gs_base, ds, es, fs, gs;
};

// What Linux's start_thread() gives a 64-bit process at execve: user code and
// stack selectors, IF set, ds/es/fs/gs zero. Switch() needs cs and ss to be
// user selectors (RPL 3) and fs_base/gs_base to be user addresses.
inline constexpr uint64_t kUserCs = 0x33;
inline constexpr uint64_t kUserSs = 0x2b;
inline constexpr uint64_t kInitialEflags = 0x202;

// The extended (x87/SSE/AVX...) register state in XSAVE layout, as the
// kernel's NT_X86_XSTATE regset returns it. `size` bytes of `data` are valid.
struct FpState {
  alignas(64) uint8_t data[4096];
  size_t size = 0;
};

// Why Switch() returned.
enum class StopReason {
  kSyscall,      // the application made a syscall; regs.orig_rax is its
                 // number, regs.rip points after the syscall instruction
                 // (for a call into the legacy [vsyscall] page: at the
                 // caller's return address, the call already returned).
                 // The host did not execute it; set regs.rax to the result.
  kFault,        // a synchronous fault: signo is SIGSEGV, SIGBUS, SIGFPE,
                 // SIGILL or SIGTRAP, with code and fault_addr from siginfo.
  kSignal,       // an asynchronous host signal arrived for the stub thread.
  kInterrupted,  // Interrupt() was called (or a stale interrupt was pending).
  kExited,       // the stub thread is gone (killed from outside).
};

struct SwitchResult {
  StopReason reason = StopReason::kSyscall;
  int signo = 0;
  int code = 0;             // si_code
  uint64_t fault_addr = 0;  // si_addr for faults
  int exit_status = 0;      // wait status for kExited
};

// Memory layout facts every address space shares.
struct Layout {
  uint64_t min_addr;   // lowest mappable address (vm.mmap_min_addr)
  uint64_t max_addr;   // one past the highest address the application
                       // may map (the stub region starts here)
  uint64_t vdso_base;  // AT_SYSINFO_EHDR
  uint64_t vdso_size;
  uint64_t vvar_base;  // start of the [vvar] pages before the vDSO
  uint64_t vvar_size;  // bytes of vvar (and vvar_vclock) pages
  uint64_t stub_base;  // the stub region (code page, then a scratch page)
  uint64_t stub_size;
};

class Context;

// One application address space, backed by one stub process.
class AddressSpace {
 public:
  virtual ~AddressSpace() = default;

  // The host pid of the stub process (for logs and tests).
  virtual pid_t pid() const = 0;

  // Reads or writes application memory. Returns the number of bytes moved
  // (which may be short at an unmapped or protected page), or -EFAULT if not
  // even the first byte could be moved. Never crashes on a bad address.
  virtual ssize_t ReadMemory(uint64_t addr, void* buf, size_t len) = 0;
  virtual ssize_t WriteMemory(uint64_t addr, const void* buf, size_t len) = 0;

  // Kills the stub process and waits for it. Idempotent; the destructor
  // calls it too. Contexts in this address space report kExited afterwards.
  virtual void Release() = 0;
};

// One application thread: a stub thread traced by the host thread that owns
// this Context. Destroy a Context on its owner thread: that makes its stub
// thread exit, or, for the last thread of the address space, releases the
// address space. If the owner thread exits first, the host kills the whole
// stub process.
class Context {
 public:
  virtual ~Context() = default;

  virtual AddressSpace& address_space() = 0;
  virtual std::shared_ptr<AddressSpace> shared_address_space() = 0;
  // The host tid of the stub thread.
  virtual pid_t tid() const = 0;

  // Runs application code with `regs` until the next stop; on return `regs`
  // holds the registers at the stop. Owner thread only.
  // regs.orig_rax is ignored on input (the host kernel's syscall-restart
  // logic is never applied: restarts are the sentry's business). Registers
  // the host refuses (cs/ss not RPL 3, fs_base/gs_base not user addresses)
  // come back as kFault SIGSEGV with code SI_KERNEL, as a bad iret would.
  // After kExited every later call returns kExited at once.
  virtual SwitchResult Switch(Registers& regs) = 0;

  // Makes a running (or the next) Switch() return kInterrupted promptly.
  // Any thread.
  virtual void Interrupt() = 0;

  // Executes one host syscall inside the stub (mmap, munmap, mprotect, ...),
  // leaving the application's registers untouched. Returns the raw result
  // (negative errno on failure); -ESRCH if the stub thread is gone. Calls
  // that would unmap, remap or reprotect the stub region (at or above
  // Layout::max_addr) are refused with -EINVAL/-ENOMEM without running.
  // Owner thread only; the context must not be running.
  virtual int64_t InjectSyscall(long nr, uint64_t a0 = 0, uint64_t a1 = 0,
                                uint64_t a2 = 0, uint64_t a3 = 0,
                                uint64_t a4 = 0, uint64_t a5 = 0) = 0;

  // Puts a duplicate of the sentry's host fd `host_fd` into the stub
  // process's own fd table and returns its number there, so that an injected
  // mmap can map the file itself (MAP_SHARED files, shared memory). The
  // caller closes it with an injected close once mapped; fork children of
  // the stub inherit whatever is open at the time. Owner thread only; the
  // context must not be running.
  virtual absl::StatusOr<int> ImportFd(int host_fd);

  // Extended register state of the stub thread. Owner thread only.
  // SetFpState takes a state in the format GetFpState returns (its size must
  // match); a new thread or fork child starts with its creator's FP state, a
  // new address space with Platform::initial_fp_state(). As in Linux signal
  // frames, the x87 and SSE bits of the XSAVE header's xstate_bv are always
  // set, so the legacy area (xmm0-15 at byte 160, MXCSR at 24) is what counts.
  virtual absl::Status GetFpState(FpState& out) = 0;
  virtual absl::Status SetFpState(const FpState& in) = 0;

  // Creates a copy-on-write copy of this context's address space (a forked
  // stub) and returns a PendingContext for its single thread, to be claimed
  // by the host thread that will run the child.
  virtual absl::StatusOr<std::unique_ptr<class PendingContext>>
  ForkAddressSpace() = 0;
  // Creates a new stub thread in this address space, to be claimed by the
  // host thread that will run the new application thread.
  virtual absl::StatusOr<std::unique_ptr<class PendingContext>> NewThread() = 0;
};

// A stub thread that exists but is not yet bound to a host thread. Claim()
// binds it to the calling thread. Destroying an unclaimed PendingContext kills
// the stub thread (and its process if it was the only thread).
class PendingContext {
 public:
  virtual ~PendingContext() = default;
  virtual absl::StatusOr<std::unique_ptr<Context>> Claim() = 0;
};

// The Platform must outlive every AddressSpace and Context it created:
// destroying it kills the stubs. Requirements on the rest of the process:
// keep SIGCHLD without a handler (every tracee stop sends the tracer's
// process a SIGCHLD), and never wait for "any child" (waitpid(-1), wait()):
// any thread may reap a stub's ptrace events that way. Create the platform
// while /proc is mounted (it reads the stub template's maps) and before
// installing the sentry's own seccomp filter (stubs would inherit it).
class Platform {
 public:
  virtual ~Platform() = default;

  // "ptrace" (the only one so far). Other names: InvalidArgument. Safe to
  // call in a multi-threaded process (the stub template is forked by a
  // thread of its own and runs only raw syscalls before it is traced).
  static absl::StatusOr<std::unique_ptr<Platform>> Create(
      const std::string& name);

  virtual const std::string& name() const = 0;
  virtual const Layout& layout() const = 0;

  // The FP state a thread has right after execve (FCW 0x37f, MXCSR 0x1f80,
  // every XSAVE component in its init state), in the format of
  // Context::GetFpState: what signal delivery resets the FP state to.
  virtual const FpState& initial_fp_state() const;

  // A fresh, empty address space (only the stub region and the vDSO
  // mapped) with one thread, bound to the calling host thread.
  virtual absl::StatusOr<std::unique_ptr<Context>> NewAddressSpace() = 0;
};

}  // namespace platform

#endif  // CVISOR_PLATFORM_PLATFORM_H_
