#include "sentry/vfs/wait.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace sentry::vfs {
namespace {

thread_local Interruptor* thread_interruptor = nullptr;

// Arms the thread's interruptor for the lifetime of a sleep.
class Armed {
 public:
  explicit Armed(Waiter* w) : i_(ThreadInterruptor()) {
    ok_ = i_ == nullptr || i_->Arm(w);
  }
  ~Armed() {
    if (ok_ && i_ != nullptr) i_->Disarm();
  }
  Armed(const Armed&) = delete;
  Armed& operator=(const Armed&) = delete;
  // False if the thread was interrupted before the sleep began.
  bool ok() const { return ok_; }
  // Disarms early; true if the thread was interrupted.
  bool Interrupted() {
    if (!ok_) return true;
    ok_ = false;
    return i_ != nullptr && i_->Disarm();
  }

 private:
  Interruptor* i_;
  bool ok_;
};

}  // namespace

Interruptor* ThreadInterruptor() { return thread_interruptor; }
void SetThreadInterruptor(Interruptor* i) { thread_interruptor = i; }

int64_t Deadline::Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

Deadline Deadline::After(int64_t ns) {
  return Deadline{CLOCK_MONOTONIC, Now(CLOCK_MONOTONIC) + ns};
}

int64_t Deadline::Remaining() const {
  return std::max<int64_t>(0, ns - Now(clock));
}

void SyncWaiter::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  notified_ = true;
  cv_.notify_one();
}

void SyncWaiter::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return notified_; });
  notified_ = false;
}

int SyncWaiter::WaitInterruptible(const std::optional<Deadline>& deadline) {
  Armed armed(this);
  if (!armed.ok()) return -EINTR;
  std::unique_lock<std::mutex> lock(mu_);
  while (!notified_) {
    if (!deadline) {
      cv_.wait(lock);
      continue;
    }
    // Waiting on the deadline's own clock keeps an absolute wall-clock
    // deadline right even if the clock is set meanwhile.
    int64_t left = deadline->Remaining();
    if (left == 0) break;
    if (deadline->clock == CLOCK_REALTIME) {
      cv_.wait_until(
          lock,
          std::chrono::system_clock::time_point(
              std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::nanoseconds(deadline->ns))));
    } else {
      cv_.wait_for(lock, std::chrono::nanoseconds(left));
    }
  }
  bool woken = notified_;
  notified_ = false;
  lock.unlock();
  if (armed.Interrupted()) return -EINTR;
  return woken ? 0 : -ETIMEDOUT;
}

EventWaiter::EventWaiter() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

EventWaiter::~EventWaiter() {
  if (fd_ >= 0) close(fd_);
}

void EventWaiter::Notify() {
  uint64_t one = 1;
  // Only fails if the counter would overflow: it is readable anyway.
  (void)!write(fd_, &one, sizeof one);
}

void EventWaiter::Drain() {
  uint64_t v;
  (void)!read(fd_, &v, sizeof v);
}

EventWaiter& ThreadEventWaiter() {
  thread_local EventWaiter waiter;
  return waiter;
}

int HostPoll(std::vector<pollfd>& fds,
             const std::optional<Deadline>& deadline) {
  EventWaiter& ew = ThreadEventWaiter();
  if (ew.fd() < 0) return -ENOMEM;
  Armed armed(&ew);
  if (!armed.ok()) return -EINTR;
  fds.push_back({ew.fd(), POLLIN, 0});
  timespec ts;
  timespec* tsp = nullptr;
  if (deadline) {
    int64_t left = deadline->Remaining();
    ts = {static_cast<time_t>(left / 1000000000),
          static_cast<long>(left % 1000000000)};
    tsp = &ts;
  }
  int n = ppoll(fds.data(), fds.size(), tsp, nullptr);
  int err = errno;
  bool woken = fds.back().revents != 0;
  fds.pop_back();
  if (woken) {
    n--;
    ew.Drain();
  }
  if (armed.Interrupted()) return -EINTR;
  if (n < 0) return err == EINTR ? 0 : -err;
  return n;
}

void WaiterList::Remove(Waiter* w) {
  auto it = std::find(waiters_.begin(), waiters_.end(), w);
  if (it != waiters_.end()) waiters_.erase(it);
}

void WaiterList::NotifyAll() {
  for (Waiter* w : waiters_) w->Notify();
}

}  // namespace sentry::vfs
