// futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP and the BITSET forms.
// Priority-inheritance operations are not offered (ENOSYS).
#include "sentry/kernel/futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <time.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

int ReadDeadline(Task& t, uint64_t addr, bool absolute, bool realtime,
                 std::optional<vfs::Deadline>* out) {
  if (addr == 0) return 0;
  timespec ts;
  if (int err = t.CopyInObj(addr, &ts); err) return err;
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) {
    return -EINVAL;
  }
  const int64_t ns = ts.tv_sec * 1000000000LL + ts.tv_nsec;
  // Relative timeouts and absolute ones without FUTEX_CLOCK_REALTIME are
  // on CLOCK_MONOTONIC.
  if (!absolute) {
    *out = vfs::Deadline::After(ns);
  } else {
    *out = vfs::Deadline{realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, ns};
  }
  return 0;
}

int64_t Futex(Task& t, const SyscallArgs& a) {
  uint64_t addr = a[0];
  int op = static_cast<int>(a[1]);
  uint32_t val = static_cast<uint32_t>(a[2]);
  uint64_t timeout = a[3];
  uint64_t addr2 = a[4];
  uint32_t val3 = static_cast<uint32_t>(a[5]);
  int cmd = op & FUTEX_CMD_MASK;
  const bool priv = op & FUTEX_PRIVATE_FLAG;
  auto KeyFor = [priv](Task& task, uint64_t uaddr) {
    return FutexKeyFor(task, uaddr, priv);
  };
  bool realtime = op & FUTEX_CLOCK_REALTIME;
  if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET &&
      cmd != FUTEX_WAIT_REQUEUE_PI && cmd != FUTEX_LOCK_PI2) {
    return -ENOSYS;
  }
  if (addr % 4 != 0) return -EINVAL;
  FutexTable& futexes = t.kernel().futexes();
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      uint32_t bitset = cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3;
      if (bitset == 0) return -EINVAL;
      std::optional<vfs::Deadline> deadline;
      if (int err = ReadDeadline(t, timeout, cmd == FUTEX_WAIT_BITSET, realtime,
                                 &deadline);
          err) {
        return err;
      }
      return futexes.Wait(t, KeyFor(t, addr), val, bitset, deadline);
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      uint32_t bitset = cmd == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3;
      if (bitset == 0) return -EINVAL;
      return futexes.Wake(KeyFor(t, addr), static_cast<int>(val), bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      int nwake = static_cast<int>(val);
      int nrequeue = static_cast<int>(timeout);
      if (nwake < 0 || nrequeue < 0) return -EINVAL;
      if (addr2 % 4 != 0) return -EINVAL;
      std::optional<uint32_t> cmpval;
      if (cmd == FUTEX_CMP_REQUEUE) cmpval = val3;
      return futexes.Requeue(t, KeyFor(t, addr), KeyFor(t, addr2), nwake,
                             nrequeue, cmpval);
    }
    case FUTEX_WAKE_OP:
      if (addr2 % 4 != 0) return -EINVAL;
      return futexes.WakeOp(t, KeyFor(t, addr), KeyFor(t, addr2),
                            static_cast<int>(val), static_cast<int>(timeout),
                            val3);
    default:
      return -ENOSYS;
  }
}

}  // namespace

void RegisterFutexSyscalls(SyscallTable& table) {
  table.Register(202, Futex,
                 {A::kHex, A::kInt, A::kInt, A::kHex, A::kHex, A::kHex});
}

}  // namespace sentry
