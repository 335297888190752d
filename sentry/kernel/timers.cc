#include "sentry/kernel/timers.h"

#include <errno.h>
#include <pthread.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>
#include <utility>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry {

namespace {

constexpr int64_t kNsPerSec = 1000000000;
// An interval timer reloads no sooner than this after it fired: expiries
// closer together are batched into one signal and counted as overruns,
// so a 1ns interval cannot keep the timer thread busy.
constexpr int64_t kMinReloadNs = 50 * 1000;
// Linux bounds the timers a process may have by its pending-signal limit;
// a fixed bound does here.
constexpr size_t kMaxPosixTimers = 1 << 16;

int64_t ClockNow(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

// Delivers a process's timer signals through the kernel. It holds the
// process weakly (the process owns the table) and finds a target thread
// under the locks that keep it alive.
class KernelTimerTarget final : public TimerTarget {
 public:
  KernelTimerTarget(Kernel& kernel, std::weak_ptr<ThreadGroup> tg)
      : kernel_(kernel), tg_(std::move(tg)) {}

  void Send(const siginfo_t& info, int tid) override {
    std::shared_ptr<ThreadGroup> tg = tg_.lock();
    if (!tg) return;
    std::lock_guard<std::mutex> lock(kernel_.signal_mu());
    if (tid == 0) {
      kernel_.SendToGroupLocked(*tg, info, false);
      return;
    }
    // A task in tg->tasks stays alive while signal_mu() is held: it leaves
    // the list under that lock before it is freed.
    Task* target = nullptr;
    {
      std::lock_guard<std::mutex> tg_lock(tg->mu);
      for (Task* t : tg->tasks) {
        if (t->tid() == tid) target = t;
      }
    }
    if (target != nullptr) kernel_.SendToTaskLocked(*target, info);
  }

  CpuTimes ProcessCpu() override {
    std::shared_ptr<ThreadGroup> tg = tg_.lock();
    return tg ? ProcessCpuTimes(*tg) : CpuTimes{};
  }

  std::optional<CpuTimes> ThreadCpu(int tid) override {
    std::shared_ptr<ThreadGroup> tg = tg_.lock();
    if (!tg) return std::nullopt;
    std::lock_guard<std::mutex> lock(tg->mu);
    for (Task* t : tg->tasks) {
      if (t->tid() == tid) return TaskCpuTimes(*t);
    }
    return std::nullopt;
  }

 private:
  Kernel& kernel_;
  const std::weak_ptr<ThreadGroup> tg_;
};

}  // namespace

// The kernel-wide timer thread: a queue of wall-clock expiries ordered by
// monotonic time, and the list of tables whose CPU timers it samples. It
// never calls into a table with its own lock held; tables call in with
// theirs held (lock order: table, then service).
class TimerService final {
 public:
  // Intentionally leaked, like the kernel: the thread runs until the
  // sandbox process exits.
  static TimerService& Get() {
    static TimerService* service = new TimerService;
    return *service;
  }

  // Queues table->Fire(key, ticket) at monotonic time `when`; returns the
  // ticket, which names the entry for Cancel.
  uint64_t Schedule(std::weak_ptr<TimerTable> table, int key, int64_t when) {
    std::lock_guard<std::mutex> lock(mu_);
    StartLocked();
    uint64_t ticket = next_ticket_++;
    auto it =
        queue_
            .emplace(std::make_pair(when, ticket), Entry{std::move(table), key})
            .first;
    if (it == queue_.begin()) cv_.notify_one();
    return ticket;
  }

  void Cancel(uint64_t ticket, int64_t when) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.erase(std::make_pair(when, ticket));
  }

  // Samples table->CpuTick() every kCpuTimerTickNs until it returns false.
  void WatchCpu(std::weak_ptr<TimerTable> table) {
    std::lock_guard<std::mutex> lock(mu_);
    StartLocked();
    if (cpu_.empty())
      next_cpu_tick_ = ClockNow(CLOCK_MONOTONIC) + kCpuTimerTickNs;
    cpu_.push_back(std::move(table));
    cv_.notify_one();
  }

 private:
  struct Entry {
    std::weak_ptr<TimerTable> table;
    int key;
  };

