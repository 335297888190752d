// Signal syscalls: actions, masks, the alternate stack, waiting for
// signals, sending them, and rt_sigreturn. Delivery itself is in
// kernel/task_signals.cc.
#include <errno.h>
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

// From linux/signal.h, which cannot be included next to glibc's signal.h.
constexpr int kSsAutodisarm = 1 << 31;
constexpr uint64_t kMinSigStkSz = 2048;
// SA_NOCLDSTOP SA_NOCLDWAIT SA_SIGINFO SA_EXPOSE_TAGBITS SA_RESTORER
// SA_ONSTACK SA_RESTART SA_NODEFER SA_RESETHAND.
constexpr uint64_t kKnownSaFlags = 0x1 | 0x2 | 0x4 | 0x800 | 0x04000000 |
                                   0x08000000 | 0x10000000 | 0x40000000 |
                                   0x80000000;

int64_t RtSigaction(Task& t, const SyscallArgs& a) {
  int sig = static_cast<int>(a[0]);
  if (a[3] != sizeof(uint64_t)) return -EINVAL;
  if (!ValidSignal(sig)) return -EINVAL;
  KernelSigaction next;
  if (a[1] != 0) {
    if (sig == SIGKILL || sig == SIGSTOP) return -EINVAL;
    if (int err = t.CopyInObj(a[1], &next); err) return err;
    next.mask &= ~kUnblockableSignals;
    // Unknown flag bits are dropped, so that programs can probe for them
    // (Linux 5.11+).
    next.flags &= kKnownSaFlags;
  }
  KernelSigaction old;
  {
    std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
    ThreadGroup& tg = t.thread_group();
    old = tg.actions[sig - 1];
    if (a[1] != 0) {
      tg.actions[sig - 1] = next;
      // A signal made ignored is discarded wherever it is pending.
      bool ignored = next.handler == kSigIgn ||
                     (next.handler == kSigDfl &&
                      DefaultActionOf(sig) == DefaultAction::kIgnore);
      if (ignored) {
        tg.pending.Discard(SigBit(sig));
        std::lock_guard<std::mutex> tg_lock(tg.mu);
        for (Task* other : tg.tasks) other->pending.Discard(SigBit(sig));
      }
    }
  }
  if (a[2] != 0) {
    if (int err = t.CopyOutObj(a[2], old); err) return err;
  }
  return 0;
}

int64_t RtSigprocmask(Task& t, const SyscallArgs& a) {
  int how = static_cast<int>(a[0]);
  if (a[3] != sizeof(uint64_t)) return -EINVAL;
  uint64_t set = 0;
  if (a[1] != 0) {
    if (int err = t.CopyInObj(a[1], &set); err) return err;
    if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) {
      return -EINVAL;
    }
  }
  uint64_t old;
  {
    std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
    old = t.signal_mask;
    if (a[1] != 0) {
      uint64_t next = how == SIG_BLOCK     ? old | set
                      : how == SIG_UNBLOCK ? old & ~set
                                           : set;
      t.signal_mask = next & ~kUnblockableSignals;
      t.RecalcWakeLocked();
    }
  }
  if (a[2] != 0) {
    if (int err = t.CopyOutObj(a[2], old); err) return err;
  }
  return 0;
}

int64_t Sigaltstack(Task& t, const SyscallArgs& a) {
  const bool on_stack = t.altstack_size != 0 && t.regs().rsp > t.altstack_sp &&
                        t.regs().rsp - t.altstack_sp <= t.altstack_size;
  stack_t old = {reinterpret_cast<void*>(t.altstack_sp),
                 t.altstack_size == 0 ? SS_DISABLE
                 : on_stack           ? SS_ONSTACK
                                      : 0,
                 t.altstack_size};
  if (t.altstack_autodisarm) old.ss_flags |= kSsAutodisarm;
  if (a[0] != 0) {
    stack_t next;
    if (int err = t.CopyInObj(a[0], &next); err) return err;
    // The stack in use cannot be changed under the running handler.
    if (on_stack) return -EPERM;
    int mode = next.ss_flags & ~kSsAutodisarm;
    if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK) return -EINVAL;
    if (mode == SS_DISABLE) {
      t.altstack_sp = 0;
      t.altstack_size = 0;
      t.altstack_autodisarm = false;
    } else {
      if (next.ss_size < kMinSigStkSz) return -ENOMEM;
      t.altstack_sp = reinterpret_cast<uint64_t>(next.ss_sp);
      t.altstack_size = next.ss_size;
      t.altstack_autodisarm = next.ss_flags & kSsAutodisarm;
    }
  }
  if (a[1] != 0) {
    if (int err = t.CopyOutObj(a[1], old); err) return err;
  }
  return 0;
}

