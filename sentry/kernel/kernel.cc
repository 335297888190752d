#include "sentry/kernel/kernel.h"

#include <linux/capability.h>
#include <linux/futex.h>
#include <sys/wait.h>
#include <time.h>

#include <future>
#include <thread>

#include "common/log.h"
#include "sentry/kernel/cputime.h"
#include "sentry/kernel/timers.h"
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
  ExitGroupLocked(task.thread_group(), status);
}

void Kernel::ExitGroupLocked(ThreadGroup& tg, int status) {
  if (!tg.group_exiting) {
    tg.group_exiting = true;
    tg.group_exit_status = status;
  }
  std::lock_guard<std::mutex> tg_lock(tg.mu);
  for (Task* t : tg.tasks) {
    t->exiting = true;
    t->Wake();
  }
}

void Kernel::KillOtherThreads(Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  std::lock_guard<std::mutex> tg_lock(task.thread_group().mu);
  for (Task* t : task.thread_group().tasks) {
    if (t == &task) continue;
    t->exiting = true;
    t->Wake();
  }
}

void Kernel::KillAllLocked() {
  for (auto& [tid, t] : tasks_) {
    if (t->exiting) continue;
    t->exiting = true;
    t->exit_status = SignaledStatus(SIGKILL);
    t->Wake();
  }
}

// Robust futexes: for each lock on the thread's robust list that it still
// holds, mark the owner dead and wake a waiter, so that the next locker
// gets EOWNERDEAD instead of hanging (Linux's exit_robust_list).
void Kernel::ExitRobustList(Task& task) {
  if (task.robust_list_head == 0 || task.shared_mm() == nullptr) return;
  struct {
    uint64_t next;
    int64_t futex_offset;
    uint64_t pending;
  } head;
  if (task.CopyInObj(task.robust_list_head, &head) != 0) return;
  auto release = [&](uint64_t entry) {
    if (entry == 0) return;
    uint64_t uaddr = (entry & ~uint64_t{1}) + head.futex_offset;
    uint32_t val;
    if (task.CopyInObj(uaddr, &val) != 0) return;
    if ((val & FUTEX_TID_MASK) != static_cast<uint32_t>(task.tid())) return;
    uint32_t next = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if (task.CopyOutObj(uaddr, next) != 0) return;
    if (val & FUTEX_WAITERS) {
      futexes_.Wake(FutexKeyFor(task, uaddr, false), 1, FUTEX_BITSET_MATCH_ANY);
    }
  };
  constexpr int kRobustListLimit = 2048;  // Linux's ROBUST_LIST_LIMIT
  uint64_t entry = head.next;
  for (int i = 0; i < kRobustListLimit && entry != task.robust_list_head; i++) {
    uint64_t next;
    if (task.CopyInObj(entry & ~uint64_t{1}, &next) != 0) break;
    if (entry != head.pending) release(entry);
    entry = next;
  }
  release(head.pending);
}

