// Signals: the pending queues, the default actions, and the x86-64 signal
// frame the sentry writes onto the application's stack. Sending and
// delivery live in Kernel (process-wide decisions) and Task (the frame).
#ifndef CVISOR_SENTRY_KERNEL_SIGNAL_H_
#define CVISOR_SENTRY_KERNEL_SIGNAL_H_

#include <signal.h>

#include <cstdint>
#include <deque>
#include <optional>

#include "sentry/vfs/wait.h"  // the restart codes

namespace sentry {

inline constexpr int kNumSignals = 64;
inline constexpr int kSigRtMin = 32;  // the kernel's SIGRTMIN (glibc's is 34)

// Signal sets are 64-bit masks, bit signo-1.
inline constexpr uint64_t SigBit(int signo) { return 1ULL << (signo - 1); }
inline constexpr uint64_t kUnblockableSignals =
    SigBit(SIGKILL) | SigBit(SIGSTOP);
inline constexpr uint64_t kStopSignals =
    SigBit(SIGSTOP) | SigBit(SIGTSTP) | SigBit(SIGTTIN) | SigBit(SIGTTOU);
// Faults: delivered before any other pending signal.
inline constexpr uint64_t kSynchronousSignals =
    SigBit(SIGSEGV) | SigBit(SIGBUS) | SigBit(SIGILL) | SigBit(SIGTRAP) |
    SigBit(SIGFPE) | SigBit(SIGSYS);

inline bool ValidSignal(int signo) {
  return signo >= 1 && signo <= kNumSignals;
}

// What SIG_DFL does with a signal.
enum class DefaultAction { kTerminate, kCore, kIgnore, kStop, kContinue };
DefaultAction DefaultActionOf(int signo);

// The kernel's struct sigaction on x86-64 (rt_sigaction's argument).
struct KernelSigaction {
  uint64_t handler = 0;  // SIG_DFL (0) / SIG_IGN (1) / address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};

inline constexpr uint64_t kSigDfl = 0;
inline constexpr uint64_t kSigIgn = 1;

// siginfo for a signal sent by a process (kill, tkill, sigqueue).
siginfo_t MakeSigInfo(int signo, int code, int pid, uint32_t uid);

// A set of pending signals: standard signals at most once each, real-time
// signals queued in arrival order. Guarded by the owner's lock.
class SignalQueue {
 public:
  // Queues `info`. A standard signal already pending is dropped (coalesced);
  // a timer signal whose timer is already queued counts an overrun instead.
  void Enqueue(const siginfo_t& info);
  uint64_t pending() const { return pending_; }
  // Removes the signal to deliver among `allowed`: a synchronous fault
  // first, else the lowest number.
  std::optional<siginfo_t> Dequeue(uint64_t allowed);
  // Drops every queued instance of the signals in `set`.
  void Discard(uint64_t set);

 private:
  uint64_t pending_ = 0;
  std::deque<siginfo_t> queue_;
};

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_SIGNAL_H_
