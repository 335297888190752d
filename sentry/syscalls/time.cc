// Clocks and sleeps. The vDSO serves most clock reads without a trap; these
// are the syscall paths (and the vDSO's fallbacks).
#include <errno.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

// Linux's encoding of CPU-time clocks (include/linux/posix-timers.h).
constexpr clockid_t kCpuClockPerThread = 4;

// Maps a sandbox clock id onto the host clock that measures it: the wall and
// monotonic clocks are the host's; CPU clocks become the calling stub
// thread's own CLOCK_PROCESS_CPUTIME_ID or CLOCK_THREAD_CPUTIME_ID.
bool HostClock(Task& t, clockid_t clk, clockid_t* host) {
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      *host = clk;
      return true;
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      *host = clk;
      return true;
    default:
      break;
  }
  if (clk < 0) {
    // A CPU clock named by pid: only this process or thread are visible.
    pid_t id = ~(clk >> 3);
    bool thread = clk & kCpuClockPerThread;
    if ((clk & 3) > 2) return false;
    if (thread && (id == 0 || id == t.tid())) {
      *host = CLOCK_THREAD_CPUTIME_ID;
      return true;
    }
    if (!thread && (id == 0 || id == t.thread_group().tgid())) {
      *host = CLOCK_PROCESS_CPUTIME_ID;
      return true;
    }
  }
  return false;
}

bool IsCpuClock(clockid_t clk) {
  return clk == CLOCK_PROCESS_CPUTIME_ID || clk == CLOCK_THREAD_CPUTIME_ID ||
         clk < 0;
}

int64_t ClockGettime(Task& t, const SyscallArgs& a) {
  clockid_t clk = static_cast<clockid_t>(a[0]);
  clockid_t host;
  if (!HostClock(t, clk, &host)) return -EINVAL;
  if (IsCpuClock(clk)) {
    // The host lets only a thread's own process read its thread CPU clock,
    // so ask the stub thread itself: the host writes the result straight
    // into application memory (EFAULT included), exactly as Linux would.
    return t.context().InjectSyscall(SYS_clock_gettime, host, a[1]);
  }
  timespec ts;
  if (clock_gettime(host, &ts) != 0) return -errno;
  return t.CopyOutObj(a[1], ts);
}

int64_t ClockGetres(Task& t, const SyscallArgs& a) {
  clockid_t host;
  if (!HostClock(t, static_cast<clockid_t>(a[0]), &host)) return -EINVAL;
  timespec ts;
  if (clock_getres(host, &ts) != 0) return -errno;
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

int64_t Sleep(clockid_t clk, int flags, const timespec& req) {
  // Signals that interrupt a sleep arrive with the process model; until
  // then the host sleep runs to completion.
  int rc;
  do {
    rc = clock_nanosleep(clk, flags, &req, nullptr);
  } while (rc == EINTR);
  return -rc;
}

int64_t Nanosleep(Task& t, const SyscallArgs& a) {
  timespec req;
  if (int err = t.CopyInObj(a[0], &req); err) return err;
  if (!ValidTimespec(req)) return -EINVAL;
  return Sleep(CLOCK_MONOTONIC, 0, req);
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
  return Sleep(clk, flags & TIMER_ABSTIME, req);
}

}  // namespace

void RegisterTimeSyscalls(SyscallTable& table) {
  table.Register(228, ClockGettime, {A::kInt, A::kHex});
  table.Register(229, ClockGetres, {A::kInt, A::kHex});
  table.Register(96, GetTimeOfDay, {A::kHex, A::kHex});
  table.Register(201, Time, {A::kHex});
  table.Register(35, Nanosleep, {A::kHex, A::kHex});
  table.Register(230, ClockNanosleep, {A::kInt, A::kHex, A::kHex, A::kHex});
}

}  // namespace sentry
