#include "sentry/kernel/credentials.h"

#include <linux/securebits.h>
#include <sched.h>

#include <mutex>
#include <utility>

#include "sentry/kernel/kernel.h"

namespace sentry {

void FixCapsAfterSetuid(const Credentials& old, Credentials& next) {
  if (old.securebits & SECBIT_NO_SETUID_FIXUP) return;
  const bool was_root = old.ruid == 0 || old.euid == 0 || old.suid == 0;
  const bool is_root = next.ruid == 0 || next.euid == 0 || next.suid == 0;
  if (was_root && !is_root) {
    if (!(old.securebits & SECBIT_KEEP_CAPS)) {
      next.cap_permitted = 0;
      next.cap_effective = 0;
    }
    // Programs written before ambient capabilities expect a switch to a
    // non-root uid followed by execve to drop every capability.
    next.cap_ambient = 0;
  }
  if (old.euid == 0 && next.euid != 0) next.cap_effective = 0;
  if (old.euid != 0 && next.euid == 0) next.cap_effective = next.cap_permitted;
}

void FixCapsAfterSetfsuid(const Credentials& old, Credentials& next) {
  if (old.securebits & SECBIT_NO_SETUID_FIXUP) return;
  if (old.fsuid == 0 && next.fsuid != 0) next.cap_effective &= ~kFsCaps;
  if (old.fsuid != 0 && next.fsuid == 0) {
    next.cap_effective |= next.cap_permitted & kFsCaps;
  }
}

void ApplyExecCredentials(Credentials& c, bool no_new_privs) {
  // Without file capabilities the file's sets count as empty, except that
  // (unless SECBIT_NOROOT) root is treated as if they were full.
  const bool root_privileged = !(c.securebits & SECBIT_NOROOT);
  uint64_t permitted = 0;
  bool effective = false;
  if (root_privileged && (c.euid == 0 || c.ruid == 0)) {
    permitted = c.cap_bounding | c.cap_inheritable;
  }
  if (root_privileged && c.euid == 0) effective = true;
  // no_new_privs: a root process that dropped capabilities does not get
  // them back by executing something.
  if (no_new_privs) permitted &= c.cap_permitted;
  c.cap_permitted = permitted | c.cap_ambient;
  c.cap_effective = effective ? c.cap_permitted : c.cap_ambient;
  c.suid = c.fsuid = c.euid;
  c.sgid = c.fsgid = c.egid;
  c.securebits &= ~SECBIT_KEEP_CAPS;
}

void CommitCredentials(Task& t, Credentials next) {
  Credentials& cur = t.creds();
  const bool lose_dumpable = cur.euid != next.euid || cur.egid != next.egid ||
                             cur.fsuid != next.fsuid ||
                             cur.fsgid != next.fsgid ||
                             (next.cap_permitted & ~cur.cap_permitted) != 0;
  std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
  if (lose_dumpable) {
    // A process whose privileges changed may no longer be dumped or traced
    // by its old peers, nor signalled by a parent it did not choose.
    t.pdeath_signal = 0;
    ThreadGroup& tg = t.thread_group();
    std::lock_guard<std::mutex> tg_lock(tg.mu);
    tg.dumpable = kSuidDumpable;
  }
  cur = std::move(next);
}

void ExecCredentials(Task& t) {
  Credentials next = t.creds();
  {
    ThreadGroup& tg = t.thread_group();
    std::lock_guard<std::mutex> lock(tg.mu);
    tg.dumpable =
        (next.euid == next.ruid && next.egid == next.rgid) ? 1 : kSuidDumpable;
  }
  ApplyExecCredentials(next, t.no_new_privs);
  CommitCredentials(t, std::move(next));
}

void InheritTaskCredsState(Task& parent, Task& child, bool new_process) {
  std::lock_guard<std::mutex> lock(parent.kernel().signal_mu());
  child.no_new_privs = parent.no_new_privs;
  child.pdeath_signal = 0;
  // The child's default slack is the parent's current one.
  child.timer_slack_ns = parent.timer_slack_ns;
  child.default_timer_slack_ns = parent.timer_slack_ns;
  child.nice = parent.nice;
  child.sched_policy = parent.sched_policy;
  child.sched_priority = parent.sched_priority;
  child.sched_reset_on_fork = parent.sched_reset_on_fork;
  if (parent.sched_reset_on_fork) {
    // A real-time policy falls back to SCHED_OTHER at nice 0, else a
    // negative nice to 0; the flag itself is not inherited.
    if (child.sched_policy == SCHED_FIFO || child.sched_policy == SCHED_RR) {
      child.sched_policy = SCHED_OTHER;
      child.sched_priority = 0;
      child.nice = 0;
    } else if (child.nice < 0) {
      child.nice = 0;
    }
    child.sched_reset_on_fork = false;
  }
  if (new_process) {
    ThreadGroup& ptg = parent.thread_group();
    int dumpable;
    {
      std::lock_guard<std::mutex> tg_lock(ptg.mu);
      dumpable = ptg.dumpable;
    }
    ThreadGroup& ctg = child.thread_group();
    std::lock_guard<std::mutex> tg_lock(ctg.mu);
    ctg.dumpable = dumpable;
  }
}

}  // namespace sentry