void Kernel::TaskExited(Task& task) {
  ExitRobustList(task);
  // CLONE_CHILD_CLEARTID: zero the tid word and wake one futex waiter, which
  // is how pthread_join learns a thread is gone.
  if (task.clear_child_tid != 0 && task.shared_mm() != nullptr) {
    uint32_t zero = 0;
    if (task.CopyOutObj(task.clear_child_tid, zero) == 0) {
      futexes_.Wake(FutexKeyFor(task, task.clear_child_tid, false), 1,
                    FUTEX_BITSET_MATCH_ANY);
    }
  }
  if (task.vfork_done) task.vfork_done->Signal();
  const CpuTimes cpu = TaskCpuTimes(task, /*own_thread=*/true);

  std::unique_lock<std::mutex> lock(mu_);
  tasks_.erase(task.tid());
  // Linux's exit_mm comes before exit_notify: a parent woken by wait must
  // find the child's mappings (SysV attachments) gone.
  task.set_mm(nullptr);
  std::shared_ptr<ThreadGroup> tg = task.shared_thread_group();
  bool last;
  {
    std::lock_guard<std::mutex> tg_lock(tg->mu);
    auto& v = tg->tasks;
    v.erase(std::remove(v.begin(), v.end(), &task), v.end());
    last = v.empty();
    tg->dead_threads_utime_ns += cpu.user_ns;
    tg->dead_threads_stime_ns += cpu.sys_ns;
  }
  if (!last) {
    // The others may have been waiting for this one to join a group stop.
    CompleteGroupStopLocked(*tg);
  } else {
    tg->zombie = true;
    tg->exit_status =
        tg->group_exiting ? tg->group_exit_status : task.exit_status;
    tg->pending.Discard(~0ULL);
    tg->stop_requested = tg->stopped = false;
    ReparentChildrenLocked(*tg);
    if (tg->tgid() == kInitTgid) {
      init_exited_ = true;
      init_status_ = tg->exit_status;
      // When the init of a PID namespace dies, every process in it dies.
      KillAllLocked();
    }
    auto parent = groups_.find(tg->ppid);
    if (tg->ppid == 0 || parent == groups_.end()) {
      groups_.erase(tg->tgid());  // no parent in the sandbox to reap it
    } else {
      const int st = tg->exit_status;
      int code = WIFEXITED(st)   ? CLD_EXITED
                 : WCOREDUMP(st) ? CLD_DUMPED
                                 : CLD_KILLED;
      int value = WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st);
      ThreadGroup& p = *parent->second;
      const KernelSigaction& chld = p.actions[SIGCHLD - 1];
      // A parent ignoring SIGCHLD (or asking SA_NOCLDWAIT) leaves no
      // zombies: the child is reaped at once.
      bool autoreap = tg->exit_signal == SIGCHLD &&
                      (chld.handler == kSigIgn || (chld.flags & SA_NOCLDWAIT));
      if (!(autoreap && chld.handler == kSigIgn)) {
        NotifyParentLocked(*tg, code, value, tg->exit_signal);
      } else {
        p.child_waiters.NotifyAll();
      }
      if (autoreap) {
        p.children_utime_ns += tg->dead_threads_utime_ns;
        p.children_stime_ns += tg->dead_threads_stime_ns;
        groups_.erase(tg->tgid());
      }
    }
  }
  cv_.notify_all();
  lock.unlock();
  if (last) {
    // No timer of a dead process may fire into it.
    if (std::shared_ptr<TimerTable> timers = TimerTable::Find(*tg)) {
      timers->Shutdown();
    }
  }
}

void Kernel::ReparentChildrenLocked(ThreadGroup& dying) {
  // Orphans go to the nearest living ancestor that is a child subreaper,
  // else to the init, as in a PID namespace.
  int heir = kInitTgid;
  for (int up = dying.ppid; up != 0;) {
    auto it = groups_.find(up);
    if (it == groups_.end()) break;
    ThreadGroup& g = *it->second;
    if (!g.zombie && g.child_subreaper) {
      heir = g.tgid();
      break;
    }
    up = g.ppid;
  }
  for (auto& [id, g] : groups_) {
    if (g->ppid != dying.tgid()) continue;
    g->ppid = heir;
    // PR_SET_PDEATHSIG: the child asked to hear of its parent's death.
    int sig = 0;
    {
      std::lock_guard<std::mutex> g_lock(g->mu);
      if (!g->tasks.empty()) sig = g->tasks.front()->pdeath_signal;
    }
    if (sig != 0 && !g->zombie) {
      SendToGroupLocked(*g, MakeSigInfo(sig, SI_USER, 0, 0), false);
    }
    // An orphaned zombie must be reapable by its new parent.
    if (g->zombie) {
      auto heir_it = groups_.find(heir);
      if (heir_it != groups_.end()) heir_it->second->child_waiters.NotifyAll();
    }
  }
}

