#include "sentry/kernel/timers.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/kernel/cputime.h"

namespace sentry {
namespace {

constexpr int64_t kMs = 1000 * 1000;
constexpr int64_t kSec = 1000 * kMs;
// Generous: the machine running the tests may be loaded.
constexpr auto kPatience = std::chrono::seconds(10);

int64_t MonoNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kSec + ts.tv_nsec;
}

struct Sent {
  siginfo_t info;
  int tid;
};

// Records what the table sends and serves CPU times the test sets.
struct FakeState {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Sent> sent;
  CpuTimes process;
  std::map<int, CpuTimes> threads;
  std::function<void()> on_send;  // runs before a send is recorded

  bool WaitForSends(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kPatience, [&] { return sent.size() >= n; });
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return sent.size();
  }
  Sent at(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return sent.at(i);
  }
  void SetProcess(CpuTimes c) {
    std::lock_guard<std::mutex> lock(mu);
    process = c;
  }
};

class FakeTarget final : public TimerTarget {
 public:
  explicit FakeTarget(std::shared_ptr<FakeState> s) : s_(std::move(s)) {}
  void Send(const siginfo_t& info, int tid) override {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      hook = s_->on_send;
    }
    if (hook) hook();
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->sent.push_back({info, tid});
    s_->cv.notify_all();
  }
  CpuTimes ProcessCpu() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->process;
  }
  std::optional<CpuTimes> ThreadCpu(int tid) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto it = s_->threads.find(tid);
    if (it == s_->threads.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::shared_ptr<FakeState> s_;
};

class TimerTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = std::make_shared<FakeState>();
    table_ = std::make_shared<TimerTable>(std::make_unique<FakeTarget>(state_));
  }
  void TearDown() override { table_->Shutdown(); }

  TimerClock Monotonic() { return TimerClock{}; }

  std::shared_ptr<FakeState> state_;
  std::shared_ptr<TimerTable> table_;
};

TEST_F(TimerTableTest, ItimerRealFiresOnceWithSigalrm) {
  const int64_t start = MonoNow();
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {20 * kMs, 0}, nullptr), 0);
  TimerValue v;
  ASSERT_EQ(table_->GetItimer(ITIMER_REAL, &v), 0);
  EXPECT_GT(v.value_ns, 0);
  EXPECT_LE(v.value_ns, 20 * kMs);
  ASSERT_TRUE(state_->WaitForSends(1));
  EXPECT_GE(MonoNow() - start, 20 * kMs);
  Sent s = state_->at(0);
  EXPECT_EQ(s.info.si_signo, SIGALRM);
  EXPECT_EQ(s.info.si_code, SI_KERNEL);
  EXPECT_EQ(s.tid, 0);
  // One-shot: disarmed now, and no second signal.
  ASSERT_EQ(table_->GetItimer(ITIMER_REAL, &v), 0);
  EXPECT_EQ(v.value_ns, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(state_->count(), 1u);
}

TEST_F(TimerTableTest, ItimerRealReloads) {
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {5 * kMs, 5 * kMs}, nullptr), 0);
  ASSERT_TRUE(state_->WaitForSends(4));
  TimerValue old;
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {0, 0}, &old), 0);
  EXPECT_EQ(old.interval_ns, 5 * kMs);
  EXPECT_LE(old.value_ns, 5 * kMs);
  // Disarmed: nothing more arrives.
  size_t n = state_->count();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(state_->count(), n);
}

TEST_F(TimerTableTest, DisarmedItimerKeepsItsInterval) {
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {0, 7 * kMs}, nullptr), 0);
  TimerValue v;
  ASSERT_EQ(table_->GetItimer(ITIMER_REAL, &v), 0);
  EXPECT_EQ(v.value_ns, 0);
  EXPECT_EQ(v.interval_ns, 7 * kMs);
}

TEST_F(TimerTableTest, BadWhichIsEinval) {
  TimerValue v;
  EXPECT_EQ(table_->SetItimer(3, {kMs, 0}, nullptr), -EINVAL);
  EXPECT_EQ(table_->GetItimer(-1, &v), -EINVAL);
}

TEST_F(TimerTableTest, AlarmReportsRoundedSeconds) {
  EXPECT_EQ(table_->Alarm(100), 0u);
  unsigned left = table_->Alarm(50);
  EXPECT_GE(left, 99u);
  EXPECT_LE(left, 100u);
  left = table_->Alarm(0);
  EXPECT_GE(left, 49u);
  EXPECT_LE(left, 50u);
  EXPECT_EQ(table_->Alarm(0), 0u);
  // A sub-second alarm still pending reads as 1, never 0.
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {100 * kMs, 0}, nullptr), 0);
  EXPECT_EQ(table_->Alarm(0), 1u);
}

