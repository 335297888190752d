// Signal state: dispositions, masks and the alternate stack are kept here;
// delivery comes with the process model.
#include <errno.h>
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

constexpr int kNumSignals = 64;
// From linux/signal.h, which cannot be included next to glibc's signal.h.
constexpr int kSsAutodisarm = 1 << 31;
constexpr uint64_t kMinSigStkSz = 2048;
constexpr uint64_t kUnblockable =
    (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1));

int64_t RtSigaction(Task& t, const SyscallArgs& a) {
  int sig = static_cast<int>(a[0]);
  if (a[3] != sizeof(uint64_t)) return -EINVAL;
  if (sig < 1 || sig > kNumSignals) return -EINVAL;
  KernelSigaction next;
  if (a[1] != 0) {
    if (sig == SIGKILL || sig == SIGSTOP) return -EINVAL;
    if (int err = t.CopyInObj(a[1], &next); err) return err;
    next.mask &= ~kUnblockable;
  }
  ThreadGroup& tg = t.thread_group();
  std::lock_guard<std::mutex> lock(tg.mu);
  if (a[2] != 0) {
    if (int err = t.CopyOutObj(a[2], tg.actions[sig - 1]); err) return err;
  }
  if (a[1] != 0) tg.actions[sig - 1] = next;
  return 0;
}

int64_t RtSigprocmask(Task& t, const SyscallArgs& a) {
  int how = static_cast<int>(a[0]);
  if (a[3] != sizeof(uint64_t)) return -EINVAL;
  uint64_t old = t.signal_mask;
  if (a[1] != 0) {
    uint64_t set;
    if (int err = t.CopyInObj(a[1], &set); err) return err;
    switch (how) {
      case SIG_BLOCK:
        t.signal_mask |= set;
        break;
      case SIG_UNBLOCK:
        t.signal_mask &= ~set;
        break;
      case SIG_SETMASK:
        t.signal_mask = set;
        break;
      default:
        return -EINVAL;
    }
    t.signal_mask &= ~kUnblockable;
  }
  if (a[2] != 0) {
    if (int err = t.CopyOutObj(a[2], old); err) return err;
  }
  return 0;
}

int64_t Sigaltstack(Task& t, const SyscallArgs& a) {
  stack_t old = {reinterpret_cast<void*>(t.altstack_sp),
                 t.altstack_size == 0 ? SS_DISABLE : 0, t.altstack_size};
  if (a[0] != 0) {
    stack_t next;
    if (int err = t.CopyInObj(a[0], &next); err) return err;
    int mode = next.ss_flags & ~kSsAutodisarm;
    if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK) return -EINVAL;
    if (mode == SS_DISABLE) {
      t.altstack_sp = 0;
      t.altstack_size = 0;
    } else {
      if (next.ss_size < kMinSigStkSz) return -ENOMEM;
      t.altstack_sp = reinterpret_cast<uint64_t>(next.ss_sp);
      t.altstack_size = next.ss_size;
    }
  }
  if (a[1] != 0) {
    if (int err = t.CopyOutObj(a[1], old); err) return err;
  }
  return 0;
}

int64_t RtSigpending(Task& t, const SyscallArgs& a) {
  if (a[1] > sizeof(uint64_t)) return -EINVAL;
  // Nothing is ever pending before signal delivery exists.
  uint64_t pending = 0;
  return t.CopyOut(a[0], &pending, a[1]);
}

}  // namespace

void RegisterSignalSyscalls(SyscallTable& table) {
  table.Register(13, RtSigaction, {A::kSignal, A::kHex, A::kHex, A::kInt});
  table.Register(14, RtSigprocmask, {A::kInt, A::kHex, A::kHex, A::kInt});
  table.Register(131, Sigaltstack, {A::kHex, A::kHex});
  table.Register(127, RtSigpending, {A::kHex, A::kInt});
}

}  // namespace sentry
