#include "sentry/kernel/kernel.h"

#include <linux/futex.h>
#include <sys/wait.h>
#include <time.h>

#include <future>
#include <thread>

#include "common/log.h"
#include "sentry/mm/mm.h"

namespace sentry {
namespace {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

constexpr int kInitTgid = 1;

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
  // Thread ids are never reused while a live task or an unreaped zombie
  // holds them.
  while (tasks_.count(next_tid_) || groups_.count(next_tid_)) next_tid_++;
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

void Kernel::AddThreadGroup(std::shared_ptr<ThreadGroup> tg) {
  std::lock_guard<std::mutex> lock(mu_);
  groups_[tg->tgid()] = std::move(tg);
}

int Kernel::StartTask(std::unique_ptr<Task> task,
                      std::function<int(Task&, std::string*)> start,
                      std::string* error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_tasks_++;
    tasks_[task->tid()] = task.get();
    std::lock_guard<std::mutex> tg_lock(task->thread_group().mu);
    task->thread_group().tasks.push_back(task.get());
  }
  std::promise<std::pair<int, std::string>> started;
  auto result = started.get_future();
  std::thread([this, task = std::move(task), start = std::move(start),
               started = std::move(started)]() mutable {
    std::string err;
    int rc = start(*task, &err);
    started.set_value({rc, err});
    if (rc == 0) {
      task->Run();
    } else {
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

void Kernel::ExitGroup(Task& task, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ThreadGroup& tg = task.thread_group();
  if (!tg.group_exiting) {
    tg.group_exiting = true;
    tg.group_exit_status = status;
  }
  std::lock_guard<std::mutex> tg_lock(tg.mu);
  for (Task* t : tg.tasks) {
    if (t == &task) continue;
    t->exiting = true;
    t->Interrupt();
  }
}

void Kernel::KillOtherThreads(Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  std::lock_guard<std::mutex> tg_lock(task.thread_group().mu);
  for (Task* t : task.thread_group().tasks) {
    if (t == &task) continue;
    t->exiting = true;
    t->Interrupt();
  }
}

void Kernel::KillAllLocked() {
  for (auto& [tid, t] : tasks_) {
    if (t->exiting) continue;
    t->exiting = true;
    t->exit_status = SignaledStatus(SIGKILL);
    t->Interrupt();
  }
}

void Kernel::TaskExited(Task& task) {
  // CLONE_CHILD_CLEARTID: zero the tid word and wake one futex waiter, which
  // is how pthread_join learns a thread is gone.
  if (task.clear_child_tid != 0 && task.shared_mm() != nullptr) {
    uint32_t zero = 0;
    if (task.CopyOutObj(task.clear_child_tid, zero) == 0) {
      futexes_.Wake(FutexKey{task.shared_mm().get(), task.clear_child_tid}, 1,
                    FUTEX_BITSET_MATCH_ANY);
    }
  }
  if (task.vfork_done) task.vfork_done->Signal();

  std::lock_guard<std::mutex> lock(mu_);
  tasks_.erase(task.tid());
  std::shared_ptr<ThreadGroup> tg = task.shared_thread_group();
  bool last;
  {
    std::lock_guard<std::mutex> tg_lock(tg->mu);
    auto& v = tg->tasks;
    v.erase(std::remove(v.begin(), v.end(), &task), v.end());
    last = v.empty();
  }
  if (last) {
    tg->zombie = true;
    tg->exit_status =
        tg->group_exiting ? tg->group_exit_status : task.exit_status;
    // Orphans go to the init process, as in a PID namespace.
    for (auto& [id, g] : groups_) {
      if (g->ppid == tg->tgid()) g->ppid = kInitTgid;
    }
    if (tg->tgid() == kInitTgid) {
      init_exited_ = true;
      init_status_ = tg->exit_status;
      // When the init of a PID namespace dies, every process in it dies.
      KillAllLocked();
    } else if (tg->ppid == 0) {
      groups_.erase(tg->tgid());  // no parent in the sandbox to reap it
    }
  }
  cv_.notify_all();
}

int64_t Kernel::WaitChild(Task& task, int pid, int options, int* status,
                          bool reap) {
  const int self = task.thread_group().tgid();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    bool any = false;
    int pgid;
    {
      std::lock_guard<std::mutex> tg_lock(task.thread_group().mu);
      pgid = task.thread_group().pgid;
    }
    for (auto it = groups_.begin(); it != groups_.end(); ++it) {
      ThreadGroup& g = *it->second;
      if (g.ppid != self) continue;
      int g_pgid;
      {
        std::lock_guard<std::mutex> g_lock(g.mu);
        g_pgid = g.pgid;
      }
      if (pid > 0 && g.tgid() != pid) continue;
      if (pid == 0 && g_pgid != pgid) continue;
      if (pid < -1 && g_pgid != -pid) continue;
      // Without __WALL, __WCLONE selects exactly the children that do not
      // signal SIGCHLD on exit.
      bool clone_child = g.exit_signal != SIGCHLD;
      if (!(options & __WALL) && clone_child != bool(options & __WCLONE)) {
        continue;
      }
      any = true;
      if (!g.zombie) continue;
      int tgid = g.tgid();
      *status = g.exit_status;
      if (reap) groups_.erase(it);
      return tgid;
    }
    if (!any) return -ECHILD;
    if (options & WNOHANG) return 0;
    if (task.exiting) return -EINTR;
    cv_.wait(lock);
  }
}

int Kernel::WaitForInit() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return init_exited_; });
  // Give the other tasks, which were just told to die, a moment to leave;
  // one blocked in a host wait cannot be woken yet, and the sandbox process
  // exiting takes it (and its stub) down anyway.
  cv_.wait_for(lock, std::chrono::seconds(1),
               [this] { return live_tasks_ == 0; });
  return init_status_;
}

std::shared_ptr<ThreadGroup> Kernel::FindThreadGroup(int tgid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(tgid);
  return it == groups_.end() ? nullptr : it->second;
}

bool Kernel::AllTasksGone() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_tasks_ == 0;
}

}  // namespace sentry
