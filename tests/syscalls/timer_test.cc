// Timers and sleeps: alarm, setitimer/getitimer (real, virtual, prof),
// POSIX timers (timer_create with SIGEV_SIGNAL, SIGEV_THREAD_ID,
// SIGEV_NONE and glibc's SIGEV_THREAD; wall and CPU clocks; TIMER_ABSTIME;
// overruns; deletion), interrupted nanosleep/clock_nanosleep and
// restart_syscall, getrusage and times.
//
// Timing bounds are loose on purpose: the tests must pass on a loaded
// two-core machine and inside the sandbox. Lower bounds are exact (a timer
// never fires early); upper bounds are seconds.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

constexpr int64_t kMs = 1000 * 1000;
constexpr int64_t kSec = 1000 * kMs;
// How long a test waits for something that should take milliseconds.
constexpr int64_t kPatienceNs = 20 * kSec;

int64_t Nanos(const timespec& ts) { return ts.tv_sec * kSec + ts.tv_nsec; }
int64_t Nanos(const timeval& tv) {
  return tv.tv_sec * kSec + static_cast<int64_t>(tv.tv_usec) * 1000;
}
timespec Timespec(int64_t ns) {
  return {static_cast<time_t>(ns / kSec), static_cast<long>(ns % kSec)};
}
timeval Timeval(int64_t ns) {
  return {static_cast<time_t>(ns / kSec),
          static_cast<suseconds_t>(ns % kSec / 1000)};
}
int64_t Now(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts;
  clock_gettime(clock, &ts);
  return Nanos(ts);
}

// What the handler saw for one signal number.
struct Caught {
  std::atomic<int> count{0};
  std::atomic<int> code{0};
  std::atomic<int> value{0};
  std::atomic<int> timerid{-1};
  std::atomic<int> overrun{-1};
  std::atomic<int> tid{0};
  // timer_getoverrun(overrun_timer) called from the first handler run.
  std::atomic<int> overrun_timer{-1};
  std::atomic<int> overrun_call{-1};
};
Caught g_caught[NSIG];

void Handler(int sig, siginfo_t* si, void*) {
  Caught& c = g_caught[sig];
  if (c.count.load() == 0) {
    c.code = si->si_code;
    c.value = si->si_value.sival_int;
    c.timerid = si->si_timerid;
    c.overrun = si->si_overrun;
    c.tid = static_cast<int>(syscall(SYS_gettid));
    const int timer = c.overrun_timer.load();
    if (timer >= 0) {
      c.overrun_call = static_cast<int>(syscall(SYS_timer_getoverrun, timer));
    }
  }
  c.count++;
}

// Installs Handler for `sig` for the scope, clearing what it recorded.
class ScopedHandler {
 public:
  explicit ScopedHandler(int sig, int flags = 0) : sig_(sig) {
    Caught& c = g_caught[sig];
    c.count = 0;
    c.code = 0;
    c.value = 0;
    c.timerid = -1;
    c.overrun = -1;
    c.tid = 0;
    c.overrun_timer = -1;
    c.overrun_call = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = Handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    EXPECT_EQ(sigaction(sig, &sa, &old_), 0);
  }
  ~ScopedHandler() { sigaction(sig_, &old_, nullptr); }
  ScopedHandler(const ScopedHandler&) = delete;
  ScopedHandler& operator=(const ScopedHandler&) = delete;

  Caught& caught() { return g_caught[sig_]; }
  int count() { return g_caught[sig_].count.load(); }

 private:
  int sig_;
  struct sigaction old_;
};

// Sleeps in small steps (signals may cut them short) until `done` or
// kPatienceNs of wall time.
bool WaitUntil(const std::function<bool()>& done) {
  const int64_t start = Now();
  while (!done()) {
    if (Now() - start > kPatienceNs) return false;
    usleep(1000);
  }
  return true;
}

// Spins in user space until `done` or kPatienceNs of wall time (the
// monotonic clock is read through the vDSO: no syscall).
bool SpinUntil(const std::function<bool()>& done) {
  const int64_t start = Now();
  volatile uint64_t sink = 0;
  while (!done()) {
    if (Now() - start > kPatienceNs) return false;
    for (int i = 0; i < 100000; i++) sink = sink + i;
  }
  return true;
}

