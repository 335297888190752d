// How sentry threads sleep. A thread blocked on behalf of a task (a pipe
// read, a futex, wait4, a sleep) must wake when the task is signalled or
// killed: the kernel installs an Interruptor on each task thread, and every
// sleep here arms it, so one Notify ends whichever sleep the thread is in.
// Threads without an Interruptor (unit tests, helpers) sleep until notified.
#ifndef CVISOR_SENTRY_VFS_WAIT_H_
#define CVISOR_SENTRY_VFS_WAIT_H_

#include <poll.h>
#include <time.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace sentry {

// The syscall restart codes a syscall returns when a signal interrupted its
// sleep (never seen by the application): how it continues depends on the
// signal's disposition, as in Linux.
inline constexpr int kERestartSys = 512;     // restart if SA_RESTART
inline constexpr int kERestartNoIntr = 513;  // always restart
inline constexpr int kERestartNoHand = 514;  // restart unless a handler ran
inline constexpr int kERestartBlock = 516;   // restart via restart_syscall

}  // namespace sentry

namespace sentry::vfs {

// Someone to tell when something a sleeper waits for may have changed:
// poll's eventfd-backed waiter, or a thread blocked in a read or write.
// Notify may be called from any thread, with the notifier's own locks held,
// so it must not call back into the notifier.
class Waiter {
 public:
  virtual void Notify() = 0;

 protected:
  ~Waiter() = default;
};

// A point in time on CLOCK_MONOTONIC or CLOCK_REALTIME at which a sleep
// gives up (TIMER_ABSTIME sleeps and FUTEX_CLOCK_REALTIME waits follow the
// wall clock).
struct Deadline {
  clockid_t clock = CLOCK_MONOTONIC;
  int64_t ns = 0;  // since the clock's epoch

  // `ns` from now on CLOCK_MONOTONIC.
  static Deadline After(int64_t ns);
  static int64_t Now(clockid_t clock);
  // Nanoseconds left (0 once passed).
  int64_t Remaining() const;
};

// The source of interruptions for the sleeps of the calling thread.
class Interruptor {
 public:
  // Arranges for w->Notify() when the thread is interrupted; returns false
  // (without arming) if it already is.
  virtual bool Arm(Waiter* w) = 0;
  // Undoes Arm. Returns true if the thread was interrupted meanwhile.
  virtual bool Disarm() = 0;

 protected:
  ~Interruptor() = default;
};

// The calling thread's Interruptor (null: sleeps are not interruptible).
Interruptor* ThreadInterruptor();
void SetThreadInterruptor(Interruptor* i);

// A Waiter a sentry thread blocks on. A Notify before Wait is remembered, so
// a waiter registered under some lock and waited on after the lock is
// dropped never misses a wakeup.
class SyncWaiter final : public Waiter {
 public:
  void Notify() override;
  // Blocks until notified and clears the notification. Not interruptible.
  void Wait();
  // Blocks until notified (0), `deadline` passes (-ETIMEDOUT) or the thread
  // is interrupted (-EINTR); clears the notification.
  int WaitInterruptible(const std::optional<Deadline>& deadline = {});

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;  // guarded by mu_
};

// A Waiter the host can poll: Notify makes its eventfd readable. One per
// thread (ThreadEventWaiter), reused by every host sleep the thread makes.
class EventWaiter final : public Waiter {
 public:
  EventWaiter();
  ~EventWaiter();
  EventWaiter(const EventWaiter&) = delete;
  EventWaiter& operator=(const EventWaiter&) = delete;

  int fd() const { return fd_; }
  void Notify() override;
  void Drain();

 private:
  const int fd_;
};

EventWaiter& ThreadEventWaiter();

// Sleeps in the host until `fds` has an event, `deadline` passes, or the
// thread is interrupted. The thread's EventWaiter is polled too (armed with
// the Interruptor) and may be registered on sentry files by the caller to
// wake this sleep. Returns the host poll count (>0), 0 at the deadline, or
// -EINTR. `fds` is updated in place.
int HostPoll(std::vector<pollfd>& fds, const std::optional<Deadline>& deadline);

// The waiters registered on one object. Not locked: the owner guards it with
// the lock that also guards the state the waiters care about, so that a
// state change and its notification are atomic with respect to a check.
class WaiterList {
 public:
  void Add(Waiter* w) { waiters_.push_back(w); }
  // Removes one registration of `w` (a waiter may be added more than once,
  // e.g. select naming the same fd in two sets).
  void Remove(Waiter* w);
  void NotifyAll();
  bool empty() const { return waiters_.empty(); }

 private:
  std::vector<Waiter*> waiters_;
};

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_WAIT_H_