int64_t RtSigpending(Task& t, const SyscallArgs& a) {
  if (a[1] > sizeof(uint64_t)) return -EINVAL;
  uint64_t pending;
  {
    std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
    pending = (t.pending.pending() | t.thread_group().pending.pending()) &
              t.signal_mask;
  }
  return t.CopyOut(a[0], &pending, a[1]);
}

// Sleeps until the task is woken (a signal to handle, a stop, exit).
void SleepUntilWoken() {
  vfs::SyncWaiter w;
  while (w.WaitInterruptible() != -EINTR) {
  }
}

int64_t RtSigsuspend(Task& t, const SyscallArgs& a) {
  if (a[1] != sizeof(uint64_t)) return -EINVAL;
  uint64_t mask;
  if (int err = t.CopyInObj(a[0], &mask); err) return err;
  {
    std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
    t.saved_mask = t.signal_mask;
    t.signal_mask = mask & ~kUnblockableSignals;
    t.RecalcWakeLocked();
  }
  SleepUntilWoken();
  // Delivery restores the mask (after the handler, if one runs); with no
  // handler the call starts over.
  return -kERestartNoHand;
}

int64_t Pause(Task&, const SyscallArgs&) {
  SleepUntilWoken();
  return -kERestartNoHand;
}

int64_t RtSigtimedwait(Task& t, const SyscallArgs& a) {
  if (a[3] != sizeof(uint64_t)) return -EINVAL;
  uint64_t set;
  if (int err = t.CopyInObj(a[0], &set); err) return err;
  set &= ~kUnblockableSignals;
  std::optional<vfs::Deadline> deadline;
  if (a[2] != 0) {
    timespec ts;
    if (int err = t.CopyInObj(a[2], &ts); err) return err;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L) {
      return -EINVAL;
    }
    deadline = vfs::Deadline::After(ts.tv_sec * 1000000000LL + ts.tv_nsec);
  }
  Kernel& k = t.kernel();
  ThreadGroup& tg = t.thread_group();
  std::optional<siginfo_t> info;
  {
    std::unique_lock<std::mutex> lock(k.signal_mu());
    info = t.pending.Dequeue(set);
    if (!info) info = tg.pending.Dequeue(set);
    if (!info && !(deadline && deadline->Remaining() == 0)) {
      // Unblock the awaited signals for the wait, so that senders pick and
      // wake this thread; they remain "blocked" for the ignore check.
      t.real_blocked = t.signal_mask;
      t.signal_mask &= ~set;
      t.RecalcWakeLocked();
      lock.unlock();
      vfs::SyncWaiter w;
      int rc;
      do {
        rc = w.WaitInterruptible(deadline);
      } while (rc == 0);
      lock.lock();
      t.signal_mask = t.real_blocked;
      t.real_blocked = 0;
      info = t.pending.Dequeue(set);
      if (!info) info = tg.pending.Dequeue(set);
      t.RecalcWakeLocked();
      if (!info) return rc == -ETIMEDOUT ? -EAGAIN : -EINTR;
    }
  }
  if (!info) return -EAGAIN;
  if (a[1] != 0) {
    if (int err = t.CopyOutObj(a[1], *info); err) return err;
  }
  return info->si_signo;
}

siginfo_t UserInfo(Task& t, int sig, int code) {
  return MakeSigInfo(sig, code, t.thread_group().tgid(), t.creds().ruid);
}

int64_t Kill(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  int sig = static_cast<int>(a[1]);
  if (sig < 0 || sig > kNumSignals) return -EINVAL;
  if (pid == INT32_MIN) return -ESRCH;
  return t.kernel().Kill(t, pid, UserInfo(t, sig, SI_USER));
}