// Burns `ns` of this thread's CPU time (bounded by kPatienceNs of wall).
void BurnCpu(int64_t ns) {
  const int64_t until = Now(CLOCK_THREAD_CPUTIME_ID) + ns;
  SpinUntil([&] { return Now(CLOCK_THREAD_CPUTIME_ID) >= until; });
}

// Raw POSIX timer calls: the kernel's timer ids are ints.
int TimerCreate(clockid_t clock, struct sigevent* sev, int* id) {
  return static_cast<int>(syscall(SYS_timer_create, clock, sev, id));
}
int TimerSettime(int id, int flags, int64_t value, int64_t interval,
                 struct itimerspec* old = nullptr) {
  struct itimerspec its = {Timespec(interval), Timespec(value)};
  return static_cast<int>(syscall(SYS_timer_settime, id, flags, &its, old));
}
int TimerGettime(int id, struct itimerspec* out) {
  return static_cast<int>(syscall(SYS_timer_gettime, id, out));
}
int TimerDelete(int id) {
  return static_cast<int>(syscall(SYS_timer_delete, id));
}

struct sigevent SignalEvent(int signo, int value) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = signo;
  sev.sigev_value.sival_int = value;
  return sev;
}

// Every test leaves the interval timers disarmed and the mask empty.
class TimerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    struct itimerval zero = {};
    for (int which : {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF}) {
      setitimer(which, &zero, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
  }
};

// ---- alarm ------------------------------------------------------------------