  void StartLocked() {
    if (started_) return;
    started_ = true;
    // The thread takes no host signals: those are for task threads.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread([this] { Run(); }).detach();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  void Run() {
    pthread_setname_np(pthread_self(), "sentry-timers");
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      const int64_t now = ClockNow(CLOCK_MONOTONIC);
      if (!queue_.empty() && queue_.begin()->first.first <= now) {
        auto node = queue_.extract(queue_.begin());
        lock.unlock();
        if (std::shared_ptr<TimerTable> t = node.mapped().table.lock()) {
          t->Fire(node.mapped().key, node.key().second);
        }
        lock.lock();
        continue;
      }
      if (!cpu_.empty() && now >= next_cpu_tick_) {
        std::vector<std::weak_ptr<TimerTable>> tables = cpu_;
        lock.unlock();
        std::vector<std::weak_ptr<TimerTable>> done;
        for (auto& w : tables) {
          std::shared_ptr<TimerTable> t = w.lock();
          if (!t || !t->CpuTick()) done.push_back(w);
        }
        lock.lock();
        // Remove one entry per table that stopped: a table that re-armed
        // meanwhile has added itself again.
        for (auto& w : done) {
          auto same = [&w](const std::weak_ptr<TimerTable>& x) {
            return !w.owner_before(x) && !x.owner_before(w);
          };
          auto it = std::find_if(cpu_.begin(), cpu_.end(), same);
          if (it != cpu_.end()) cpu_.erase(it);
        }
        next_cpu_tick_ = now + kCpuTimerTickNs;
        continue;
      }
      int64_t wake = INT64_MAX;
      if (!queue_.empty()) wake = queue_.begin()->first.first;
      if (!cpu_.empty()) wake = std::min(wake, next_cpu_tick_);
      if (wake == INT64_MAX) {
        cv_.wait(lock);
      } else {
        // steady_clock is CLOCK_MONOTONIC.
        cv_.wait_for(lock, std::chrono::nanoseconds(wake - now));
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<int64_t, uint64_t>, Entry> queue_;
  std::vector<std::weak_ptr<TimerTable>> cpu_;
  int64_t next_cpu_tick_ = 0;
  uint64_t next_ticket_ = 1;
  bool started_ = false;
};

// ---- TimerTable ----

TimerTable::TimerTable(std::unique_ptr<TimerTarget> target)
    : target_(std::move(target)) {
  // The interval timers: ITIMER_REAL counts CLOCK_MONOTONIC and sends
  // SIGALRM; ITIMER_VIRTUAL user time (SIGVTALRM); ITIMER_PROF user and
  // system time (SIGPROF). All are process-directed.
  const int signals[3] = {SIGALRM, SIGVTALRM, SIGPROF};
  for (int which = 0; which < 3; which++) {
    Timer& tm = itimers_[which];
    tm.notify.signo = signals[which];
    if (which == ITIMER_REAL) {
      tm.clock.kind = TimerClock::kWall;
      tm.clock.wall = CLOCK_MONOTONIC;
    } else {
      tm.clock.kind = TimerClock::kProcessCpu;
      tm.clock.cpu =
          which == ITIMER_VIRTUAL ? CpuClockKind::kVirt : CpuClockKind::kProf;
    }
  }
}

TimerTable::~TimerTable() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Timer& tm : itimers_) CancelLocked(tm);
  for (auto& [id, tm] : posix_) CancelLocked(tm);
}

std::shared_ptr<TimerTable> TimerTable::Of(
    Kernel& kernel, const std::shared_ptr<ThreadGroup>& tg) {
  std::lock_guard<std::mutex> lock(tg->mu);
  if (!tg->timers) {
    tg->timers = std::make_shared<TimerTable>(
        std::make_unique<KernelTimerTarget>(kernel, tg));
  }
  return tg->timers;
}

std::shared_ptr<TimerTable> TimerTable::Find(ThreadGroup& tg) {
  std::lock_guard<std::mutex> lock(tg.mu);
  return tg.timers;
}

TimerTable::Timer* TimerTable::LookupLocked(int key) {
  if (key < 0) return key >= -3 ? &itimers_[-1 - key] : nullptr;
  auto it = posix_.find(key);
  return it == posix_.end() ? nullptr : &it->second;
}

