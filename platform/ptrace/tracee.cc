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

InjectResult Inject(pid_t tid, const Registers& base, uint64_t site,
                    uint64_t done, long nr,
                    const std::array<uint64_t, 6>& args) {
  InjectResult res;
  Registers regs = base;
  regs.rip = site;
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
  bool resumed = SetRegs(tid, regs) &&
                 ptrace(PTRACE_CONT, tid, nullptr, nullptr) == 0;
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
    if (WaitTid(tid, &status) < 0) return gone(0);
    if (WIFEXITED(status) || WIFSIGNALED(status)) return gone(status);
    int sig = WSTOPSIG(status);
    int resume_sig = 0;
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
        // Only the stub's own code runs here: it is gone or damaged. Leave
        // the thread stopped; a later Switch() can still run the app.
        res.value = -EFAULT;
        return res;
      }
    }
    if (ptrace(PTRACE_CONT, tid, nullptr, resume_sig) != 0 &&
        errno != ESRCH) {
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