TEST_F(TimerTest, AlarmReturnsTheSecondsLeft) {
  EXPECT_EQ(alarm(0), 0u);
  EXPECT_EQ(alarm(100), 0u);
  unsigned left = alarm(50);
  EXPECT_GE(left, 99u);
  EXPECT_LE(left, 100u);
  left = alarm(0);
  EXPECT_GE(left, 49u);
  EXPECT_LE(left, 50u);
  EXPECT_EQ(alarm(0), 0u);
  // Less than a second left still reads as 1, never as "no alarm".
  struct itimerval it = {{0, 0}, {0, 300000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  EXPECT_EQ(alarm(0), 1u);
}

TEST_F(TimerTest, AlarmDeliversSigalrm) {
  ScopedHandler h(SIGALRM);
  const int64_t start = Now();
  alarm(1);
  ASSERT_TRUE(WaitUntil([&] { return h.count() > 0; }));
  EXPECT_GE(Now() - start, 1 * kSec);
  EXPECT_EQ(h.count(), 1);
  EXPECT_EQ(h.caught().code.load(), SI_KERNEL);
  EXPECT_EQ(alarm(0), 0u);
}

TEST_F(TimerTest, AlarmZeroCancels) {
  ScopedHandler h(SIGALRM);
  alarm(1);
  EXPECT_EQ(alarm(0), 1u);
  usleep(1500 * 1000);
  EXPECT_EQ(h.count(), 0);
}

// ---- setitimer / getitimer --------------------------------------------------

TEST_F(TimerTest, ItimerRealOneShot) {
  ScopedHandler h(SIGALRM);
  struct itimerval it = {{0, 0}, Timeval(50 * kMs)};
  const int64_t start = Now();
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  struct itimerval cur;
  ASSERT_EQ(getitimer(ITIMER_REAL, &cur), 0);
  EXPECT_GT(Nanos(cur.it_value), 0);
  EXPECT_LE(Nanos(cur.it_value), 50 * kMs);
  EXPECT_EQ(Nanos(cur.it_interval), 0);
  ASSERT_TRUE(WaitUntil([&] { return h.count() > 0; }));
  EXPECT_GE(Now() - start, 50 * kMs);
  EXPECT_EQ(h.caught().code.load(), SI_KERNEL);
  ASSERT_EQ(getitimer(ITIMER_REAL, &cur), 0);
  EXPECT_EQ(Nanos(cur.it_value), 0);
  usleep(100 * 1000);
  EXPECT_EQ(h.count(), 1);
}

TEST_F(TimerTest, ItimerRealInterval) {
  ScopedHandler h(SIGALRM);
  struct itimerval it = {Timeval(10 * kMs), Timeval(10 * kMs)};
  const int64_t start = Now();
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  ASSERT_TRUE(WaitUntil([&] { return h.count() >= 5; }));
  // Five expiries of a 10ms timer take at least 50ms.
  EXPECT_GE(Now() - start, 50 * kMs);
  struct itimerval zero = {}, old;
  ASSERT_EQ(setitimer(ITIMER_REAL, &zero, &old), 0);
  EXPECT_EQ(Nanos(old.it_interval), 10 * kMs);
  EXPECT_GT(Nanos(old.it_value), 0);
  EXPECT_LE(Nanos(old.it_value), 10 * kMs);
  const int n = h.count();
  usleep(50 * 1000);
  EXPECT_EQ(h.count(), n);
}

TEST_F(TimerTest, ItimerVirtualFiresOnUserTime) {
  ScopedHandler h(SIGVTALRM);
  struct itimerval it = {{0, 0}, Timeval(50 * kMs)};
  ASSERT_EQ(setitimer(ITIMER_VIRTUAL, &it, nullptr), 0);
  struct itimerval cur;
  ASSERT_EQ(getitimer(ITIMER_VIRTUAL, &cur), 0);
  EXPECT_GT(Nanos(cur.it_value), 0);
  // Linux adds a tick to a CPU itimer so that it cannot fire early.
  EXPECT_LE(Nanos(cur.it_value), 60 * kMs);
  const int64_t cpu_start = Now(CLOCK_PROCESS_CPUTIME_ID);
  ASSERT_TRUE(SpinUntil([&] { return h.count() > 0; }))
      << "no SIGVTALRM after 20s of spinning";
  EXPECT_GE(Now(CLOCK_PROCESS_CPUTIME_ID) - cpu_start, 40 * kMs);
  EXPECT_EQ(h.caught().code.load(), SI_KERNEL);
  ASSERT_EQ(getitimer(ITIMER_VIRTUAL, &cur), 0);
  EXPECT_EQ(Nanos(cur.it_value), 0);
}

TEST_F(TimerTest, ItimerProfFiresOnCpuTime) {
  ScopedHandler h(SIGPROF);
  struct itimerval it = {Timeval(20 * kMs), Timeval(50 * kMs)};
  ASSERT_EQ(setitimer(ITIMER_PROF, &it, nullptr), 0);
  ASSERT_TRUE(SpinUntil([&] { return h.count() >= 2; }))
      << "fewer than 2 SIGPROF after 20s of spinning";
  EXPECT_EQ(h.caught().code.load(), SI_KERNEL);
  struct itimerval cur;
  ASSERT_EQ(getitimer(ITIMER_PROF, &cur), 0);
  EXPECT_EQ(Nanos(cur.it_interval), 20 * kMs);
}

TEST_F(TimerTest, ItimerBadArguments) {
  struct itimerval it = {{0, 0}, {1, 0}};
  EXPECT_ERRNO(setitimer(99, &it, nullptr), EINVAL);
  struct itimerval cur;
  EXPECT_ERRNO(getitimer(-1, &cur), EINVAL);
  it.it_value.tv_usec = 1000000;
  EXPECT_ERRNO(setitimer(ITIMER_REAL, &it, nullptr), EINVAL);
  it.it_value = {-1, 0};
  EXPECT_ERRNO(setitimer(ITIMER_REAL, &it, nullptr), EINVAL);
  it.it_value = {1, 0};
  it.it_interval.tv_usec = -1;
  EXPECT_ERRNO(setitimer(ITIMER_REAL, &it, nullptr), EINVAL);
  EXPECT_ERRNO(syscall(SYS_getitimer, ITIMER_REAL, kBadPtr), EFAULT);
  EXPECT_ERRNO(syscall(SYS_setitimer, ITIMER_REAL, kBadPtr, nullptr), EFAULT);
}

// ---- POSIX timers -----------------------------------------------------------

TEST_F(TimerTest, SigevSignalCarriesValueAndCode) {
  ScopedHandler h(SIGUSR1);
  struct sigevent sev = SignalEvent(SIGUSR1, 0x1234);
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_MONOTONIC, &sev, &id), 0);
  ASSERT_GE(id, 0);
  const int64_t start = Now();
  ASSERT_EQ(TimerSettime(id, 0, 20 * kMs, 0), 0);
  ASSERT_TRUE(WaitUntil([&] { return h.count() > 0; }));
  EXPECT_GE(Now() - start, 20 * kMs);
  EXPECT_EQ(h.caught().code.load(), SI_TIMER);
  EXPECT_EQ(h.caught().value.load(), 0x1234);
  EXPECT_EQ(h.caught().timerid.load(), id);
  // One-shot: disarmed after it fired.
  struct itimerspec cur;
  ASSERT_EQ(TimerGettime(id, &cur), 0);
  EXPECT_EQ(Nanos(cur.it_value), 0);
  EXPECT_EQ(TimerDelete(id), 0);
}

