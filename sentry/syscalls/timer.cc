// Interval timers, POSIX timers and resource usage: alarm, setitimer,
// getitimer, timer_create/settime/gettime/getoverrun/delete, getrusage and
// times. The timers themselves live in kernel/timers.h.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sentry/kernel/cputime.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/timers.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

constexpr int64_t kNsPerSec = 1000000000;
constexpr int64_t kNsPerTick = kNsPerSec / 100;  // USER_HZ

// The kernel's struct sigevent on x86-64 (64 bytes; the thread id is the
// first member of the union glibc calls _sigev_un).
struct KernelSigevent {
  sigval value;
  int32_t signo;
  int32_t notify;
  int32_t thread_id;
  int32_t pad[11];
};
static_assert(sizeof(KernelSigevent) == 64);

std::shared_ptr<TimerTable> Timers(Task& t) {
  return TimerTable::Of(t.kernel(), t.shared_thread_group());
}

int64_t ToNs(int64_t sec, int64_t frac, int64_t unit) {
  // Saturate rather than overflow: a huge value means "never", as Linux's
  // conversion to ktime_t clamps at KTIME_MAX.
  if (sec > (INT64_MAX - kNsPerSec) / kNsPerSec) return INT64_MAX;
  return sec * kNsPerSec + frac * unit;
}

bool ValidTimeval(const timeval& tv) {
  return tv.tv_sec >= 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000;
}
bool ValidTimespec(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < kNsPerSec;
}
int64_t TimevalNs(const timeval& tv) {
  return ToNs(tv.tv_sec, tv.tv_usec, 1000);
}
int64_t TimespecNs(const timespec& ts) {
  return ToNs(ts.tv_sec, ts.tv_nsec, 1);
}
timeval NsTimeval(int64_t ns) {
  return {static_cast<time_t>(ns / kNsPerSec),
          static_cast<suseconds_t>(ns % kNsPerSec / 1000)};
}
timespec NsTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / kNsPerSec),
          static_cast<long>(ns % kNsPerSec)};
}

// ---- interval timers ----

int64_t Alarm(Task& t, const SyscallArgs& a) {
  return Timers(t)->Alarm(static_cast<unsigned>(a[0]));
}

int64_t Getitimer(Task& t, const SyscallArgs& a) {
  TimerValue v;
  if (int rc = Timers(t)->GetItimer(static_cast<int>(a[0]), &v); rc) return rc;
  itimerval out{NsTimeval(v.interval_ns), NsTimeval(v.value_ns)};
  return t.CopyOutObj(a[1], out);
}

int64_t Setitimer(Task& t, const SyscallArgs& a) {
  const int which = static_cast<int>(a[0]);
  itimerval in{};
  // Linux still takes a NULL new value as "disarm" (with a warning).
  if (a[1] != 0) {
    if (int err = t.CopyInObj(a[1], &in); err) return err;
    if (!ValidTimeval(in.it_value) || !ValidTimeval(in.it_interval)) {
      return -EINVAL;
    }
  }
  TimerValue old;
  int rc = Timers(t)->SetItimer(
      which, {TimevalNs(in.it_value), TimevalNs(in.it_interval)}, &old);
  if (rc != 0) return rc;
  if (a[2] != 0) {
    itimerval out{NsTimeval(old.interval_ns), NsTimeval(old.value_ns)};
    if (int err = t.CopyOutObj(a[2], out); err) return err;
  }
  return 0;
}

// ---- POSIX timers ----

