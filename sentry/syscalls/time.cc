// Clocks and sleeps. The vDSO serves most clock reads without a trap; these
// are the syscall paths (and the vDSO's fallbacks).
#include <errno.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <functional>

#include "sentry/kernel/cputime.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/wait.h"

namespace sentry {
namespace {

using A = ArgKind;

bool IsHostClock(clockid_t clk) {
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      return true;
    default:
      return false;
  }
}

int64_t ClockGettime(Task& t, const SyscallArgs& a) {
  clockid_t clk = static_cast<clockid_t>(a[0]);
  timespec ts;
  if (IsCpuClock(clk)) {
    // CPU clocks count what getrusage and the CPU timers count: the stub
    // thread's time plus the sentry's time serving it (kernel/cputime.h).
    CpuClockId c;
    int64_t ns;
    if (DecodeCpuClock(t, clk, &c) != 0 || ReadCpuClock(t, c, &ns) != 0) {
      return -EINVAL;
    }
    ts = {static_cast<time_t>(ns / 1000000000),
          static_cast<long>(ns % 1000000000)};
  } else {
    if (!IsHostClock(clk)) return -EINVAL;
    if (clock_gettime(clk, &ts) != 0) return -errno;
  }
  return t.CopyOutObj(a[1], ts);
}

int64_t ClockGetres(Task& t, const SyscallArgs& a) {
  clockid_t clk = static_cast<clockid_t>(a[0]);
  timespec ts;
  if (IsCpuClock(clk)) {
    CpuClockId c;
    if (DecodeCpuClock(t, clk, &c) != 0) return -EINVAL;
    // The run time comes from the host's nanosecond schedstat.
    ts = {0, 1};
  } else {
    if (!IsHostClock(clk)) return -EINVAL;
    if (clock_getres(clk, &ts) != 0) return -errno;
  }
  if (a[1] == 0) return 0;
  return t.CopyOutObj(a[1], ts);
}

int64_t GetTimeOfDay(Task& t, const SyscallArgs& a) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  if (a[0] != 0) {
    if (int err = t.CopyOutObj(a[0], tv); err) return err;
  }
  if (a[1] != 0) {
    struct timezone tz = {0, 0};
    if (int err = t.CopyOutObj(a[1], tz); err) return err;
  }
  return 0;
}

int64_t Time(Task& t, const SyscallArgs& a) {
  time_t now = time(nullptr);
  if (a[0] != 0) {
    if (int err = t.CopyOutObj(a[0], now); err) return err;
  }
  return now;
}

bool ValidTimespec(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L;
}

// Deadlines this far out are "never": the host's timed waits must not
// overflow adding them to their own clocks.
constexpr int64_t kMaxDeadlineNs = INT64_MAX / 2;

int64_t TimespecNs(const timespec& ts) {
  if (ts.tv_sec >= kMaxDeadlineNs / 1000000000) return kMaxDeadlineNs;
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Sleeps until `deadline`. When a signal interrupts a relative sleep the
// time left goes to `rem_addr` (if any) and the syscall returns
// -kERestartBlock with a continuation that sleeps to the same deadline:
// delivery turns that into EINTR if a handler runs, and otherwise into
// restart_syscall, so the sleep silently goes on (Linux's
// hrtimer_nanosleep_restart). An absolute sleep simply restarts with its
// own arguments unless a handler ran (-kERestartNoHand).
int64_t SleepUntil(Task& t, const vfs::Deadline& deadline, uint64_t rem_addr,
                   bool absolute) {
  vfs::SyncWaiter waiter;  // nobody notifies it: only time or a signal ends
  if (waiter.WaitInterruptible(deadline) != -EINTR) return 0;
  if (absolute) return -kERestartNoHand;
  const int64_t left = deadline.Remaining();
  if (left == 0) return 0;  // it ended anyway
  if (rem_addr != 0) {
    timespec rem = {static_cast<time_t>(left / 1000000000),
                    static_cast<long>(left % 1000000000)};
    if (t.CopyOutObj(rem_addr, rem) != 0) return -EFAULT;
  }
  t.restart_fn = [deadline, rem_addr](Task& task) {
    return SleepUntil(task, deadline, rem_addr, false);
  };
  return -kERestartBlock;
}

vfs::Deadline RelativeDeadline(clockid_t clk, const timespec& req) {
  const int64_t now = vfs::Deadline::Now(clk);
  return {clk, std::min(now + TimespecNs(req), kMaxDeadlineNs)};
}

int64_t Nanosleep(Task& t, const SyscallArgs& a) {
  timespec req;
  if (int err = t.CopyInObj(a[0], &req); err) return err;
  if (!ValidTimespec(req)) return -EINVAL;
  return SleepUntil(t, RelativeDeadline(CLOCK_MONOTONIC, req), a[1], false);
}

int64_t ClockNanosleep(Task& t, const SyscallArgs& a) {
  clockid_t clk = static_cast<clockid_t>(a[0]);
  int flags = static_cast<int>(a[1]);
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      break;
    case CLOCK_THREAD_CPUTIME_ID:
      return -EINVAL;
    default:
      // Linux: an unknown clock is EINVAL, a known one that cannot sleep
      // (the coarse and raw clocks) is ENOTSUP.
      return clk == CLOCK_MONOTONIC_RAW || clk == CLOCK_REALTIME_COARSE ||
                     clk == CLOCK_MONOTONIC_COARSE ||
                     clk == CLOCK_PROCESS_CPUTIME_ID
                 ? -ENOTSUP
                 : -EINVAL;
  }
  timespec req;
  if (int err = t.CopyInObj(a[2], &req); err) return err;
  if (!ValidTimespec(req)) return -EINVAL;
  if (flags & TIMER_ABSTIME) {
    return SleepUntil(t, vfs::Deadline{clk, TimespecNs(req)}, 0, true);
  }
  return SleepUntil(t, RelativeDeadline(clk, req), a[3], false);
}

// restart_syscall(2): continues the syscall a signal interrupted, as its
// restart_fn says; with none (the application called it itself), EINTR.
int64_t RestartSyscall(Task& t, const SyscallArgs&) {
  std::function<int64_t(Task&)> fn = std::move(t.restart_fn);
  t.restart_fn = nullptr;
  if (!fn) return -EINTR;
  return fn(t);
}

}  // namespace

void RegisterTimeSyscalls(SyscallTable& table) {
  table.Register(228, ClockGettime, {A::kInt, A::kHex});
  table.Register(229, ClockGetres, {A::kInt, A::kHex});
  table.Register(96, GetTimeOfDay, {A::kHex, A::kHex});
  table.Register(201, Time, {A::kHex});
  table.Register(35, Nanosleep, {A::kHex, A::kHex});
  table.Register(230, ClockNanosleep, {A::kInt, A::kHex, A::kHex, A::kHex});
  table.Register(219, RestartSyscall, {});
}

}  // namespace sentry