TEST_F(TimerTest, NoSigeventMeansSigalrmWithTheId) {
  ScopedHandler h(SIGALRM);
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_REALTIME, nullptr, &id), 0);
  ASSERT_EQ(TimerSettime(id, 0, 10 * kMs, 0), 0);
  ASSERT_TRUE(WaitUntil([&] { return h.count() > 0; }));
  EXPECT_EQ(h.caught().code.load(), SI_TIMER);
  EXPECT_EQ(h.caught().value.load(), id);
  EXPECT_EQ(TimerDelete(id), 0);
}

TEST_F(TimerTest, TimerIdsAreDistinct) {
  int ids[8];
  for (int& id : ids) ASSERT_EQ(TimerCreate(CLOCK_MONOTONIC, nullptr, &id), 0);
  for (int i = 0; i < 8; i++) {
    for (int j = i + 1; j < 8; j++) EXPECT_NE(ids[i], ids[j]);
  }
  for (int id : ids) EXPECT_EQ(TimerDelete(id), 0);
}

TEST_F(TimerTest, SigevThreadIdTargetsThatThread) {
  ScopedHandler h(SIGUSR2);
  std::atomic<int> worker_tid{0};
  std::thread worker([&] {
    worker_tid = static_cast<int>(syscall(SYS_gettid));
    WaitUntil([&] { return h.count() > 0; });
  });
  ASSERT_TRUE(WaitUntil([&] { return worker_tid.load() != 0; }));
  struct sigevent sev = SignalEvent(SIGUSR2, 7);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev._sigev_un._tid = worker_tid.load();
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_MONOTONIC, &sev, &id), 0);
  ASSERT_EQ(TimerSettime(id, 0, 20 * kMs, 0), 0);
  worker.join();
  ASSERT_GT(h.count(), 0);
  EXPECT_EQ(h.caught().tid.load(), worker_tid.load());
  EXPECT_NE(h.caught().tid.load(), static_cast<int>(syscall(SYS_gettid)));
  EXPECT_EQ(h.caught().code.load(), SI_TIMER);
  EXPECT_EQ(h.caught().value.load(), 7);
  EXPECT_EQ(TimerDelete(id), 0);
}

TEST_F(TimerTest, SigevThreadIdOutsideTheProcessIsEinval) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  struct sigevent sev = SignalEvent(SIGUSR2, 0);
  sev.sigev_notify = SIGEV_THREAD_ID;
  int id = -1;
  sev._sigev_un._tid = child;
  EXPECT_ERRNO(TimerCreate(CLOCK_MONOTONIC, &sev, &id), EINVAL);
  sev._sigev_un._tid = 0;
  EXPECT_ERRNO(TimerCreate(CLOCK_MONOTONIC, &sev, &id), EINVAL);
  sev._sigev_un._tid = 0x3ffffff0;
  EXPECT_ERRNO(TimerCreate(CLOCK_MONOTONIC, &sev, &id), EINVAL);
  kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
}

std::atomic<int> g_thread_calls{0};
std::atomic<int> g_thread_value{0};
void ThreadNotify(union sigval v) {
  g_thread_value = v.sival_int;
  g_thread_calls++;
}

