#include "sentry/kernel/signal.h"

#include <cstring>

namespace sentry {

DefaultAction DefaultActionOf(int signo) {
  switch (signo) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return DefaultAction::kIgnore;
    case SIGCONT:
      return DefaultAction::kContinue;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return DefaultAction::kStop;
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return DefaultAction::kCore;
    default:
      return DefaultAction::kTerminate;
  }
}

siginfo_t MakeSigInfo(int signo, int code, int pid, uint32_t uid) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = signo;
  info.si_code = code;
  info.si_pid = pid;
  info.si_uid = uid;
  return info;
}

void SignalQueue::Enqueue(const siginfo_t& info) {
  const int signo = info.si_signo;
  const uint64_t bit = SigBit(signo);
  if (info.si_code == SI_TIMER) {
    // A POSIX timer has one preallocated signal: expiring again while it is
    // queued counts an overrun.
    for (siginfo_t& q : queue_) {
      if (q.si_signo == signo && q.si_code == SI_TIMER &&
          q.si_timerid == info.si_timerid) {
        q.si_overrun += 1 + info.si_overrun;
        return;
      }
    }
  }
  if (signo < kSigRtMin && (pending_ & bit)) return;  // coalesced
  queue_.push_back(info);
  pending_ |= bit;
}

std::optional<siginfo_t> SignalQueue::Dequeue(uint64_t allowed) {
  uint64_t ready = pending_ & allowed;
  if (ready == 0) return std::nullopt;
  uint64_t sync = ready & kSynchronousSignals;
  int signo = __builtin_ctzll(sync != 0 ? sync : ready) + 1;
  std::optional<siginfo_t> out;
  bool more = false;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->si_signo != signo) {
      ++it;
      continue;
    }
    if (out) {
      more = true;
      break;
    }
    out = *it;
    it = queue_.erase(it);
  }
  if (!more) pending_ &= ~SigBit(signo);
  return out;
}

void SignalQueue::Discard(uint64_t set) {
  if ((pending_ & set) == 0) return;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (set & SigBit(it->si_signo)) {
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  pending_ &= ~set;
}

}  // namespace sentry