// Resolves timer_create's clock. Linux: an unknown clock is EINVAL, a
// clock that cannot drive timers (raw, coarse) EOPNOTSUPP, the alarm
// clocks need CAP_WAKE_ALARM.
int TimerClockOf(Task& t, clockid_t clk, TimerClock* out) {
  if (IsCpuClock(clk)) {
    CpuClockId c;
    if (DecodeCpuClock(t, clk, &c) != 0) return -EINVAL;
    // Linux lets a timer measure another process's CPU clock; here a
    // process's table samples only its own process.
    if (!c.thread && c.id != t.thread_group().tgid()) return -EINVAL;
    out->kind = c.thread ? TimerClock::kThreadCpu : TimerClock::kProcessCpu;
    out->cpu = c.kind;
    out->tid = c.thread ? c.id : 0;
    return 0;
  }
  out->kind = TimerClock::kWall;
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      out->wall = clk;
      return 0;
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      // Nothing here suspends, so an alarm clock is its ordinary clock.
      if (!t.creds().HasCap(CAP_WAKE_ALARM)) return -EPERM;
      out->wall = clk == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : CLOCK_BOOTTIME;
      return 0;
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
      return -EOPNOTSUPP;
    default:
      return -EINVAL;
  }
}

bool IsThreadOf(ThreadGroup& tg, int tid) {
  std::lock_guard<std::mutex> lock(tg.mu);
  for (Task* t : tg.tasks) {
    if (t->tid() == tid) return true;
  }
  return false;
}

int64_t TimerCreate(Task& t, const SyscallArgs& a) {
  KernelSigevent ev;
  if (a[1] != 0) {
    if (int err = t.CopyInObj(a[1], &ev); err) return err;
  }
  TimerClock clock;
  if (int rc = TimerClockOf(t, static_cast<clockid_t>(a[0]), &clock); rc) {
    return rc;
  }
  TimerNotify n;
  if (a[1] != 0) {
    switch (ev.notify) {
      case SIGEV_SIGNAL | SIGEV_THREAD_ID:
        // The thread must belong to the caller's process.
        if (!IsThreadOf(t.thread_group(), ev.thread_id)) return -EINVAL;
        n.tid = ev.thread_id;
        n.notify = SIGEV_THREAD_ID;
        break;
      case SIGEV_SIGNAL:
      case SIGEV_THREAD:  // the kernel sends SIGEV_THREAD's signal as-is
        n.notify = SIGEV_SIGNAL;
        break;
      case SIGEV_NONE:
        n.notify = SIGEV_NONE;
        break;
      default:
        return -EINVAL;
    }
    if (n.notify != SIGEV_NONE && !ValidSignal(ev.signo)) return -EINVAL;
    n.signo = ev.signo;
    n.value = ev.value;
  } else {
    // No sigevent: SIGALRM to the process, carrying the timer id.
    n.value_is_id = true;
  }
  std::shared_ptr<TimerTable> timers = Timers(t);
  int id = timers->Create(clock, n);
  if (id < 0) return id;
  if (int err = t.CopyOutObj(a[2], id); err) {
    timers->Delete(id);
    return err;
  }
  return 0;
}

int64_t TimerSettime(Task& t, const SyscallArgs& a) {
  const int id = static_cast<int>(a[0]);
  const int flags = static_cast<int>(a[1]);
  if (a[2] == 0) return -EINVAL;
  itimerspec in;
  if (int err = t.CopyInObj(a[2], &in); err) return err;
  if (!ValidTimespec(in.it_value) || !ValidTimespec(in.it_interval)) {
    return -EINVAL;
  }
  std::shared_ptr<TimerTable> timers = TimerTable::Find(t.thread_group());
  if (!timers) return -EINVAL;
  TimerValue old;
  int rc = timers->Settime(
      id, flags & TIMER_ABSTIME,
      {TimespecNs(in.it_value), TimespecNs(in.it_interval)}, &old);
  if (rc != 0) return rc;
  if (a[3] != 0) {
    itimerspec out{NsTimespec(old.interval_ns), NsTimespec(old.value_ns)};
    if (int err = t.CopyOutObj(a[3], out); err) return err;
  }
  return 0;
}

int64_t TimerGettime(Task& t, const SyscallArgs& a) {
  std::shared_ptr<TimerTable> timers = TimerTable::Find(t.thread_group());
  if (!timers) return -EINVAL;
  TimerValue v;
  if (int rc = timers->Gettime(static_cast<int>(a[0]), &v); rc) return rc;
  itimerspec out{NsTimespec(v.interval_ns), NsTimespec(v.value_ns)};
  return t.CopyOutObj(a[1], out);
}