TEST_F(TimerTest, GlibcSigevThreadRunsTheFunction) {
  g_thread_calls = 0;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = ThreadNotify;
  sev.sigev_value.sival_int = 99;
  timer_t timer;
  ASSERT_EQ(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
  struct itimerspec its = {{0, 0}, Timespec(10 * kMs)};
  ASSERT_EQ(timer_settime(timer, 0, &its, nullptr), 0);
  ASSERT_TRUE(WaitUntil([] { return g_thread_calls.load() > 0; }));
  EXPECT_EQ(g_thread_value.load(), 99);
  EXPECT_EQ(timer_delete(timer), 0);
}

TEST_F(TimerTest, SigevNoneCountsDownSilently) {
  ScopedHandler h(SIGALRM);
  struct sigevent sev = SignalEvent(SIGALRM, 0);
  sev.sigev_notify = SIGEV_NONE;
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_MONOTONIC, &sev, &id), 0);
  ASSERT_EQ(TimerSettime(id, 0, 10 * kSec, 0), 0);
  struct itimerspec a, b;
  ASSERT_EQ(TimerGettime(id, &a), 0);
  usleep(20 * 1000);
  ASSERT_EQ(TimerGettime(id, &b), 0);
  EXPECT_LE(Nanos(a.it_value), 10 * kSec);
  EXPECT_GT(Nanos(b.it_value), 0);
  EXPECT_LE(Nanos(b.it_value), Nanos(a.it_value) - 20 * kMs);
  // Expired, it reads 0 and still sends nothing.
  ASSERT_EQ(TimerSettime(id, 0, 5 * kMs, 0), 0);
  usleep(50 * 1000);
  ASSERT_EQ(TimerGettime(id, &a), 0);
  EXPECT_EQ(Nanos(a.it_value), 0);
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(TimerDelete(id), 0);
}

TEST_F(TimerTest, AbsoluteTimeOnMonotonicAndRealtime) {
  ScopedHandler h(SIGUSR1);
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME}) {
    g_caught[SIGUSR1].count = 0;
    struct sigevent sev = SignalEvent(SIGUSR1, 0);
    int id = -1;
    ASSERT_EQ(TimerCreate(clock, &sev, &id), 0);
    const int64_t deadline = Now(clock) + 50 * kMs;
    ASSERT_EQ(TimerSettime(id, TIMER_ABSTIME, deadline, 0), 0);
    struct itimerspec cur;
    ASSERT_EQ(TimerGettime(id, &cur), 0);
    EXPECT_LE(Nanos(cur.it_value), 50 * kMs);  // reported relative
    ASSERT_TRUE(WaitUntil([&] { return h.count() > 0; })) << "clock " << clock;
    EXPECT_GE(Now(clock), deadline) << "clock " << clock;
    // A time already past fires at once.
    ASSERT_EQ(TimerSettime(id, TIMER_ABSTIME, Now(clock) - kSec, 0), 0);
    ASSERT_TRUE(WaitUntil([&] { return h.count() > 1; })) << "clock " << clock;
    EXPECT_EQ(TimerDelete(id), 0);
  }
}

TEST_F(TimerTest, OverrunWhileTheSignalIsBlocked) {
  ScopedHandler h(SIGUSR1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, nullptr), 0);
  struct sigevent sev = SignalEvent(SIGUSR1, 0);
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_MONOTONIC, &sev, &id), 0);
  h.caught().overrun_timer = id;
  ASSERT_EQ(TimerSettime(id, 0, 5 * kMs, 5 * kMs), 0);
  // Many periods pass with the one signal pending.
  usleep(200 * 1000);
  EXPECT_EQ(h.count(), 0);
  ASSERT_EQ(sigprocmask(SIG_UNBLOCK, &set, nullptr), 0);
  ASSERT_TRUE(WaitUntil([&] { return h.count() > 0; }));
  EXPECT_EQ(TimerDelete(id), 0);
  EXPECT_EQ(h.caught().code.load(), SI_TIMER);
  EXPECT_GT(h.caught().overrun.load(), 0);
  // In the handler, timer_getoverrun reported the overrun of the delivery.
  EXPECT_EQ(h.caught().overrun_call.load(), h.caught().overrun.load());
}