TEST_F(TimerTableTest, PosixTimerSendsSiTimerWithValue) {
  TimerNotify n;
  n.signo = SIGRTMIN + 1;
  n.value.sival_int = 1234;
  int id = table_->Create(Monotonic(), n);
  ASSERT_GE(id, 0);
  ASSERT_EQ(table_->Settime(id, false, {10 * kMs, 0}, nullptr), 0);
  ASSERT_TRUE(state_->WaitForSends(1));
  Sent s = state_->at(0);
  EXPECT_EQ(s.info.si_signo, SIGRTMIN + 1);
  EXPECT_EQ(s.info.si_code, SI_TIMER);
  EXPECT_EQ(s.info.si_timerid, id);
  EXPECT_EQ(s.info.si_value.sival_int, 1234);
  EXPECT_EQ(s.tid, 0);
}

TEST_F(TimerTableTest, DefaultNotificationCarriesTheId) {
  TimerNotify n;
  n.value_is_id = true;
  int first = table_->Create(Monotonic(), n);
  int second = table_->Create(Monotonic(), n);
  ASSERT_GE(first, 0);
  EXPECT_NE(first, second);
  ASSERT_EQ(table_->Settime(second, false, {kMs, 0}, nullptr), 0);
  ASSERT_TRUE(state_->WaitForSends(1));
  EXPECT_EQ(state_->at(0).info.si_signo, SIGALRM);
  EXPECT_EQ(state_->at(0).info.si_value.sival_int, second);
}

TEST_F(TimerTableTest, ThreadIdNotificationNamesTheThread) {
  TimerNotify n;
  n.notify = SIGEV_THREAD_ID;
  n.signo = SIGUSR1;
  n.tid = 77;
  int id = table_->Create(Monotonic(), n);
  ASSERT_EQ(table_->Settime(id, false, {kMs, 0}, nullptr), 0);
  ASSERT_TRUE(state_->WaitForSends(1));
  EXPECT_EQ(state_->at(0).tid, 77);
}

