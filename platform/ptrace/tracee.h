// Low-level ptrace operations on one stub thread, shared by the stub factory
// and the contexts: seize, wait, register access and syscall injection.
// Every call must come from the thread that traces `tid` (ptrace ties a
// tracee to one tracer thread), except the Reap* helpers.
#ifndef CVISOR_PLATFORM_PTRACE_TRACEE_H_
#define CVISOR_PLATFORM_PTRACE_TRACEE_H_

#include <sys/types.h>

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "platform/platform.h"

namespace platform::ptrace_internal {

// The signal Interrupt() sends. Its default action is "ignore", so a stray
// one reaching an untraced stub thread does nothing, and stubs never have
// children of their own, so a real SIGCHLD never reaches them.
inline constexpr int kInterruptSignal = 17;  // SIGCHLD

// Where the stub code sits in every stub process (see stub.S).
struct StubAddresses {
  uint64_t base = 0;  // the stub region (code page, then scratch page)
  uint64_t size = 0;
  uint64_t inject = 0;       // `syscall; int3`
  uint64_t inject_done = 0;  // rip after that int3
  uint64_t clone = 0;        // `syscall; test; jz pause; int3`
  uint64_t clone_done = 0;   // rip after that int3
  uint64_t pause = 0;        // the pause loop new tasks wait in
  pid_t sentry_pid = 0;      // new tasks exit if their parent is not this
};

// Every stub process holds, at this fd number, its end of the fd-import
// socket (a datagram socketpair made with the platform; the sentry keeps the
// other end): ImportFd sends an fd over it with SCM_RIGHTS and injects the
// recvmsg. It is the stub's only fd, inherited by every clone and fork.
inline constexpr int kStubImportFd = 0;

enum class Site { kInject, kClone };

// waitpid(tid, __WALL), retrying EINTR. Returns tid, or -errno.
int WaitTid(pid_t tid, int* status);

// PTRACE_GETREGS / PTRACE_SETREGS; false (errno set) on failure.
bool GetRegs(pid_t tid, Registers& regs);
bool SetRegs(pid_t tid, const Registers& regs);

// PTRACE_SEIZE with `options`, PTRACE_INTERRUPT, and waits for the
// interrupt's PTRACE_EVENT_STOP (signal stops on the way are suppressed).
// Returns the registers at the stop.
absl::StatusOr<Registers> SeizeAndStop(pid_t tid, unsigned options);

struct InjectResult {
  int64_t value = 0;         // rax after the syscall; -ESRCH if gone,
                             // -EFAULT if the stub code itself faulted
  bool gone = false;         // the thread exited (and was reaped)
  int wait_status = 0;       // its wait status when gone
  bool interrupted = false;  // a kInterruptSignal was swallowed meanwhile
};

// Runs syscall `nr` in the stopped tracee at `site` of the stub (the
// injection or the clone site), starting from `base` (any registers the
// tracee had at a stop; rip, rax, orig_rax, r12 and the argument registers
// are replaced), and waits for the int3 after it. Other signals that arrive
// meanwhile are suppressed. If the thread exits (SYS_exit, or a kill) it is
// reaped and `gone` is set.
InjectResult Inject(pid_t tid, const Registers& base, const StubAddresses& stub,
                    Site site, long nr, const std::array<uint64_t, 6>& args);

// Waits until `tid` (a traced thread, or a process) has exited and reaps it.
// Stops reported meanwhile are skipped. Any thread of the tracer's process
// may call these. Returns the wait status, or -1 if there was nothing to
// reap (ECHILD: already reaped, or an untraced thread, which reaps itself).
int ReapExited(pid_t tid);

}  // namespace platform::ptrace_internal

#endif  // CVISOR_PLATFORM_PTRACE_TRACEE_H_
