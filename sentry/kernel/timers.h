// Timers of one process: the three interval timers (setitimer, alarm) and
// POSIX timers (timer_create). One kernel-wide timer thread fires them all:
// wall-clock timers from a deadline queue, CPU-time timers by sampling the
// process's CPU time every kCpuTimerTick while any is armed, so CPU timers
// (ITIMER_VIRTUAL, ITIMER_PROF, CPU-clock POSIX timers) fire up to that
// much late.
#ifndef CVISOR_SENTRY_KERNEL_TIMERS_H_
#define CVISOR_SENTRY_KERNEL_TIMERS_H_

#include <signal.h>
#include <time.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "sentry/kernel/cputime.h"

namespace sentry {

class Kernel;
class ThreadGroup;
class TimerService;

// How often the timer thread samples CPU time while a CPU timer is armed.
inline constexpr int64_t kCpuTimerTickNs = 10 * 1000 * 1000;

// Where a table's expiries go and where its CPU clocks are read. The
// kernel's target sends to a process of the sandbox; tests use their own.
// Called without the table's lock.
class TimerTarget {
 public:
  virtual ~TimerTarget() = default;
  // Sends `info` to the process, or to its thread `tid` if tid != 0 (the
  // signal is dropped if that thread has gone).
  virtual void Send(const siginfo_t& info, int tid) = 0;
  virtual CpuTimes ProcessCpu() = 0;
  // The CPU time of thread `tid` of the process; nullopt if it has gone.
  virtual std::optional<CpuTimes> ThreadCpu(int tid) = 0;
};

// A timer's setting in nanoseconds: the time to the next expiry (0:
// disarmed; an absolute time on the timer's clock for Settime with
// `absolute`) and the reload interval (0: one-shot).
struct TimerValue {
  int64_t value_ns = 0;
  int64_t interval_ns = 0;
};

// What a timer measures: a host clock (CLOCK_REALTIME, _MONOTONIC,
// _BOOTTIME, _TAI), the process's CPU time or one of its threads'.
struct TimerClock {
  enum Kind { kWall, kProcessCpu, kThreadCpu };
  Kind kind = kWall;
  clockid_t wall = CLOCK_MONOTONIC;
  CpuClockKind cpu = CpuClockKind::kSched;
  int tid = 0;  // kThreadCpu: the thread measured
};

// How a POSIX timer tells of an expiry (struct sigevent, checked).
struct TimerNotify {
  // SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID. The kernel treats
  // SIGEV_THREAD as SIGEV_SIGNAL (glibc builds its threads itself, over
  // SIGEV_THREAD_ID), so callers pass SIGEV_SIGNAL for it.
  int notify = SIGEV_SIGNAL;
  int signo = SIGALRM;
  sigval value{};
  bool value_is_id = false;  // no sigevent given: si_value is the timer id
  int tid = 0;               // SIGEV_THREAD_ID's thread
};

class TimerTable final : public std::enable_shared_from_this<TimerTable> {
 public:
  explicit TimerTable(std::unique_ptr<TimerTarget> target);
  ~TimerTable();
  TimerTable(const TimerTable&) = delete;
  TimerTable& operator=(const TimerTable&) = delete;

  // The table of `tg` (ThreadGroup::timers), created on first use. Both take
  // tg.mu.
  static std::shared_ptr<TimerTable> Of(Kernel& kernel,
                                        const std::shared_ptr<ThreadGroup>& tg);
  // Null if the process never used a timer.
  static std::shared_ptr<TimerTable> Find(ThreadGroup& tg);

  // setitimer/getitimer (`which`: ITIMER_REAL, _VIRTUAL, _PROF). -EINVAL for
  // another `which`. A zero value disarms; the interval is kept, as Linux
  // reports it back.
  int SetItimer(int which, const TimerValue& value, TimerValue* old);
  int GetItimer(int which, TimerValue* out);
  // alarm(2): arms ITIMER_REAL for `seconds` (0 cancels) and returns the
  // seconds that were left, rounded as Linux rounds them.
  unsigned Alarm(unsigned seconds);

  // timer_create: the new timer's id, or -EAGAIN at the per-process limit.
  int Create(const TimerClock& clock, const TimerNotify& notify);
  // timer_settime, timer_gettime, timer_getoverrun, timer_delete. -EINVAL
  // for an unknown id.
  int Settime(int id, bool absolute, const TimerValue& value, TimerValue* old);
  int Gettime(int id, TimerValue* out);
  int Getoverrun(int id);
  int Delete(int id);
  // execve deletes the POSIX timers (the interval timers survive it).
  void DeletePosixTimers();

  // Called when a SI_TIMER signal of this process is dequeued for delivery:
  // what timer_getoverrun then reports for its timer is the overrun count
  // that delivery carries.
  void SignalDelivered(const siginfo_t& info);

  // The process has exited: disarms everything and waits until no expiry
  // is being sent, so that once it returns nothing touches the process or
  // the kernel on this table's behalf. Call it without the kernel's
  // signal_mu() or the process's mu held (a firing expiry takes them).
  void Shutdown();

 private:
  friend class TimerService;

  struct Timer {
    TimerClock clock;
    TimerNotify notify;
    bool posix = false;
    int id = 0;
    int64_t expiry = 0;  // on the timer's clock; 0: disarmed
    int64_t interval = 0;
    uint64_t ticket = 0;    // its entry in the timer thread's queue, 0: none
    int64_t queued_ns = 0;  // that entry's monotonic time
    int overrun_last = 0;   // timer_getoverrun
  };
  struct Expiry {
    siginfo_t info;
    int tid;
  };

  // Keys name timers to the timer thread: -1 - which for the interval
  // timers, the id for POSIX timers.
  Timer* LookupLocked(int key);
  // The clock's reading now; nullopt for a thread clock whose thread is
  // gone. Called without mu_ (CPU clocks read the process's state).
  std::optional<int64_t> Sample(const TimerClock& clock);
  void ArmLocked(Timer& tm, int key, int64_t now, bool absolute,
                 const TimerValue& value);
  // Queues a wall-clock timer's expiry with the timer thread. `reload`: it
  // just fired, so the next expiry is kept from coming too soon.
  void QueueLocked(Timer& tm, int key, int64_t now, bool reload);
  void CancelLocked(Timer& tm);
  TimerValue RemainingLocked(Timer& tm, int64_t now);
  // Advances an expired timer (reload or disarm); returns the signal to
  // send, if any.
  std::optional<Expiry> ExpireLocked(Timer& tm, int key, int64_t now);
  // Sends with mu_ released, counted in in_flight_ for Shutdown.
  void SendAll(std::unique_lock<std::mutex>& lock,
               const std::vector<Expiry>& expiries);

  // The timer thread's calls.
  void Fire(int key, uint64_t ticket);
  bool CpuTick();  // false once no CPU timer is armed

  const std::unique_ptr<TimerTarget> target_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  Timer itimers_[3];
  std::map<int, Timer> posix_;
  int next_id_ = 0;
  int in_flight_ = 0;
  bool shutdown_ = false;
  bool cpu_watched_ = false;  // on the timer thread's CPU sampling list
};

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_TIMERS_H_