int64_t TimerGetoverrun(Task& t, const SyscallArgs& a) {
  std::shared_ptr<TimerTable> timers = TimerTable::Find(t.thread_group());
  if (!timers) return -EINVAL;
  return timers->Getoverrun(static_cast<int>(a[0]));
}

int64_t TimerDelete(Task& t, const SyscallArgs& a) {
  std::shared_ptr<TimerTable> timers = TimerTable::Find(t.thread_group());
  if (!timers) return -EINVAL;
  return timers->Delete(static_cast<int>(a[0]));
}

// ---- resource usage ----

// The high-water mark of the stub's resident memory, in KiB (VmHWM): the
// host's measure of the pages the application has touched.
long StubMaxRssKb(Task& t) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status",
           t.context().address_space().pid());
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* line = strstr(buf, "\nVmHWM:");
  return line == nullptr ? 0 : atol(line + strlen("\nVmHWM:"));
}

CpuTimes ChildrenCpuTimes(Task& t) {
  // Reaping adds to these under the kernel's tree lock.
  std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
  ThreadGroup& tg = t.thread_group();
  return {tg.children_utime_ns, tg.children_stime_ns};
}

int64_t Getrusage(Task& t, const SyscallArgs& a) {
  const int who = static_cast<int>(a[0]);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  CpuTimes c;
  switch (who) {
    case RUSAGE_SELF:
      c = ProcessCpuTimes(t.thread_group());
      ru.ru_maxrss = StubMaxRssKb(t);
      break;
    case RUSAGE_THREAD:
      c = TaskCpuTimes(t);
      ru.ru_maxrss = StubMaxRssKb(t);
      break;
    case RUSAGE_CHILDREN:
      // The children's peak memory is not recorded when they are reaped.
      c = ChildrenCpuTimes(t);
      break;
    default:
      return -EINVAL;
  }
  ru.ru_utime = NsTimeval(c.user_ns);
  ru.ru_stime = NsTimeval(c.sys_ns);
  return t.CopyOutObj(a[1], ru);
}

int64_t Times(Task& t, const SyscallArgs& a) {
  if (a[0] != 0) {
    CpuTimes self = ProcessCpuTimes(t.thread_group());
    CpuTimes children = ChildrenCpuTimes(t);
    struct tms out;
    out.tms_utime = self.user_ns / kNsPerTick;
    out.tms_stime = self.sys_ns / kNsPerTick;
    out.tms_cutime = children.user_ns / kNsPerTick;
    out.tms_cstime = children.sys_ns / kNsPerTick;
    if (int err = t.CopyOutObj(a[0], out); err) return err;
  }
  // Ticks since the sandbox booted: Linux counts from an arbitrary point
  // too (its jiffies start 5 minutes before wrapping), and a small positive
  // number never looks like an error to the C library.
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t ns = now.tv_sec * kNsPerSec + now.tv_nsec - t.kernel().boot_time_ns();
  return ns / kNsPerTick;
}

}  // namespace

void RegisterTimerSyscalls(SyscallTable& table) {
  table.Register(37, Alarm, {A::kInt});
  table.Register(36, Getitimer, {A::kInt, A::kHex});
  table.Register(38, Setitimer, {A::kInt, A::kHex, A::kHex});
  table.Register(222, TimerCreate, {A::kInt, A::kHex, A::kHex});
  table.Register(223, TimerSettime, {A::kInt, A::kHex, A::kHex, A::kHex});
  table.Register(224, TimerGettime, {A::kInt, A::kHex});
  table.Register(225, TimerGetoverrun, {A::kInt});
  table.Register(226, TimerDelete, {A::kInt});
  table.Register(98, Getrusage, {A::kInt, A::kHex});
  table.Register(100, Times, {A::kHex});
}

}  // namespace sentry