int64_t Kernel::WaitChild(Task& task, int pid, int options, WaitResult* out) {
  ThreadGroup& self = task.thread_group();
  const bool reap_ok = !(options & WNOWAIT);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    bool any = false;
    int pgid;
    {
      std::lock_guard<std::mutex> tg_lock(self.mu);
      pgid = self.pgid;
    }
    for (auto it = groups_.begin(); it != groups_.end(); ++it) {
      ThreadGroup& g = *it->second;
      if (g.ppid != self.tgid()) continue;
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
      out->pid = g.tgid();
      out->uid = g.uid;
      if (g.zombie) {
        if (!(options & WEXITED)) continue;
        const int st = g.exit_status;
        out->status = st;
        out->code = WIFEXITED(st)   ? CLD_EXITED
                    : WCOREDUMP(st) ? CLD_DUMPED
                                    : CLD_KILLED;
        out->utime_ns = g.dead_threads_utime_ns + g.children_utime_ns;
        out->stime_ns = g.dead_threads_stime_ns + g.children_stime_ns;
        if (reap_ok) {
          self.children_utime_ns += out->utime_ns;
          self.children_stime_ns += out->stime_ns;
          groups_.erase(it);
        }
        return out->pid;
      }
      if ((options & WSTOPPED) && g.stop_report) {
        out->status = StoppedStatus(g.stop_signal);
        out->code = CLD_STOPPED;
        if (reap_ok) g.stop_report = false;
        return out->pid;
      }
      if ((options & WCONTINUED) && g.continue_report) {
        out->status = kContinuedStatus;
        out->code = CLD_CONTINUED;
        if (reap_ok) g.continue_report = false;
        return out->pid;
      }
    }
    if (!any) return -ECHILD;
    if (options & WNOHANG) return 0;
    vfs::SyncWaiter w;
    self.child_waiters.Add(&w);
    lock.unlock();
    int rc = w.WaitInterruptible();
    lock.lock();
    self.child_waiters.Remove(&w);
    if (rc == -EINTR) return -kERestartSys;
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

std::vector<std::shared_ptr<ThreadGroup>> Kernel::ThreadGroups() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<ThreadGroup>> out;
  out.reserve(groups_.size());
  for (const auto& [tgid, tg] : groups_) out.push_back(tg);
  return out;
}

bool Kernel::AllTasksGone() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_tasks_ == 0;
}

}  // namespace sentry

// ---- Signals ----