TEST_F(TimerTableTest, SigevNoneCountsDownWithoutSignals) {
  TimerNotify n;
  n.notify = SIGEV_NONE;
  int id = table_->Create(Monotonic(), n);
  ASSERT_EQ(table_->Settime(id, false, {kSec, 0}, nullptr), 0);
  TimerValue a, b;
  ASSERT_EQ(table_->Gettime(id, &a), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(table_->Gettime(id, &b), 0);
  EXPECT_LE(a.value_ns, kSec);
  EXPECT_LT(b.value_ns, a.value_ns);
  EXPECT_GT(b.value_ns, 0);
  // An expired one-shot SIGEV_NONE timer reads 0; an interval one moves on.
  ASSERT_EQ(table_->Settime(id, false, {kMs, 0}, nullptr), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(table_->Gettime(id, &a), 0);
  EXPECT_EQ(a.value_ns, 0);
  ASSERT_EQ(table_->Settime(id, false, {kMs, 3 * kMs}, nullptr), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(table_->Gettime(id, &a), 0);
  EXPECT_GT(a.value_ns, 0);
  EXPECT_LE(a.value_ns, 3 * kMs);
  EXPECT_EQ(a.interval_ns, 3 * kMs);
  EXPECT_EQ(state_->count(), 0u);
}

TEST_F(TimerTableTest, AbsoluteTimeOnItsClock) {
  for (clockid_t clk : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
    TimerClock c;
    c.wall = clk;
    int id = table_->Create(c, TimerNotify{});
    timespec now;
    clock_gettime(clk, &now);
    const int64_t deadline = now.tv_sec * kSec + now.tv_nsec + 20 * kMs;
    size_t before = state_->count();
    ASSERT_EQ(table_->Settime(id, true, {deadline, 0}, nullptr), 0);
    ASSERT_TRUE(state_->WaitForSends(before + 1)) << "clock " << clk;
    clock_gettime(clk, &now);
    EXPECT_GE(now.tv_sec * kSec + now.tv_nsec, deadline) << "clock " << clk;
    // In the past: fires at once.
    ASSERT_EQ(table_->Settime(id, true, {1, 0}, nullptr), 0);
    ASSERT_TRUE(state_->WaitForSends(before + 2)) << "clock " << clk;
  }
}

TEST_F(TimerTableTest, OverrunsOfAShortIntervalAreBatched) {
  int id = table_->Create(Monotonic(), TimerNotify{});
  // Far shorter than the reload floor: the expiries batch into overruns.
  ASSERT_EQ(table_->Settime(id, false, {1000, 1000}, nullptr), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(table_->Delete(id), 0);
  size_t n = state_->count();
  ASSERT_GT(n, 0u);
  EXPECT_LT(n, 2000u);  // 50ms / 50us = 1000, with room for lateness
  int64_t overruns = 0;
  for (size_t i = 0; i < n; i++) overruns += state_->at(i).info.si_overrun;
  EXPECT_GT(overruns, 0);
  // Delivery tells timer_getoverrun; an id that is gone is ignored.
  int id2 = table_->Create(Monotonic(), TimerNotify{});
  siginfo_t info = state_->at(0).info;
  info.si_timerid = id2;
  info.si_overrun = 42;
  table_->SignalDelivered(info);
  EXPECT_EQ(table_->Getoverrun(id2), 42);
  info.si_timerid = id;
  table_->SignalDelivered(info);
}

TEST_F(TimerTableTest, DeletedTimerIsGoneAndSilent) {
  int id = table_->Create(Monotonic(), TimerNotify{});
  ASSERT_EQ(table_->Settime(id, false, {20 * kMs, 0}, nullptr), 0);
  ASSERT_EQ(table_->Delete(id), 0);
  TimerValue v;
  EXPECT_EQ(table_->Delete(id), -EINVAL);
  EXPECT_EQ(table_->Gettime(id, &v), -EINVAL);
  EXPECT_EQ(table_->Settime(id, false, {kMs, 0}, nullptr), -EINVAL);
  EXPECT_EQ(table_->Getoverrun(id), -EINVAL);
  EXPECT_EQ(table_->Gettime(-1, &v), -EINVAL);  // not an interval timer
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(state_->count(), 0u);
}

TEST_F(TimerTableTest, ExecDeletesPosixTimersOnly) {
  int id = table_->Create(Monotonic(), TimerNotify{});
  ASSERT_EQ(table_->Settime(id, false, {kSec, 0}, nullptr), 0);
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {kSec, 0}, nullptr), 0);
  table_->DeletePosixTimers();
  TimerValue v;
  EXPECT_EQ(table_->Gettime(id, &v), -EINVAL);
  ASSERT_EQ(table_->GetItimer(ITIMER_REAL, &v), 0);
  EXPECT_GT(v.value_ns, 0);
}

TEST_F(TimerTableTest, CpuItimersFollowSampledCpuTime) {
  state_->SetProcess({100 * kMs, 50 * kMs});
  ASSERT_EQ(table_->SetItimer(ITIMER_VIRTUAL, {30 * kMs, 0}, nullptr), 0);
  ASSERT_EQ(table_->SetItimer(ITIMER_PROF, {30 * kMs, 0}, nullptr), 0);
  TimerValue v;
  ASSERT_EQ(table_->GetItimer(ITIMER_VIRTUAL, &v), 0);
  EXPECT_EQ(v.value_ns, 30 * kMs);  // the fake clock stands still
  // Wall time passes, CPU time does not: nothing fires.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(state_->count(), 0u);
  // 20ms of system time: only PROF (user + system) reaches its expiry.
  state_->SetProcess({100 * kMs, 80 * kMs});
  ASSERT_TRUE(state_->WaitForSends(1));
  EXPECT_EQ(state_->at(0).info.si_signo, SIGPROF);
  EXPECT_EQ(state_->at(0).info.si_code, SI_KERNEL);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(state_->count(), 1u);
  state_->SetProcess({130 * kMs, 80 * kMs});
  ASSERT_TRUE(state_->WaitForSends(2));
  EXPECT_EQ(state_->at(1).info.si_signo, SIGVTALRM);
}

TEST_F(TimerTableTest, ThreadCpuTimerAndVanishedThread) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->threads[5] = {10 * kMs, 0};
  }
  TimerClock c;
  c.kind = TimerClock::kThreadCpu;
  c.tid = 5;
  TimerNotify n;
  n.signo = SIGUSR2;
  int id = table_->Create(c, n);
  ASSERT_EQ(table_->Settime(id, false, {5 * kMs, 5 * kMs}, nullptr), 0);
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->threads[5] = {26 * kMs, 0};
  }
  ASSERT_TRUE(state_->WaitForSends(1));
  // 16ms past a 5ms-period timer armed at 10ms: the expiry at 15ms, with
  // the ones at 20 and 25 as overruns.
  EXPECT_EQ(state_->at(0).info.si_signo, SIGUSR2);
  EXPECT_EQ(state_->at(0).info.si_overrun, 2);
  TimerValue v;
  ASSERT_EQ(table_->Gettime(id, &v), 0);
  EXPECT_EQ(v.value_ns, 4 * kMs);
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->threads.erase(5);
  }
  EXPECT_EQ(table_->Settime(id, false, {kMs, 0}, nullptr), -ESRCH);
  ASSERT_EQ(table_->Gettime(id, &v), 0);
  EXPECT_EQ(v.value_ns, 0);
}