TEST_F(TimerTest, ProcessCpuClockTimer) {
  ScopedHandler h(SIGUSR1);
  struct sigevent sev = SignalEvent(SIGUSR1, 1);
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_PROCESS_CPUTIME_ID, &sev, &id), 0);
  const int64_t cpu_start = Now(CLOCK_PROCESS_CPUTIME_ID);
  ASSERT_EQ(TimerSettime(id, 0, 30 * kMs, 0), 0);
  struct itimerspec cur;
  ASSERT_EQ(TimerGettime(id, &cur), 0);
  EXPECT_GT(Nanos(cur.it_value), 0);
  EXPECT_LE(Nanos(cur.it_value), 30 * kMs);
  ASSERT_TRUE(SpinUntil([&] { return h.count() > 0; }));
  EXPECT_GE(Now(CLOCK_PROCESS_CPUTIME_ID) - cpu_start, 30 * kMs);
  EXPECT_EQ(h.caught().code.load(), SI_TIMER);
  EXPECT_EQ(TimerDelete(id), 0);
}

TEST_F(TimerTest, ThreadCpuClockTimer) {
  ScopedHandler h(SIGUSR2);
  struct sigevent sev = SignalEvent(SIGUSR2, 2);
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_THREAD_CPUTIME_ID, &sev, &id), 0);
  ASSERT_EQ(TimerSettime(id, 0, 30 * kMs, 0), 0);
  ASSERT_TRUE(SpinUntil([&] { return h.count() > 0; }));
  EXPECT_EQ(h.caught().value.load(), 2);
  EXPECT_EQ(TimerDelete(id), 0);
}

TEST_F(TimerTest, DeletedTimerIsEinval) {
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_MONOTONIC, nullptr, &id), 0);
  ASSERT_EQ(TimerSettime(id, 0, 10 * kSec, 0), 0);
  ASSERT_EQ(TimerDelete(id), 0);
  struct itimerspec cur;
  EXPECT_ERRNO(TimerDelete(id), EINVAL);
  EXPECT_ERRNO(TimerGettime(id, &cur), EINVAL);
  EXPECT_ERRNO(TimerSettime(id, 0, kSec, 0), EINVAL);
  EXPECT_ERRNO(syscall(SYS_timer_getoverrun, id), EINVAL);
  EXPECT_ERRNO(TimerDelete(-1), EINVAL);
}

TEST_F(TimerTest, TimerCreateBadArguments) {
  int id = -1;
  EXPECT_ERRNO(TimerCreate(100, nullptr, &id), EINVAL);
  // A clock that cannot drive timers.
  EXPECT_ERRNO(TimerCreate(CLOCK_MONOTONIC_RAW, nullptr, &id), EOPNOTSUPP);
  struct sigevent sev = SignalEvent(SIGUSR1, 0);
  sev.sigev_notify = 99;
  EXPECT_ERRNO(TimerCreate(CLOCK_MONOTONIC, &sev, &id), EINVAL);
  sev = SignalEvent(0, 0);
  EXPECT_ERRNO(TimerCreate(CLOCK_MONOTONIC, &sev, &id), EINVAL);
  sev = SignalEvent(65, 0);
  EXPECT_ERRNO(TimerCreate(CLOCK_MONOTONIC, &sev, &id), EINVAL);
  EXPECT_ERRNO(
      TimerCreate(CLOCK_MONOTONIC, static_cast<struct sigevent*>(kBadPtr), &id),
      EFAULT);
  EXPECT_ERRNO(
      TimerCreate(CLOCK_MONOTONIC, nullptr, static_cast<int*>(kBadPtr)),
      EFAULT);
}

