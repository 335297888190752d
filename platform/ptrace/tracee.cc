#include "platform/ptrace/tracee.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "common/errno_status.h"

namespace platform::ptrace_internal {

static_assert(sizeof(Registers) == sizeof(user_regs_struct));
static_assert(offsetof(Registers, orig_rax) ==
              offsetof(user_regs_struct, orig_rax));
static_assert(offsetof(Registers, rip) == offsetof(user_regs_struct, rip));
static_assert(offsetof(Registers, gs) == offsetof(user_regs_struct, gs));

int WaitTid(pid_t tid, int* status) {
  for (;;) {
    pid_t r = waitpid(tid, status, __WALL);
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
  }
}

bool GetRegs(pid_t tid, Registers& regs) {
  return ptrace(PTRACE_GETREGS, tid, nullptr, &regs) == 0;
}

bool SetRegs(pid_t tid, const Registers& regs) {
  return ptrace(PTRACE_SETREGS, tid, nullptr, &regs) == 0;
}

absl::StatusOr<Registers> SeizeAndStop(pid_t tid, unsigned options) {
  if (ptrace(PTRACE_SEIZE, tid, nullptr, options) != 0) {
    return cv::ErrnoStatus(errno, "PTRACE_SEIZE of stub thread");
  }
  if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
    return cv::ErrnoStatus(errno, "PTRACE_INTERRUPT of stub thread");
  }
  for (;;) {
    int status;
    int r = WaitTid(tid, &status);
    if (r < 0) return cv::ErrnoStatus(-r, "waiting for a seized stub thread");
    if (!WIFSTOPPED(status)) {
      return cv::ErrnoStatus(ESRCH, "stub thread exited while being seized");
    }
    // The interrupt's stop is PTRACE_EVENT_STOP. A signal-delivery stop may
    // come first; suppress it: the interrupt stays pending until taken.
    if ((status >> 16) == PTRACE_EVENT_STOP) break;
    ptrace(PTRACE_CONT, tid, nullptr, nullptr);
  }
  Registers regs;
  if (!GetRegs(tid, regs)) {
    return cv::ErrnoStatus(errno, "PTRACE_GETREGS of a seized stub thread");
  }
  return regs;
}

InjectResult Inject(pid_t tid, const Registers& base, const StubAddresses& stub,
                    Site site, long nr, const std::array<uint64_t, 6>& args) {
  InjectResult res;
  const uint64_t done =
      site == Site::kClone ? stub.clone_done : stub.inject_done;
  Registers regs = base;
  regs.rip = site == Site::kClone ? stub.clone : stub.inject;
  regs.r12 = static_cast<uint64_t>(stub.sentry_pid);
  regs.rax = static_cast<uint64_t>(nr);
  // orig_rax = -1: when the tracee resumes from a stop inside an interrupted
  // syscall, the kernel must not apply its restart logic to our registers.
  regs.orig_rax = ~uint64_t{0};
  regs.rdi = args[0];
  regs.rsi = args[1];
  regs.rdx = args[2];
  regs.r10 = args[3];
  regs.r8 = args[4];
  regs.r9 = args[5];
  regs.eflags &= ~uint64_t{0x100};  // no single-stepping through the stub

  auto gone = [&](int status) {
    res.gone = true;
    res.wait_status = status;
    res.value = -ESRCH;
    return res;
  };
  // Fails only if the tracee is not stopped for us: it was killed meanwhile
  // (then the wait below reaps it), or we are not its tracer.
  bool resumed =
      SetRegs(tid, regs) && ptrace(PTRACE_CONT, tid, nullptr, nullptr) == 0;
  if (!resumed) {
    int err = errno;
    if (err != ESRCH) {
      res.value = -err;
      return res;
    }
    int status = ReapExited(tid);
    return gone(status);
  }
  for (;;) {
    int status;
    // ECHILD: someone reaped it already (AddressSpace::Release).
    if (WaitTid(tid, &status) < 0) return gone(W_EXITCODE(0, SIGKILL));
    if (WIFEXITED(status) || WIFSIGNALED(status)) return gone(status);
    const int sig = WSTOPSIG(status);
    if ((status >> 16) == 0) {
      if (sig == SIGTRAP) {
        Registers out;
        if (!GetRegs(tid, out)) continue;  // killed: the next wait says so
        if (out.rip == done) {
          res.value = static_cast<int64_t>(out.rax);
          return res;
        }
      } else if (sig == kInterruptSignal) {
        res.interrupted = true;
      } else if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
                 sig == SIGFPE) {
        // Raised by an instruction (si_code > 0, not sent by kill): only
        // the stub's own code runs here, so it is gone or damaged. Leave
        // the thread stopped; a later Switch() can still run the app.
        siginfo_t si;
        if (ptrace(PTRACE_GETSIGINFO, tid, nullptr, &si) == 0 &&
            si.si_code > 0) {
          res.value = -EFAULT;
          return res;
        }
      }
    }
    // Whatever stopped it is suppressed; ESRCH means it was killed, which
    // the next wait reports.
    if (ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0 && errno != ESRCH) {
      res.value = -errno;
      return res;
    }
  }
}

int ReapExited(pid_t tid) {
  for (;;) {
    int status;
    if (WaitTid(tid, &status) < 0) return -1;
    if (WIFEXITED(status) || WIFSIGNALED(status)) return status;
  }
}

}  // namespace platform::ptrace_internal