TEST_F(TimerTableTest, ShutdownWaitsForASendInProgress) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> release_f = release.get_future().share();
  std::atomic<bool> first{true};
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->on_send = [&, release_f] {
      if (first.exchange(false)) {
        entered.set_value();
        release_f.wait();
      }
    };
  }
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {kMs, kMs}, nullptr), 0);
  ASSERT_EQ(entered.get_future().wait_for(kPatience),
            std::future_status::ready);
  std::atomic<bool> done{false};
  std::thread shutter([&] {
    table_->Shutdown();
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(done.load());
  release.set_value();
  shutter.join();
  EXPECT_TRUE(done.load());
  // Nothing fires after Shutdown, and arming does nothing.
  size_t n = state_->count();
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {kMs, 0}, nullptr), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(state_->count(), n);
}

TEST_F(TimerTableTest, TableFreedWithTimersArmed) {
  ASSERT_EQ(table_->SetItimer(ITIMER_REAL, {5 * kMs, kMs}, nullptr), 0);
  table_.reset();
  // The timer thread must skip the freed table.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  table_ = std::make_shared<TimerTable>(std::make_unique<FakeTarget>(state_));
  EXPECT_EQ(state_->count(), 0u);
}

// ---- CPU time from /proc ----

void Spin(int64_t ns) {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  const int64_t until = ts.tv_sec * kSec + ts.tv_nsec + ns;
  volatile uint64_t sink = 0;
  do {
    for (int i = 0; i < 10000; i++) sink = sink + i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  } while (ts.tv_sec * kSec + ts.tv_nsec < until);
}

TEST(CpuTimeTest, HostThreadTimesGrowWithWork) {
  const pid_t pid = getpid();
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  CpuTimes before, after;
  pid_t tracer = -1;
  ASSERT_TRUE(HostThreadCpuTimes(pid, tid, &before, &tracer));
  EXPECT_EQ(tracer, 0);
  Spin(30 * kMs);
  ASSERT_TRUE(HostThreadCpuTimes(pid, tid, &after, nullptr));
  EXPECT_GE(after.total_ns() - before.total_ns(), 25 * kMs);
  EXPECT_GE(after.user_ns, before.user_ns);
  // schedstat is the thread's CPU clock: the two agree closely.
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  EXPECT_NEAR(static_cast<double>(after.total_ns()),
              static_cast<double>(ts.tv_sec * kSec + ts.tv_nsec),
              static_cast<double>(10 * kMs));
}

TEST(CpuTimeTest, VanishedThreadReadsAsGone) {
  pid_t tid = 0;
  std::thread([&] { tid = static_cast<pid_t>(syscall(SYS_gettid)); }).join();
  CpuTimes c{1, 1};
  EXPECT_FALSE(HostThreadCpuTimes(getpid(), tid, &c, nullptr));
  EXPECT_EQ(c.total_ns(), 0);
  EXPECT_EQ(SentryThreadCpuNs(tid), -1);
}

TEST(CpuTimeTest, SentryThreadClockOfAnotherThread) {
  std::promise<pid_t> tid_p;
  std::promise<void> stop;
  std::thread worker([&] {
    tid_p.set_value(static_cast<pid_t>(syscall(SYS_gettid)));
    Spin(20 * kMs);
    stop.get_future().wait();
  });
  pid_t tid = tid_p.get_future().get();
  // Wait (in wall time, generously) for the worker's 20ms of CPU.
  int64_t ns = 0;
  for (int i = 0; i < 1000 && ns < 20 * kMs; i++) {
    ns = SentryThreadCpuNs(tid);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(ns, 20 * kMs);
  stop.set_value();
  worker.join();
}

}  // namespace
}  // namespace sentry