// Thread-directed sends: the thread `tid`, which must belong to `tgid`
// unless tgid is -1 (tkill).
int SendToThread(Task& t, int tgid, int tid, const siginfo_t& info) {
  Kernel& k = t.kernel();
  if (tgid > 0) {
    std::shared_ptr<ThreadGroup> g = k.FindThreadGroup(tgid);
    if (g == nullptr) return -ESRCH;
    std::lock_guard<std::mutex> lock(g->mu);
    bool member = false;
    for (Task* m : g->tasks) member |= m->tid() == tid;
    if (!member) return -ESRCH;
  }
  return k.SignalThread(tid, info);
}

int64_t Tkill(Task& t, const SyscallArgs& a) {
  int tid = static_cast<int>(a[0]);
  int sig = static_cast<int>(a[1]);
  if (tid <= 0) return -EINVAL;
  if (sig < 0 || sig > kNumSignals) return -EINVAL;
  return SendToThread(t, -1, tid, UserInfo(t, sig, SI_TKILL));
}

int64_t Tgkill(Task& t, const SyscallArgs& a) {
  int tgid = static_cast<int>(a[0]);
  int tid = static_cast<int>(a[1]);
  int sig = static_cast<int>(a[2]);
  if (tgid <= 0 || tid <= 0) return -EINVAL;
  if (sig < 0 || sig > kNumSignals) return -EINVAL;
  return SendToThread(t, tgid, tid, UserInfo(t, sig, SI_TKILL));
}

// rt_sigqueueinfo / rt_tgsigqueueinfo: the caller supplies the siginfo, but
// may not pretend to be the kernel or kill(2) when signalling anyone but
// itself. Linux compares the target with the caller's thread id, so even a
// sibling thread counts as someone else.
int CheckQueuedInfo(Task& t, int target, int sig, uint64_t addr,
                    siginfo_t* info) {
  if (sig < 0 || sig > kNumSignals) return -EINVAL;
  if (int err = t.CopyInObj(addr, info); err) return err;
  if ((info->si_code >= 0 || info->si_code == SI_TKILL) && target != t.tid()) {
    return -EPERM;
  }
  info->si_signo = sig;
  return 0;
}

int64_t RtSigqueueinfo(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  int sig = static_cast<int>(a[1]);
  siginfo_t info;
  if (int err = CheckQueuedInfo(t, pid, sig, a[2], &info); err) return err;
  if (pid <= 0) return -ESRCH;
  return t.kernel().Kill(t, pid, info);
}

int64_t RtTgsigqueueinfo(Task& t, const SyscallArgs& a) {
  int tgid = static_cast<int>(a[0]);
  int tid = static_cast<int>(a[1]);
  int sig = static_cast<int>(a[2]);
  if (tgid <= 0 || tid <= 0) return -EINVAL;
  siginfo_t info;
  if (int err = CheckQueuedInfo(t, tid, sig, a[3], &info); err) return err;
  return SendToThread(t, tgid, tid, info);
}

int64_t RtSigreturn(Task& t, const SyscallArgs&) {
  if (int err = t.SigReturn(); err != 0) {
    siginfo_t info = MakeSigInfo(SIGSEGV, SI_KERNEL, 0, 0);
    t.kernel().ForceSignal(t, info);
    return err;
  }
  return 0;  // rax came from the frame
}

}  // namespace

void RegisterSignalSyscalls(SyscallTable& table) {
  table.Register(13, RtSigaction, {A::kSignal, A::kHex, A::kHex, A::kInt});
  table.Register(14, RtSigprocmask, {A::kInt, A::kHex, A::kHex, A::kInt});
  table.Register(15, RtSigreturn, {});
  table.Register(131, Sigaltstack, {A::kHex, A::kHex});
  table.Register(127, RtSigpending, {A::kHex, A::kInt});
  table.Register(130, RtSigsuspend, {A::kHex, A::kInt});
  table.Register(34, Pause, {});
  table.Register(128, RtSigtimedwait, {A::kHex, A::kHex, A::kHex, A::kInt});
  table.Register(62, Kill, {A::kInt, A::kSignal});
  table.Register(200, Tkill, {A::kInt, A::kSignal});
  table.Register(234, Tgkill, {A::kInt, A::kInt, A::kSignal});
  table.Register(129, RtSigqueueinfo, {A::kInt, A::kSignal, A::kHex});
  table.Register(297, RtTgsigqueueinfo,
                 {A::kInt, A::kInt, A::kSignal, A::kHex});
}

}  // namespace sentry
