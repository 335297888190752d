#include "sentry/kernel/cputime.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry {
namespace {

constexpr int64_t kNsPerTick = 1000000000 / 100;  // USER_HZ is 100

// Reads a small /proc file into `buf` (NUL-terminated). False if it is gone.
bool ReadProcFile(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t len = 0;
  while (len + 1 < size) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += n;
  }
  close(fd);
  buf[len] = '\0';
  return len > 0;
}

// Linux's encoding of a thread's CPU clock (CPUCLOCK_SCHED: total run time).
clockid_t ThreadSchedClock(pid_t tid) {
  return static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 4 | 2);
}

int64_t ClockNs(clockid_t clk) {
  timespec ts;
  if (clock_gettime(clk, &ts) != 0) return -1;
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The stub thread behind `t`, or false before the task has one (a new
// thread is in ThreadGroup::tasks a moment before its context is set).
bool StubIds(Task& t, pid_t* pid, pid_t* tid) { return t.StubIds(pid, tid); }

}  // namespace

bool HostThreadCpuTimes(pid_t pid, pid_t tid, CpuTimes* out, pid_t* tracer) {
  *out = CpuTimes{};
  if (tracer != nullptr) *tracer = 0;
  char path[64];
  char buf[1024];
  snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
  if (!ReadProcFile(path, buf, sizeof buf)) return false;
  // Fields after "(comm)", which may itself hold spaces and parentheses:
  // state is field 3, utime 14, stime 15.
  const char* p = strrchr(buf, ')');
  if (p == nullptr) return false;
  p++;
  int64_t utime = 0, stime = 0;
  for (int field = 3; field <= 15; field++) {
    while (*p == ' ') p++;
    if (*p == '\0') return false;
    long long v = strtoll(p, nullptr, 10);
    if (field == 14) utime = v;
    if (field == 15) stime = v;
    p = strchr(p, ' ');
    if (p == nullptr) break;
  }
  // schedstat has the run time in nanoseconds; the ticks only say how it
  // splits. Without schedstat, fall back to the ticks.
  int64_t rtime = -1;
  snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", pid, tid);
  if (ReadProcFile(path, buf, sizeof buf)) rtime = strtoll(buf, nullptr, 10);
  if (rtime < 0) {
    out->user_ns = utime * kNsPerTick;
    out->sys_ns = stime * kNsPerTick;
  } else if (stime == 0) {
    out->user_ns = rtime;
  } else if (utime == 0) {
    out->sys_ns = rtime;
  } else {
    out->sys_ns = static_cast<int64_t>(static_cast<__int128>(rtime) * stime /
                                       (utime + stime));
    out->user_ns = rtime - out->sys_ns;
  }
  if (tracer != nullptr) {
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", pid, tid);
    if (ReadProcFile(path, buf, sizeof buf)) {
      const char* line = strstr(buf, "\nTracerPid:");
      if (line != nullptr) *tracer = atoi(line + strlen("\nTracerPid:"));
    }
  }
  return true;
}

int64_t SentryThreadCpuNs(pid_t tid) { return ClockNs(ThreadSchedClock(tid)); }

CpuTimes TaskCpuTimes(Task& t, bool own_thread) {
  CpuTimes c;
  // The task's sentry thread is the stub thread's ptrace tracer; on that
  // thread itself, its own CPU clock is cheaper than reading /proc again.
  const bool self = own_thread || vfs::ThreadInterruptor() ==
                                      static_cast<vfs::Interruptor*>(&t);
  pid_t pid, tid;
  pid_t tracer = 0;
  if (StubIds(t, &pid, &tid)) {
    CpuTimes stub;
    HostThreadCpuTimes(pid, tid, &stub, self ? nullptr : &tracer);
    // All of the stub's run time is user time, its host-kernel part (trap
    // and fault handling) included: split by tick counts, user time would
    // jump and even go back as the ticks land, and CPU timers on it would
    // fire early.
    c.user_ns = stub.total_ns();
  }
  int64_t sentry_ns = -1;
  if (self || tracer == static_cast<pid_t>(syscall(SYS_gettid))) {
    sentry_ns = ClockNs(CLOCK_THREAD_CPUTIME_ID);
  } else if (tracer > 0) {
    sentry_ns = SentryThreadCpuNs(tracer);
  }
  if (sentry_ns > 0) c.sys_ns += sentry_ns;
  return c;
}

CpuTimes ProcessCpuTimes(ThreadGroup& tg) {
  std::lock_guard<std::mutex> lock(tg.mu);
  CpuTimes c{tg.dead_threads_utime_ns, tg.dead_threads_stime_ns};
  // Holding tg.mu keeps every Task in tasks alive (TaskExited removes a
  // task under it before the task is freed).
  for (Task* t : tg.tasks) c += TaskCpuTimes(*t);
  return c;
}

}  // namespace sentry

namespace sentry {

bool IsCpuClock(clockid_t clk) {
  return clk == CLOCK_PROCESS_CPUTIME_ID || clk == CLOCK_THREAD_CPUTIME_ID ||
         clk < 0;
}

namespace {

// Runs `fn` on the thread `tid` of `tg` with tg.mu held (which keeps it
// alive); false if there is no such thread.
template <typename Fn>
bool WithThread(ThreadGroup& tg, int tid, Fn fn) {
  std::lock_guard<std::mutex> lock(tg.mu);
  for (Task* t : tg.tasks) {
    if (t->tid() == tid) {
      fn(*t);
      return true;
    }
  }
  return false;
}

}  // namespace

int DecodeCpuClock(Task& t, clockid_t clk, CpuClockId* out) {
  if (clk == CLOCK_PROCESS_CPUTIME_ID) {
    *out = {false, t.thread_group().tgid(), CpuClockKind::kSched};
    return 0;
  }
  if (clk == CLOCK_THREAD_CPUTIME_ID) {
    *out = {true, t.tid(), CpuClockKind::kSched};
    return 0;
  }
  if (clk >= 0) return -EINVAL;
  // Linux's encoding: ~pid << 3 | per-thread bit (4) | CPUCLOCK_* (0-2).
  const int which = clk & 3;
  if (which > 2) return -EINVAL;
  const bool thread = clk & 4;
  const int id = ~(clk >> 3);
  out->kind = static_cast<CpuClockKind>(which);
  out->thread = thread;
  if (thread) {
    out->id = id == 0 ? t.tid() : id;
    if (out->id == t.tid()) return 0;
    return WithThread(t.thread_group(), out->id, [](Task&) {}) ? 0 : -EINVAL;
  }
  out->id = id == 0 ? t.thread_group().tgid() : id;
  if (out->id == t.thread_group().tgid()) return 0;
  return t.kernel().FindThreadGroup(out->id) ? 0 : -EINVAL;
}

int ReadCpuClock(Task& t, const CpuClockId& c, int64_t* ns) {
  CpuTimes times;
  if (c.thread) {
    if (c.id == t.tid()) {
      times = TaskCpuTimes(t);
    } else if (!WithThread(t.thread_group(), c.id,
                           [&](Task& o) { times = TaskCpuTimes(o); })) {
      return -EINVAL;
    }
  } else if (c.id == t.thread_group().tgid()) {
    times = ProcessCpuTimes(t.thread_group());
  } else {
    std::shared_ptr<ThreadGroup> tg = t.kernel().FindThreadGroup(c.id);
    if (!tg) return -EINVAL;
    times = ProcessCpuTimes(*tg);
  }
  *ns = CpuClockValue(times, c.kind);
  return 0;
}

}  // namespace sentry