TEST_F(TimerTest, TimerSettimeBadArguments) {
  int id = -1;
  ASSERT_EQ(TimerCreate(CLOCK_MONOTONIC, nullptr, &id), 0);
  EXPECT_ERRNO(syscall(SYS_timer_settime, id, 0, nullptr, nullptr), EINVAL);
  struct itimerspec its = {{0, 0}, {0, 1000000000}};
  EXPECT_ERRNO(syscall(SYS_timer_settime, id, 0, &its, nullptr), EINVAL);
  its = {{0, -1}, {1, 0}};
  EXPECT_ERRNO(syscall(SYS_timer_settime, id, 0, &its, nullptr), EINVAL);
  EXPECT_ERRNO(syscall(SYS_timer_settime, id, 0, kBadPtr, nullptr), EFAULT);
  EXPECT_ERRNO(syscall(SYS_timer_gettime, id, kBadPtr), EFAULT);
  // Replacing a setting reports the old one; zero disarms.
  ASSERT_EQ(TimerSettime(id, 0, 10 * kSec, kSec), 0);
  struct itimerspec old;
  ASSERT_EQ(TimerSettime(id, 0, 0, 0, &old), 0);
  EXPECT_GT(Nanos(old.it_value), 9 * kSec);
  EXPECT_EQ(Nanos(old.it_interval), kSec);
  ASSERT_EQ(TimerGettime(id, &old), 0);
  EXPECT_EQ(Nanos(old.it_value), 0);
  EXPECT_EQ(Nanos(old.it_interval), 0);
  EXPECT_EQ(TimerDelete(id), 0);
}

// Processes that exit with fast timers armed: the expiries race the exit,
// which must neither hang nor take a signal meant for a dead process.
TEST_F(TimerTest, TimersDieWithTheirProcess) {
  for (int i = 0; i < 20; i++) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = [](int) {};
      sigaction(SIGALRM, &sa, nullptr);
      sigaction(SIGUSR1, &sa, nullptr);
      sigaction(SIGPROF, &sa, nullptr);
      struct itimerval it = {{0, 100}, {0, 100}};
      setitimer(ITIMER_REAL, &it, nullptr);
      setitimer(ITIMER_PROF, &it, nullptr);
      struct sigevent sev = SignalEvent(SIGUSR1, 0);
      int id;
      TimerCreate(CLOCK_MONOTONIC, &sev, &id);
      TimerSettime(id, 0, 1000, 1000);
      BurnCpu((i % 4) * kMs);
      _exit(7);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 7);
  }
}

// ---- interrupted sleeps -----------------------------------------------------

// Arms ITIMER_REAL to interrupt the test's next sleep after `ns`.
void AlarmAfter(int64_t ns) {
  struct itimerval it = {{0, 0}, Timeval(ns)};
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
}

// rem plus the time slept must make the request (it is what was left of
// it when the signal came); allow a second of scheduling slop above.
void ExpectPlausibleRem(const timespec& rem, int64_t slept, int64_t req) {
  EXPECT_GT(Nanos(rem), 0);
  EXPECT_LT(Nanos(rem), req);
  EXPECT_GE(Nanos(rem) + slept, req - kMs);
  EXPECT_LE(Nanos(rem) + slept, req + kSec);
}

TEST_F(TimerTest, NanosleepInterruptedFillsRem) {
  for (int flags : {0, SA_RESTART}) {
    // A restart-block sleep is never restarted once a handler ran, not
    // even with SA_RESTART.
    ScopedHandler h(SIGALRM, flags);
    struct timespec req = {5, 0}, rem = {0, 0};
    const int64_t start = Now();
    AlarmAfter(100 * kMs);
    EXPECT_ERRNO(nanosleep(&req, &rem), EINTR);
    const int64_t slept = Now() - start;
    EXPECT_EQ(h.count(), 1);
    EXPECT_GE(slept, 100 * kMs);
    ExpectPlausibleRem(rem, slept, 5 * kSec);
  }
}

TEST_F(TimerTest, ClockNanosleepRelativeInterruptedFillsRem) {
  ScopedHandler h(SIGALRM);
  struct timespec req = {5, 0}, rem = {0, 0};
  const int64_t start = Now();
  AlarmAfter(100 * kMs);
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
  const int64_t slept = Now() - start;
  EXPECT_EQ(h.count(), 1);
  ExpectPlausibleRem(rem, slept, 5 * kSec);
}