std::optional<int64_t> TimerTable::Sample(const TimerClock& clock) {
  switch (clock.kind) {
    case TimerClock::kWall:
      return ClockNow(clock.wall);
    case TimerClock::kProcessCpu:
      return CpuClockValue(target_->ProcessCpu(), clock.cpu);
    case TimerClock::kThreadCpu: {
      std::optional<CpuTimes> c = target_->ThreadCpu(clock.tid);
      if (!c) return std::nullopt;
      return CpuClockValue(*c, clock.cpu);
    }
  }
  return std::nullopt;
}

void TimerTable::CancelLocked(Timer& tm) {
  if (tm.ticket == 0) return;
  TimerService::Get().Cancel(tm.ticket, tm.queued_ns);
  tm.ticket = 0;
}

void TimerTable::QueueLocked(Timer& tm, int key, int64_t now, bool reload) {
  // Wall clocks other than the monotonic one are converted at arming time;
  // Fire checks the clock itself and queues again if it is not there yet
  // (the host's wall clock was set back meanwhile).
  const int64_t mono_now = ClockNow(CLOCK_MONOTONIC);
  int64_t when = tm.clock.wall == CLOCK_MONOTONIC
                     ? tm.expiry
                     : SaturatingAdd(mono_now, tm.expiry - now);
  if (reload) when = std::max(when, mono_now + kMinReloadNs);
  CancelLocked(tm);
  tm.queued_ns = when;
  tm.ticket = TimerService::Get().Schedule(weak_from_this(), key, when);
}

void TimerTable::ArmLocked(Timer& tm, int key, int64_t now, bool absolute,
                           const TimerValue& value) {
  CancelLocked(tm);
  if (value.value_ns == 0) {
    tm.expiry = 0;
    // Linux reports an interval timer's interval back even when disarmed;
    // a disarmed POSIX timer has none.
    tm.interval = tm.posix ? 0 : value.interval_ns;
    return;
  }
  tm.interval = value.interval_ns;
  int64_t expiry =
      absolute ? value.value_ns : SaturatingAdd(now, value.value_ns);
  tm.expiry = std::max<int64_t>(expiry, 1);    // 0 means disarmed
  if (tm.notify.notify == SIGEV_NONE) return;  // read by Gettime only
  if (tm.clock.kind == TimerClock::kWall) {
    QueueLocked(tm, key, now, false);
  } else if (!cpu_watched_) {
    cpu_watched_ = true;
    TimerService::Get().WatchCpu(weak_from_this());
  }
}

TimerValue TimerTable::RemainingLocked(Timer& tm, int64_t now) {
  TimerValue v{0, tm.interval};
  if (tm.expiry == 0) return v;
  if (tm.expiry > now) {
    v.value_ns = tm.expiry - now;
    return v;
  }
  // Due but not fired yet. Linux reports a timer about to fire as having
  // the smallest time left (1us for interval timers, 1ns for POSIX ones),
  // except a SIGEV_NONE timer, which never fires: its one-shot expiry reads
  // as 0 and an interval one moves on to its next period.
  if (!tm.posix) {
    v.value_ns = 1000;
  } else if (tm.notify.notify != SIGEV_NONE) {
    v.value_ns = 1;
  } else if (tm.interval > 0) {
    int64_t periods = (now - tm.expiry) / tm.interval + 1;
    int64_t step;
    if (__builtin_mul_overflow(periods, tm.interval, &step)) step = INT64_MAX;
    tm.expiry = SaturatingAdd(tm.expiry, step);
    v.value_ns = tm.expiry - now;
  }
  return v;
}

std::optional<TimerTable::Expiry> TimerTable::ExpireLocked(Timer& tm, int key,
                                                           int64_t now) {
  int64_t overrun = 0;
  if (tm.interval > 0) {
    // Periods the thread missed (it woke late, or the period is short) are
    // overruns of this expiry, not signals of their own.
    overrun = (now - tm.expiry) / tm.interval;
    int64_t step;
    if (__builtin_mul_overflow(overrun + 1, tm.interval, &step)) {
      step = INT64_MAX;
    }
    tm.expiry = SaturatingAdd(tm.expiry, step);
    if (tm.clock.kind == TimerClock::kWall) QueueLocked(tm, key, now, true);
  } else {
    tm.expiry = 0;
  }
  if (tm.notify.notify == SIGEV_NONE) return std::nullopt;
  Expiry e;
  e.info = MakeSigInfo(tm.notify.signo, tm.posix ? SI_TIMER : SI_KERNEL, 0, 0);
  e.tid = 0;
  if (tm.posix) {
    e.info.si_timerid = tm.id;
    e.info.si_overrun = static_cast<int>(std::min<int64_t>(overrun, INT_MAX));
    e.info.si_value = tm.notify.value;
    if (tm.notify.notify == SIGEV_THREAD_ID) e.tid = tm.notify.tid;
  }
  return e;
}