namespace sentry {

bool Kernel::IgnoredLocked(ThreadGroup& tg, int signo, uint64_t blocked,
                           bool from_outside) {
  // A blocked signal is kept: the action may change before it is unblocked.
  if (blocked & SigBit(signo)) return false;
  const KernelSigaction& act = tg.actions[signo - 1];
  if (act.handler == kSigIgn) return true;
  if (act.handler != kSigDfl) return false;
  if (DefaultActionOf(signo) == DefaultAction::kIgnore ||
      DefaultActionOf(signo) == DefaultAction::kContinue) {
    return true;
  }
  // The init of a PID namespace gets no signal it has no handler for from
  // inside; from outside, only SIGKILL and SIGSTOP reach it.
  if (tg.tgid() == kInitTgid) {
    return !(from_outside && (signo == SIGKILL || signo == SIGSTOP));
  }
  return false;
}

void Kernel::PrepareSignalLocked(ThreadGroup& tg, int signo) {
  std::lock_guard<std::mutex> tg_lock(tg.mu);
  if (kStopSignals & SigBit(signo)) {
    tg.pending.Discard(SigBit(SIGCONT));
    for (Task* t : tg.tasks) t->pending.Discard(SigBit(SIGCONT));
  } else if (signo == SIGCONT || signo == SIGKILL) {
    tg.pending.Discard(kStopSignals);
    for (Task* t : tg.tasks) t->pending.Discard(kStopSignals);
    if (signo == SIGCONT && (tg.stop_requested || tg.stopped)) {
      const bool was_stopped = tg.stopped;
      tg.stop_requested = tg.stopped = false;
      for (Task* t : tg.tasks) t->Wake();
      if (was_stopped) {
        tg.stop_report = false;
        tg.continue_report = true;
        NotifyParentLocked(tg, CLD_CONTINUED, SIGCONT, SIGCHLD);
      }
    }
  }
}

Task* Kernel::PickTargetLocked(ThreadGroup& tg, int signo) {
  // The main thread if it takes the signal, else any thread that does; if
  // every thread blocks it, it waits in the process queue.
  for (Task* t : tg.tasks) {
    if (!t->exiting && !(t->signal_mask & SigBit(signo))) return t;
  }
  return nullptr;
}

int Kernel::SendToGroupLocked(ThreadGroup& tg, const siginfo_t& info,
                              bool from_outside) {
  const int signo = info.si_signo;
  if (signo == 0 || tg.zombie || tg.group_exiting) return 0;
  PrepareSignalLocked(tg, signo);
  {
    std::lock_guard<std::mutex> tg_lock(tg.mu);
    if (tg.tasks.empty()) return 0;
    Task* leader = tg.tasks.front();
    if (IgnoredLocked(tg, signo, leader->signal_mask | leader->real_blocked,
                      from_outside)) {
      return 0;
    }
    if (signo != SIGKILL) {
      tg.pending.Enqueue(info);
      if (Task* t = PickTargetLocked(tg, signo)) t->Wake();
      return 0;
    }
  }
  ExitGroupLocked(tg, SignaledStatus(SIGKILL));
  return 0;
}

int Kernel::SendToTaskLocked(Task& task, const siginfo_t& info) {
  const int signo = info.si_signo;
  ThreadGroup& tg = task.thread_group();
  if (signo == 0 || task.exiting || tg.group_exiting) return 0;
  PrepareSignalLocked(tg, signo);
  if (IgnoredLocked(tg, signo, task.signal_mask | task.real_blocked, false)) {
    return 0;
  }
  if (signo == SIGKILL) {
    // SIGKILL to one thread kills its whole process.
    ExitGroupLocked(tg, SignaledStatus(SIGKILL));
    return 0;
  }
  task.pending.Enqueue(info);
  if (!(task.signal_mask & SigBit(signo))) task.Wake();
  return 0;
}

void Kernel::ForceSignal(Task& task, const siginfo_t& info) {
  std::lock_guard<std::mutex> lock(mu_);
  const int signo = info.si_signo;
  ThreadGroup& tg = task.thread_group();
  KernelSigaction& act = tg.actions[signo - 1];
  // A fault the application blocks or ignores cannot be retried forever:
  // Linux unblocks it and, if ignored, takes the default action.
  if ((task.signal_mask & SigBit(signo)) || act.handler == kSigIgn) {
    task.signal_mask &= ~SigBit(signo);
    if (act.handler == kSigIgn) act.handler = kSigDfl;
  }
  task.pending.Enqueue(info);
  task.Wake();
}

int Kernel::SignalProcess(int tgid, const siginfo_t& info, bool from_outside) {
  if (info.si_signo < 0 || info.si_signo > kNumSignals) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(tgid);
  if (it == groups_.end()) return -ESRCH;
  return SendToGroupLocked(*it->second, info, from_outside);
}

int Kernel::SignalThread(int tid, const siginfo_t& info) {
  if (info.si_signo < 0 || info.si_signo > kNumSignals) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return -ESRCH;
  return SendToTaskLocked(*it->second, info);
}

bool Kernel::MayKillLocked(Task& sender, ThreadGroup& target, int signo) {
  const Credentials& c = sender.creds();
  if (c.HasCap(CAP_KILL)) return true;
  std::lock_guard<std::mutex> tg_lock(target.mu);
  if (target.tasks.empty()) return true;  // a zombie: nothing to protect
  const Credentials& t = target.tasks.front()->creds();
  if (c.euid == t.ruid || c.euid == t.suid || c.ruid == t.ruid ||
      c.ruid == t.suid) {
    return true;
  }
  // SIGCONT may go to any process of the sender's session.
  return signo == SIGCONT && target.sid == sender.thread_group().sid;
}

int Kernel::Kill(Task& sender, int pid, const siginfo_t& info) {
  const int signo = info.si_signo;
  if (signo < 0 || signo > kNumSignals) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  ThreadGroup& self = sender.thread_group();
  if (pid > 0) {
    auto it = groups_.find(pid);
    if (it == groups_.end()) return -ESRCH;
    if (!MayKillLocked(sender, *it->second, signo)) return -EPERM;
    return SendToGroupLocked(*it->second, info, false);
  }
  int pgid = 0;
  if (pid == 0) {
    std::lock_guard<std::mutex> tg_lock(self.mu);
    pgid = self.pgid;
  } else if (pid < -1) {
    pgid = -pid;
  }
  // Collect first: sending may change the map (never, today, but keep the
  // iteration safe).
  std::vector<std::shared_ptr<ThreadGroup>> targets;
  for (auto& [id, g] : groups_) {
    if (pid == -1) {
      if (id == kInitTgid || g.get() == &self) continue;
    } else {
      std::lock_guard<std::mutex> g_lock(g->mu);
      if (g->pgid != pgid) continue;
    }
    targets.push_back(g);
  }
  if (targets.empty()) return -ESRCH;
  int sent = 0;
  for (auto& g : targets) {
    if (!MayKillLocked(sender, *g, signo)) continue;
    SendToGroupLocked(*g, info, false);
    sent++;
  }
  return sent > 0 ? 0 : -EPERM;
}

void Kernel::NotifyParentLocked(ThreadGroup& tg, int code, int status,
                                int signo) {
  auto it = groups_.find(tg.ppid);
  if (tg.ppid == 0 || it == groups_.end()) return;
  ThreadGroup& parent = *it->second;
  const bool job_control = code == CLD_STOPPED || code == CLD_CONTINUED;
  if (signo != 0 &&
      !(job_control && (parent.actions[SIGCHLD - 1].flags & SA_NOCLDSTOP))) {
    siginfo_t info = MakeSigInfo(signo, code, tg.tgid(), tg.uid);
    info.si_status = status;
    info.si_utime = (tg.dead_threads_utime_ns + tg.children_utime_ns) /
                    10000000;  // clock ticks
    info.si_stime =
        (tg.dead_threads_stime_ns + tg.children_stime_ns) / 10000000;
    SendToGroupLocked(parent, info, false);
  }
  parent.child_waiters.NotifyAll();
}

void Kernel::CompleteGroupStopLocked(ThreadGroup& tg) {
  std::lock_guard<std::mutex> tg_lock(tg.mu);
  if (!tg.stop_requested || tg.stopped || tg.group_exiting) return;
  for (Task* t : tg.tasks) {
    if (!t->parked && !t->exiting) return;
  }
  tg.stopped = true;
  tg.stop_report = true;
  tg.continue_report = false;
  NotifyParentLocked(tg, CLD_STOPPED, tg.stop_signal, SIGCHLD);
}

}  // namespace sentry

namespace sentry {

bool Kernel::OrphanedPgrpLocked(ThreadGroup& tg) {
  auto ids = [](ThreadGroup& g) {
    std::lock_guard<std::mutex> lock(g.mu);
    return std::pair{g.pgid, g.sid};
  };
  const int pgid = ids(tg).first;
  for (auto& [id, g] : groups_) {
    if (g->zombie) continue;
    auto [g_pgid, g_sid] = ids(*g);
    if (g_pgid != pgid) continue;
    auto parent = groups_.find(g->ppid);
    if (parent == groups_.end()) continue;
    auto [p_pgid, p_sid] = ids(*parent->second);
    if (p_pgid != pgid && p_sid == g_sid) return false;
  }
  return true;
}

}  // namespace sentry
