#include "sentry/kernel/kernel.h"

#include <time.h>

#include <future>
#include <thread>

#include "common/log.h"

namespace sentry {
namespace {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

}  // namespace

Kernel::Kernel(std::unique_ptr<platform::Platform> platform,
               KernelOptions options)
    : platform_(std::move(platform)),
      options_(std::move(options)),
      boot_time_ns_(MonotonicNs()) {}

Kernel::~Kernel() {
  // Task threads hold references to the kernel; never destroy it under them.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return live_tasks_ == 0; });
}

int Kernel::AllocateTid() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_tid_++;
}

std::array<rlimit, RLIM_NLIMITS> Kernel::DefaultRlimits() const {
  std::array<rlimit, RLIM_NLIMITS> r;
  for (auto& l : r) l = {RLIM_INFINITY, RLIM_INFINITY};
  // The limits a Linux init process starts with.
  r[RLIMIT_STACK] = {8 << 20, RLIM_INFINITY};
  r[RLIMIT_CORE] = {0, RLIM_INFINITY};
  r[RLIMIT_NOFILE] = {1024, 1048576};
  r[RLIMIT_NPROC] = {63459, 63459};
  r[RLIMIT_MEMLOCK] = {8 << 20, 8 << 20};
  r[RLIMIT_SIGPENDING] = {63459, 63459};
  r[RLIMIT_MSGQUEUE] = {819200, 819200};
  r[RLIMIT_NICE] = {0, 0};
  r[RLIMIT_RTPRIO] = {0, 0};
  for (const auto& [resource, limit] : options_.rlimits) {
    if (resource >= 0 && resource < RLIM_NLIMITS) r[resource] = limit;
  }
  return r;
}

int Kernel::StartTask(std::unique_ptr<Task> task,
                      std::function<int(Task&, std::string*)> start,
                      std::string* error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_tasks_++;
  }
  std::promise<std::pair<int, std::string>> started;
  auto result = started.get_future();
  std::thread([this, task = std::move(task), start = std::move(start),
               started = std::move(started)]() mutable {
    std::string err;
    int rc = start(*task, &err);
    started.set_value({rc, err});
    if (rc == 0) task->Run();
    if (rc != 0) {
      task->exit_status = ExitedStatus(127);
    }
    TaskExited(*task);
    // The platform context belongs to this thread: destroy it here.
    task.reset();
    std::lock_guard<std::mutex> lock(mu_);
    live_tasks_--;
    cv_.notify_all();
  }).detach();
  auto [rc, err] = result.get();
  if (error != nullptr) *error = err;
  return rc;
}

void Kernel::TaskExited(Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (task.tid() == 1) {
    init_exited_ = true;
    init_status_ = task.exit_status;
  }
  cv_.notify_all();
}

int Kernel::WaitForInit() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return init_exited_ && live_tasks_ == 0; });
  return init_status_;
}

}  // namespace sentry