void TimerTable::SendAll(std::unique_lock<std::mutex>& lock,
                         const std::vector<Expiry>& expiries) {
  if (expiries.empty()) return;
  in_flight_++;
  lock.unlock();
  for (const Expiry& e : expiries) target_->Send(e.info, e.tid);
  lock.lock();
  if (--in_flight_ == 0) idle_cv_.notify_all();
}

void TimerTable::Fire(int key, uint64_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  if (shutdown_) return;
  Timer* tm = LookupLocked(key);
  if (tm == nullptr || tm->ticket != ticket) return;  // re-armed or deleted
  tm->ticket = 0;
  if (tm->expiry == 0 || tm->clock.kind != TimerClock::kWall) return;
  const int64_t now = ClockNow(tm->clock.wall);
  if (now < tm->expiry) {
    QueueLocked(*tm, key, now, false);
    return;
  }
  std::optional<Expiry> e = ExpireLocked(*tm, key, now);
  if (e) SendAll(lock, {*e});
}

bool TimerTable::CpuTick() {
  auto armed_cpu = [](const Timer& tm) {
    return tm.expiry != 0 && tm.clock.kind != TimerClock::kWall &&
           tm.notify.notify != SIGEV_NONE;
  };
  std::unique_lock<std::mutex> lock(mu_);
  bool need_process = false;
  std::vector<int> tids;
  for (const Timer& tm : itimers_) need_process |= armed_cpu(tm);
  for (const auto& [id, tm] : posix_) {
    if (!armed_cpu(tm)) continue;
    if (tm.clock.kind == TimerClock::kProcessCpu) {
      need_process = true;
    } else {
      tids.push_back(tm.clock.tid);
    }
  }
  if (shutdown_ || (!need_process && tids.empty())) {
    cpu_watched_ = false;
    return false;
  }
  // Sample without the lock: reading CPU time takes the process's lock
  // and reads /proc.
  lock.unlock();
  std::optional<CpuTimes> process;
  if (need_process) process = target_->ProcessCpu();
  std::map<int, std::optional<CpuTimes>> threads;
  for (int tid : tids) {
    if (!threads.count(tid)) threads[tid] = target_->ThreadCpu(tid);
  }
  lock.lock();
  if (shutdown_) {
    cpu_watched_ = false;
    return false;
  }
  std::vector<Expiry> expiries;
  auto check = [&](Timer& tm, int key) {
    if (!armed_cpu(tm)) return;
    std::optional<CpuTimes> c;
    if (tm.clock.kind == TimerClock::kProcessCpu) {
      c = process;
    } else if (auto it = threads.find(tm.clock.tid); it != threads.end()) {
      c = it->second;
    }
    if (!c) return;  // armed since the sample, or its thread is gone
    const int64_t now = CpuClockValue(*c, tm.clock.cpu);
    if (now < tm.expiry) return;
    if (std::optional<Expiry> e = ExpireLocked(tm, key, now)) {
      expiries.push_back(*e);
    }
  };
  for (int which = 0; which < 3; which++) check(itimers_[which], -1 - which);
  for (auto& [id, tm] : posix_) check(tm, id);
  SendAll(lock, expiries);
  return true;
}

// ---- interval timers ----

int TimerTable::SetItimer(int which, const TimerValue& value, TimerValue* old) {
  if (which < ITIMER_REAL || which > ITIMER_PROF) return -EINVAL;
  // The clock of an interval timer never changes: read it unlocked.
  const int64_t now = Sample(itimers_[which].clock).value_or(0);
  std::lock_guard<std::mutex> lock(mu_);
  Timer& tm = itimers_[which];
  if (old != nullptr) *old = RemainingLocked(tm, now);
  if (shutdown_) return 0;
  ArmLocked(tm, -1 - which, now, false, value);
  return 0;
}

