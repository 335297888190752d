// CPU time accounting for tasks and processes (getrusage, times, the CPU
// clocks and the CPU-time timers). An application thread's user time is its
// stub thread's, read from the host's /proc; its system time is that of the
// sentry thread that serves it, which plays the part of Linux's kernel.
#ifndef CVISOR_SENTRY_KERNEL_CPUTIME_H_
#define CVISOR_SENTRY_KERNEL_CPUTIME_H_

#include <sys/types.h>
#include <time.h>

#include <cstdint>

namespace sentry {

class Task;
class ThreadGroup;

struct CpuTimes {
  int64_t user_ns = 0;
  int64_t sys_ns = 0;

  int64_t total_ns() const { return user_ns + sys_ns; }
  CpuTimes& operator+=(const CpuTimes& o) {
    user_ns += o.user_ns;
    sys_ns += o.sys_ns;
    return *this;
  }
};

// The CPU time of one application thread: the stub thread's run time
// (nanoseconds, from schedstat) as user time, and the whole CPU time of
// the sentry thread serving it as system time. Safe from any thread provided
// `t` cannot be freed meanwhile (its own thread, or another one holding the
// process's ThreadGroup::mu with `t` in ThreadGroup::tasks). A stub thread that
// has vanished counts as zero. `own_thread`: the caller is t's sentry thread
// (found out by itself inside Task::Run; pass true elsewhere, e.g. at exit,
// so that the sentry time is counted even if the stub is already gone).
CpuTimes TaskCpuTimes(Task& t, bool own_thread = false);

// The live threads of `tg` plus its exited ones (dead_threads_*). Takes
// tg.mu; call without it.
CpuTimes ProcessCpuTimes(ThreadGroup& tg);

// What a CPU clock counts (Linux's CPUCLOCK_PROF, _VIRT, _SCHED): user and
// system time, user time only, or run time (here the same as PROF).
enum class CpuClockKind { kProf = 0, kVirt = 1, kSched = 2 };

inline int64_t CpuClockValue(const CpuTimes& c, CpuClockKind kind) {
  return kind == CpuClockKind::kVirt ? c.user_ns : c.total_ns();
}

// A CPU clock id resolved: CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
// or the pid-carrying ids of clock_getcpuclockid/pthread_getcpuclockid.
struct CpuClockId {
  bool thread = false;
  int id = 0;  // the thread's tid or the process's tgid (sandbox ids)
  CpuClockKind kind = CpuClockKind::kSched;
};

// True for the ids above (CLOCK_*_CPUTIME_ID and negative ids).
bool IsCpuClock(clockid_t clk);
// Resolves `clk` for a caller `t`. As in Linux, a thread clock must name a
// thread of the caller's process and a process clock any process; returns
// 0 or -EINVAL (malformed id, no such thread or process).
int DecodeCpuClock(Task& t, clockid_t clk, CpuClockId* out);
// Reads a resolved clock; -EINVAL if its thread or process has gone.
int ReadCpuClock(Task& t, const CpuClockId& c, int64_t* ns);

// The pieces, exposed for tests.
//
// A host thread's CPU time from /proc/<pid>/task/<tid>/{stat,schedstat}:
// the nanosecond run time split into user and system in the ratio of the
// tick-sampled utime and stime, as Linux's own cputime_adjust() does.
// `tracer`, if not null, receives the thread's TracerPid (0 if none).
// Returns false (and zeros) if the thread is gone.
bool HostThreadCpuTimes(pid_t pid, pid_t tid, CpuTimes* out, pid_t* tracer);
// The CPU time of a thread of the sentry's own process (its clock is
// readable only from inside the process), or -1 if it is gone.
int64_t SentryThreadCpuNs(pid_t tid);

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_CPUTIME_H_