TEST_F(TimerTest, ClockNanosleepAbsoluteInterruptedLeavesRem) {
  ScopedHandler h(SIGALRM, SA_RESTART);
  const int64_t deadline = Now() + 5 * kSec;
  struct timespec req = Timespec(deadline), rem = {99, 99};
  AlarmAfter(100 * kMs);
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &req, &rem), EINTR);
  EXPECT_LT(Now(), deadline);
  EXPECT_EQ(h.count(), 1);
  // rem is for relative sleeps only.
  EXPECT_EQ(rem.tv_sec, 99);
  EXPECT_EQ(rem.tv_nsec, 99);
}

TEST_F(TimerTest, ClockNanosleepAbsolute) {
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
    const int64_t deadline = Now(clock) + 30 * kMs;
    struct timespec req = Timespec(deadline);
    EXPECT_EQ(clock_nanosleep(clock, TIMER_ABSTIME, &req, nullptr), 0);
    EXPECT_GE(Now(clock), deadline) << "clock " << clock;
  }
}

// A stop signal interrupts the sleep with no handler to run: after
// SIGCONT the sleep goes on (through restart_syscall) to its deadline.
TEST_F(TimerTest, NanosleepSurvivesStopAndContinue) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int64_t start = Now();
    struct timespec req = {0, 500 * kMs};
    if (nanosleep(&req, nullptr) != 0) _exit(errno == EINTR ? 1 : 2);
    _exit(Now() - start >= 500 * kMs ? 0 : 3);
  }
  usleep(100 * 1000);
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status)) << "status " << status;
  ASSERT_EQ(kill(child, SIGCONT), 0);
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: EINTR, 2: another error, 3: woke early";
}

TEST_F(TimerTest, RestartSyscallWithNothingToRestartIsEintr) {
  EXPECT_ERRNO(syscall(SYS_restart_syscall), EINTR);
}

// ---- getrusage and times ----------------------------------------------------

int64_t CpuOf(const struct rusage& ru) {
  return Nanos(ru.ru_utime) + Nanos(ru.ru_stime);
}

TEST_F(TimerTest, GetrusageSelfAndThreadGrowWithWork) {
  struct rusage self0, thread0, self1, thread1;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &self0), 0);
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &thread0), 0);
  BurnCpu(100 * kMs);
  ASSERT_EQ(getrusage(RUSAGE_SELF, &self1), 0);
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &thread1), 0);
  EXPECT_GE(CpuOf(self1) - CpuOf(self0), 50 * kMs);
  EXPECT_GE(CpuOf(thread1) - CpuOf(thread0), 50 * kMs);
  EXPECT_GE(Nanos(self1.ru_utime), Nanos(self0.ru_utime));
  EXPECT_LE(CpuOf(thread1), CpuOf(self1));
  EXPECT_GT(self1.ru_maxrss, 0);
  EXPECT_ERRNO(getrusage(5, &self1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_getrusage, RUSAGE_SELF, kBadPtr), EFAULT);
}

// Forks a child that burns `ns` of CPU, and reaps it.
void RunBusyChild(int64_t ns) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    BurnCpu(ns);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
}

TEST_F(TimerTest, GetrusageChildrenCountsReapedChildren) {
  struct rusage before, after;
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &before), 0);
  RunBusyChild(100 * kMs);
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &after), 0);
  EXPECT_GE(CpuOf(after) - CpuOf(before), 50 * kMs);
}

TEST_F(TimerTest, TimesReportsTicks) {
  struct tms t0, t1, t2;
  const clock_t r0 = times(&t0);
  ASSERT_NE(r0, static_cast<clock_t>(-1));
  BurnCpu(100 * kMs);
  usleep(100 * 1000);
  const clock_t r1 = times(&t1);
  // 100ms of CPU is 10 ticks; at least 200ms of wall time passed.
  EXPECT_GE((t1.tms_utime + t1.tms_stime) - (t0.tms_utime + t0.tms_stime), 5);
  EXPECT_GE(r1 - r0, 15);
  RunBusyChild(100 * kMs);
  times(&t2);
  EXPECT_GE((t2.tms_cutime + t2.tms_cstime) - (t1.tms_cutime + t1.tms_cstime),
            5);
  EXPECT_NE(times(nullptr), static_cast<clock_t>(-1));
  EXPECT_ERRNO(syscall(SYS_times, kBadPtr), EFAULT);
}

}  // namespace
}  // namespace cvisor::syscall_test