int TimerTable::GetItimer(int which, TimerValue* out) {
  if (which < ITIMER_REAL || which > ITIMER_PROF) return -EINVAL;
  const int64_t now = Sample(itimers_[which].clock).value_or(0);
  std::lock_guard<std::mutex> lock(mu_);
  *out = RemainingLocked(itimers_[which], now);
  return 0;
}

unsigned TimerTable::Alarm(unsigned seconds) {
  TimerValue old;
  SetItimer(ITIMER_REAL, {static_cast<int64_t>(seconds) * kNsPerSec, 0}, &old);
  // Linux reports whole seconds, rounded to the nearest, but never 0 for an
  // alarm still pending (the remaining time is first cut to microseconds).
  int64_t secs = old.value_ns / kNsPerSec;
  int64_t usecs = old.value_ns % kNsPerSec / 1000;
  if ((secs == 0 && usecs != 0) || usecs >= 500000) secs++;
  return static_cast<unsigned>(std::min<int64_t>(secs, UINT_MAX));
}

// ---- POSIX timers ----

int TimerTable::Create(const TimerClock& clock, const TimerNotify& notify) {
  std::lock_guard<std::mutex> lock(mu_);
  if (posix_.size() >= kMaxPosixTimers) return -EAGAIN;
  // Ids count up per process, as in Linux, skipping ones in use.
  int id;
  do {
    id = next_id_;
    next_id_ = next_id_ == INT_MAX ? 0 : next_id_ + 1;
  } while (posix_.count(id));
  Timer& tm = posix_[id];
  tm.posix = true;
  tm.id = id;
  tm.clock = clock;
  tm.notify = notify;
  if (notify.value_is_id) {
    tm.notify.value = sigval{};
    tm.notify.value.sival_int = id;
  }
  return id;
}

int TimerTable::Settime(int id, bool absolute, const TimerValue& value,
                        TimerValue* old) {
  TimerClock clock;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Timer* tm = LookupLocked(id);
    if (id < 0 || tm == nullptr) return -EINVAL;
    clock = tm->clock;
  }
  std::optional<int64_t> now = Sample(clock);
  std::lock_guard<std::mutex> lock(mu_);
  Timer* tm = LookupLocked(id);
  if (tm == nullptr) return -EINVAL;  // deleted meanwhile
  // Linux: the thread a CPU-clock timer measures has exited.
  if (!now) return -ESRCH;
  if (old != nullptr) *old = RemainingLocked(*tm, *now);
  if (shutdown_) return 0;
  ArmLocked(*tm, id, *now, absolute, value);
  return 0;
}

int TimerTable::Gettime(int id, TimerValue* out) {
  TimerClock clock;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Timer* tm = LookupLocked(id);
    if (id < 0 || tm == nullptr) return -EINVAL;
    clock = tm->clock;
  }
  std::optional<int64_t> now = Sample(clock);
  std::lock_guard<std::mutex> lock(mu_);
  Timer* tm = LookupLocked(id);
  if (tm == nullptr) return -EINVAL;
  if (!now) {
    // Its thread is gone: the timer can never fire again.
    *out = {0, tm->interval};
    return 0;
  }
  *out = RemainingLocked(*tm, *now);
  return 0;
}

int TimerTable::Getoverrun(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  Timer* tm = LookupLocked(id);
  if (id < 0 || tm == nullptr) return -EINVAL;
  return tm->overrun_last;
}

int TimerTable::Delete(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = posix_.find(id);
  if (it == posix_.end()) return -EINVAL;
  CancelLocked(it->second);
  posix_.erase(it);
  return 0;
}

void TimerTable::DeletePosixTimers() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, tm] : posix_) CancelLocked(tm);
  posix_.clear();
}

void TimerTable::SignalDelivered(const siginfo_t& info) {
  if (info.si_code != SI_TIMER) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = posix_.find(info.si_timerid);
  if (it != posix_.end()) it->second.overrun_last = info.si_overrun;
}

void TimerTable::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  shutdown_ = true;
  for (Timer& tm : itimers_) {
    CancelLocked(tm);
    tm.expiry = 0;
  }
  for (auto& [id, tm] : posix_) CancelLocked(tm);
  posix_.clear();
  // An expiry already past the shutdown_ check may be sending right now.
  idle_cv_.wait(lock, [this] { return in_flight_ == 0; });
}

}  // namespace sentry
