// Credentials and capabilities (the set*id family, setgroups, capget,
// capset), prctl, and scheduling priorities and policies.
#include <errno.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "sentry/kernel/credentials.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {

// close_range.cc
int64_t CloseRange(Task& t, const SyscallArgs& a);

namespace {

using A = ArgKind;

// (uid_t)-1: "leave unchanged" to the set*id calls, and no valid id.
constexpr uint32_t kNoId = static_cast<uint32_t>(-1);
constexpr int kNgroupsMax = 65536;
constexpr int kMinNice = -20, kMaxNice = 19;
constexpr int kMaxRtPriority = 99;

// nice -20..19 as the 40..1 getpriority(2) and RLIMIT_NICE use.
int NiceToRlimit(int nice) { return 20 - nice; }

// Finds the live task `tid` (0: the caller) and runs fn on it with
// signal_mu() held, which keeps it from exiting meanwhile. The caller's own
// threads and other processes (by pid) are reachable; threads of other
// processes are not yet, for want of a tid lookup in Kernel.
template <typename Fn>
int64_t WithTask(Task& self, int tid, Fn fn) {
  if (tid < 0) return -ESRCH;
  const bool own = tid == 0 || tid == self.tid();
  std::shared_ptr<ThreadGroup> other;
  if (!own) other = self.kernel().FindThreadGroup(tid);
  std::lock_guard<std::mutex> lock(self.kernel().signal_mu());
  Task* target = own ? &self : nullptr;
  for (ThreadGroup* tg : {&self.thread_group(), other.get()}) {
    if (target != nullptr || tg == nullptr) continue;
    std::lock_guard<std::mutex> tg_lock(tg->mu);
    for (Task* m : tg->tasks) {
      if (m->tid() == tid) target = m;
    }
  }
  if (target == nullptr) return -ESRCH;
  return fn(*target);
}

// ---- ids ----

int64_t GetUid(Task& t, const SyscallArgs&) { return t.creds().ruid; }
int64_t GetEuid(Task& t, const SyscallArgs&) { return t.creds().euid; }
int64_t GetGid(Task& t, const SyscallArgs&) { return t.creds().rgid; }
int64_t GetEgid(Task& t, const SyscallArgs&) { return t.creds().egid; }

int64_t CopyOutTriple(Task& t, const SyscallArgs& a, uint32_t r, uint32_t e,
                      uint32_t s) {
  for (auto [addr, v] : {std::pair{a[0], r}, {a[1], e}, {a[2], s}}) {
    if (int err = t.CopyOutObj(addr, v); err) return err;
  }
  return 0;
}

int64_t GetResUid(Task& t, const SyscallArgs& a) {
  const Credentials& c = t.creds();
  return CopyOutTriple(t, a, c.ruid, c.euid, c.suid);
}

int64_t GetResGid(Task& t, const SyscallArgs& a) {
  const Credentials& c = t.creds();
  return CopyOutTriple(t, a, c.rgid, c.egid, c.sgid);
}

int64_t SetUid(Task& t, const SyscallArgs& a) {
  const uint32_t uid = static_cast<uint32_t>(a[0]);
  if (uid == kNoId) return -EINVAL;
  const Credentials& old = t.creds();
  Credentials next = old;
  if (old.HasCap(CAP_SETUID)) {
    next.ruid = next.suid = uid;
  } else if (uid != old.ruid && uid != old.suid) {
    return -EPERM;
  }
  next.euid = next.fsuid = uid;
  FixCapsAfterSetuid(old, next);
  CommitCredentials(t, std::move(next));
  return 0;
}

int64_t SetGid(Task& t, const SyscallArgs& a) {
  const uint32_t gid = static_cast<uint32_t>(a[0]);
  if (gid == kNoId) return -EINVAL;
  const Credentials& old = t.creds();
  Credentials next = old;
  if (old.HasCap(CAP_SETGID)) {
    next.rgid = next.egid = next.sgid = next.fsgid = gid;
  } else if (gid == old.rgid || gid == old.sgid) {
    next.egid = next.fsgid = gid;
  } else {
    return -EPERM;
  }
  CommitCredentials(t, std::move(next));
  return 0;
}

int64_t SetReUid(Task& t, const SyscallArgs& a) {
  const uint32_t ruid = static_cast<uint32_t>(a[0]);
  const uint32_t euid = static_cast<uint32_t>(a[1]);
  const Credentials& old = t.creds();
  const bool cap = old.HasCap(CAP_SETUID);
  Credentials next = old;
  if (ruid != kNoId) {
    if (ruid != old.ruid && ruid != old.euid && !cap) return -EPERM;
    next.ruid = ruid;
  }
  if (euid != kNoId) {
    if (euid != old.ruid && euid != old.euid && euid != old.suid && !cap) {
      return -EPERM;
    }
    next.euid = euid;
  }
  // The saved uid follows the new effective uid when the real uid is set,
  // or the effective uid becomes something other than the old real uid.
  if (ruid != kNoId || (euid != kNoId && euid != old.ruid)) {
    next.suid = next.euid;
  }
  next.fsuid = next.euid;
  FixCapsAfterSetuid(old, next);
  CommitCredentials(t, std::move(next));
  return 0;
}

int64_t SetReGid(Task& t, const SyscallArgs& a) {
  const uint32_t rgid = static_cast<uint32_t>(a[0]);
  const uint32_t egid = static_cast<uint32_t>(a[1]);
  const Credentials& old = t.creds();
  const bool cap = old.HasCap(CAP_SETGID);
  Credentials next = old;
  if (rgid != kNoId) {
    if (rgid != old.rgid && rgid != old.egid && !cap) return -EPERM;
    next.rgid = rgid;
  }
  if (egid != kNoId) {
    if (egid != old.rgid && egid != old.egid && egid != old.sgid && !cap) {
      return -EPERM;
    }
    next.egid = egid;
  }
  if (rgid != kNoId || (egid != kNoId && egid != old.rgid)) {
    next.sgid = next.egid;
  }
  next.fsgid = next.egid;
  CommitCredentials(t, std::move(next));
  return 0;
}

// An unprivileged caller may set each id to any of its current real,
// effective or saved ids.
bool IsCurrentId(uint32_t id, uint32_t r, uint32_t e, uint32_t s) {
  return id == kNoId || id == r || id == e || id == s;
}

int64_t SetResUid(Task& t, const SyscallArgs& a) {
  const uint32_t ruid = static_cast<uint32_t>(a[0]);
  const uint32_t euid = static_cast<uint32_t>(a[1]);
  const uint32_t suid = static_cast<uint32_t>(a[2]);
  const Credentials& old = t.creds();
  // Linux returns early, with no side effects, when nothing changes.
  if ((ruid == kNoId || ruid == old.ruid) &&
      (euid == kNoId || (euid == old.euid && euid == old.fsuid)) &&
      (suid == kNoId || suid == old.suid)) {
    return 0;
  }
  if (!old.HasCap(CAP_SETUID) &&
      !(IsCurrentId(ruid, old.ruid, old.euid, old.suid) &&
        IsCurrentId(euid, old.ruid, old.euid, old.suid) &&
        IsCurrentId(suid, old.ruid, old.euid, old.suid))) {
    return -EPERM;
  }
  Credentials next = old;
  if (ruid != kNoId) next.ruid = ruid;
  if (euid != kNoId) next.euid = euid;
  if (suid != kNoId) next.suid = suid;
  next.fsuid = next.euid;
  FixCapsAfterSetuid(old, next);
  CommitCredentials(t, std::move(next));
  return 0;
}

int64_t SetResGid(Task& t, const SyscallArgs& a) {
  const uint32_t rgid = static_cast<uint32_t>(a[0]);
  const uint32_t egid = static_cast<uint32_t>(a[1]);
  const uint32_t sgid = static_cast<uint32_t>(a[2]);
  const Credentials& old = t.creds();
  if ((rgid == kNoId || rgid == old.rgid) &&
      (egid == kNoId || (egid == old.egid && egid == old.fsgid)) &&
      (sgid == kNoId || sgid == old.sgid)) {
    return 0;
  }
  if (!old.HasCap(CAP_SETGID) &&
      !(IsCurrentId(rgid, old.rgid, old.egid, old.sgid) &&
        IsCurrentId(egid, old.rgid, old.egid, old.sgid) &&
        IsCurrentId(sgid, old.rgid, old.egid, old.sgid))) {
    return -EPERM;
  }
  Credentials next = old;
  if (rgid != kNoId) next.rgid = rgid;
  if (egid != kNoId) next.egid = egid;
  if (sgid != kNoId) next.sgid = sgid;
  next.fsgid = next.egid;
  CommitCredentials(t, std::move(next));
  return 0;
}

// setfsuid/setfsgid never fail: they return the old fs id whether or not
// they changed it, which is also how a caller reads it (passing -1).
int64_t SetFsUid(Task& t, const SyscallArgs& a) {
  const uint32_t uid = static_cast<uint32_t>(a[0]);
  const Credentials& old = t.creds();
  const uint32_t old_fsuid = old.fsuid;
  if (uid == kNoId || uid == old.fsuid) return old_fsuid;
  if (uid == old.ruid || uid == old.euid || uid == old.suid ||
      old.HasCap(CAP_SETUID)) {
    Credentials next = old;
    next.fsuid = uid;
    FixCapsAfterSetfsuid(old, next);
    CommitCredentials(t, std::move(next));
  }
  return old_fsuid;
}

int64_t SetFsGid(Task& t, const SyscallArgs& a) {
  const uint32_t gid = static_cast<uint32_t>(a[0]);
  const Credentials& old = t.creds();
  const uint32_t old_fsgid = old.fsgid;
  if (gid == kNoId || gid == old.fsgid) return old_fsgid;
  if (gid == old.rgid || gid == old.egid || gid == old.sgid ||
      old.HasCap(CAP_SETGID)) {
    Credentials next = old;
    next.fsgid = gid;
    CommitCredentials(t, std::move(next));
  }
  return old_fsgid;
}

int64_t GetGroups(Task& t, const SyscallArgs& a) {
  const std::vector<uint32_t>& groups = t.creds().groups;
  const int size = static_cast<int>(a[0]);
  if (size < 0) return -EINVAL;
  if (size == 0) return groups.size();
  if (static_cast<size_t>(size) < groups.size()) return -EINVAL;
  if (int err = t.CopyOut(a[1], groups.data(), groups.size() * 4); err) {
    return err;
  }
  return groups.size();
}

int64_t SetGroups(Task& t, const SyscallArgs& a) {
  if (!t.creds().HasCap(CAP_SETGID)) return -EPERM;
  const int size = static_cast<int>(a[0]);
  if (size < 0 || size > kNgroupsMax) return -EINVAL;
  std::vector<uint32_t> groups(size);
  if (int err = t.CopyIn(a[1], groups.data(), groups.size() * 4); err) {
    return err;
  }
  for (uint32_t g : groups) {
    if (g == kNoId) return -EINVAL;
  }
  // Linux keeps the list sorted (getgroups returns it so) and searches it.
  std::sort(groups.begin(), groups.end());
  Credentials next = t.creds();
  next.groups = std::move(groups);
  CommitCredentials(t, std::move(next));
  return 0;
}

// ---- capget / capset ----

// Checks the header's version; an unknown one is answered with the
// preferred version written back and EINVAL. `words`: how many 32-bit
// halves of each set the version carries.
int CheckCapVersion(Task& t, uint64_t header, int* words) {
  uint32_t version;
  if (t.CopyInObj(header, &version) != 0) return -EFAULT;
  switch (version) {
    case _LINUX_CAPABILITY_VERSION_1:
      *words = 1;
      return 0;
    case _LINUX_CAPABILITY_VERSION_2:
    case _LINUX_CAPABILITY_VERSION_3:
      *words = 2;
      return 0;
    default: {
      const uint32_t preferred = _LINUX_CAPABILITY_VERSION_3;
      if (t.CopyOutObj(header, preferred) != 0) return -EFAULT;
      return -EINVAL;
    }
  }
}

int64_t CapGet(Task& t, const SyscallArgs& a) {
  int words = 0;
  int err = CheckCapVersion(t, a[0], &words);
  // A null data pointer with an unknown version is the version probe, and
  // succeeds.
  if (a[1] == 0) return err == -EINVAL ? 0 : err;
  if (err != 0) return err;
  int32_t pid;
  if (t.CopyInObj(a[0] + 4, &pid) != 0) return -EFAULT;
  if (pid < 0) return -EINVAL;
  uint64_t eff = 0, prm = 0, inh = 0;
  err = WithTask(t, pid, [&](Task& target) -> int64_t {
    const Credentials& c = target.creds();
    eff = c.cap_effective;
    prm = c.cap_permitted;
    inh = c.cap_inheritable;
    return 0;
  });
  if (err != 0) return err;
  __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    data[i].effective = static_cast<uint32_t>(eff >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(prm >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inh >> (32 * i));
  }
  // Version 1 sees only capabilities 0-31: old libcap implicitly drops the
  // higher ones on a capget/modify/capset round trip, which Linux accepts
  // as fail-safe.
  return t.CopyOut(a[1], data, words * sizeof data[0]);
}

int64_t CapSet(Task& t, const SyscallArgs& a) {
  int words = 0;
  if (int err = CheckCapVersion(t, a[0], &words); err) return err;
  int32_t pid;
  if (t.CopyInObj(a[0] + 4, &pid) != 0) return -EFAULT;
  // Only the caller's own sets can change.
  if (pid != 0 && pid != t.tid()) return -EPERM;
  __user_cap_data_struct data[2] = {};
  if (t.CopyIn(a[1], data, words * sizeof data[0]) != 0) return -EFAULT;
  auto join = [&](uint32_t __user_cap_data_struct::*field) {
    return ((static_cast<uint64_t>(data[1].*field) << 32) | data[0].*field) &
           kAllCaps;
  };
  const uint64_t eff = join(&__user_cap_data_struct::effective);
  const uint64_t prm = join(&__user_cap_data_struct::permitted);
  const uint64_t inh = join(&__user_cap_data_struct::inheritable);

  const Credentials& old = t.creds();
  // Without CAP_SETPCAP, inheritable may only gain what is permitted.
  if (!old.HasCap(CAP_SETPCAP) &&
      (inh & ~(old.cap_inheritable | old.cap_permitted)) != 0) {
    return -EPERM;
  }
  // Nothing outside the bounding set joins the inheritable set.
  if ((inh & ~(old.cap_inheritable | old.cap_bounding)) != 0) return -EPERM;
  if ((prm & ~old.cap_permitted) != 0) return -EPERM;
  if ((eff & ~prm) != 0) return -EPERM;
  Credentials next = old;
  next.cap_effective = eff;
  next.cap_permitted = prm;
  next.cap_inheritable = inh;
  // An ambient capability stays only while permitted and inheritable.
  next.cap_ambient &= prm & inh;
  CommitCredentials(t, std::move(next));
  return 0;
}

// ---- prctl ----

int64_t PrctlSetName(Task& t, uint64_t addr) {
  // The name is 16 bytes with its NUL; longer names are truncated.
  std::string name;
  int err = t.CopyInString(addr, 15, &name);
  if (err == -ENAMETOOLONG) {
    char buf[15];
    if (t.CopyIn(addr, buf, sizeof buf) != 0) return -EFAULT;
    name.assign(buf, sizeof buf);
  } else if (err != 0) {
    return err;
  }
  // /proc readers copy comm under the signal lock.
  std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
  t.comm = name;
  return 0;
}

int64_t PrctlGetName(Task& t, uint64_t addr) {
  char buf[16] = {};
  memcpy(buf, t.comm.data(), std::min<size_t>(t.comm.size(), 15));
  return t.CopyOut(addr, buf, sizeof buf);
}

int64_t PrctlCapAmbient(Task& t, const SyscallArgs& a) {
  if (a[1] == PR_CAP_AMBIENT_CLEAR_ALL) {
    if (a[2] != 0 || a[3] != 0 || a[4] != 0) return -EINVAL;
    Credentials next = t.creds();
    next.cap_ambient = 0;
    CommitCredentials(t, std::move(next));
    return 0;
  }
  if (a[2] > kCapLastCap || a[3] != 0 || a[4] != 0) return -EINVAL;
  const int cap = static_cast<int>(a[2]);
  const Credentials& c = t.creds();
  switch (a[1]) {
    case PR_CAP_AMBIENT_IS_SET:
      return (c.cap_ambient >> cap) & 1;
    case PR_CAP_AMBIENT_RAISE: {
      // Ambient capabilities must be both permitted and inheritable.
      if (!((c.cap_permitted >> cap) & 1) ||
          !((c.cap_inheritable >> cap) & 1) ||
          (c.securebits & SECBIT_NO_CAP_AMBIENT_RAISE)) {
        return -EPERM;
      }
      Credentials next = c;
      next.cap_ambient |= CapBit(cap);
      CommitCredentials(t, std::move(next));
      return 0;
    }
    case PR_CAP_AMBIENT_LOWER: {
      Credentials next = c;
      next.cap_ambient &= ~CapBit(cap);
      CommitCredentials(t, std::move(next));
      return 0;
    }
    default:
      return -EINVAL;
  }
}

int64_t PrctlSetSecurebits(Task& t, uint64_t bits) {
  const Credentials& c = t.creds();
  const uint64_t old = c.securebits;
  // A set lock bit freezes the bit below it, and locks cannot be unset;
  // unknown bits are refused; any change takes CAP_SETPCAP. Linux reports
  // all of these as EPERM.
  if ((((old & kSecureAllLocks) >> 1) & (old ^ bits)) != 0 ||
      (old & kSecureAllLocks & ~bits) != 0 ||
      (bits & ~uint64_t{kSecureAllLocks | kSecureAllBits}) != 0 ||
      !c.HasCap(CAP_SETPCAP)) {
    return -EPERM;
  }
  Credentials next = c;
  next.securebits = static_cast<uint32_t>(bits);
  CommitCredentials(t, std::move(next));
  return 0;
}

int64_t PrctlSetMm(Task& t, const SyscallArgs& a) {
  const uint64_t opt = a[1];
  if (a[4] != 0 || (a[3] != 0 && opt != PR_SET_MM_AUXV &&
                    opt != PR_SET_MM_MAP && opt != PR_SET_MM_MAP_SIZE)) {
    return -EINVAL;
  }
  // The size query is how checkpoint/restore tools learn the struct's
  // version, and needs no privilege.
  if (opt == PR_SET_MM_MAP_SIZE) {
    const uint32_t size = sizeof(prctl_mm_map);
    return t.CopyOutObj(a[2], size);
  }
  if (opt != PR_SET_MM_MAP && !t.creds().HasCap(CAP_SYS_RESOURCE)) {
    return -EPERM;
  }
  // Rewriting the address space layout is not supported.
  return -EINVAL;
}

int64_t Prctl(Task& t, const SyscallArgs& a) {
  Kernel& kernel = t.kernel();
  switch (a[0]) {
    case PR_SET_NAME:
      return PrctlSetName(t, a[1]);
    case PR_GET_NAME:
      return PrctlGetName(t, a[1]);

    case PR_SET_PDEATHSIG: {
      if (a[1] > static_cast<uint64_t>(kNumSignals)) return -EINVAL;
      std::lock_guard<std::mutex> lock(kernel.signal_mu());
      t.pdeath_signal = static_cast<int>(a[1]);
      return 0;
    }
    case PR_GET_PDEATHSIG: {
      int sig;
      {
        std::lock_guard<std::mutex> lock(kernel.signal_mu());
        sig = t.pdeath_signal;
      }
      return t.CopyOutObj(a[1], sig);
    }

    case PR_SET_CHILD_SUBREAPER: {
      std::lock_guard<std::mutex> lock(kernel.signal_mu());
      t.thread_group().child_subreaper = a[1] != 0;
      return 0;
    }
    case PR_GET_CHILD_SUBREAPER: {
      int on;
      {
        std::lock_guard<std::mutex> lock(kernel.signal_mu());
        on = t.thread_group().child_subreaper;
      }
      return t.CopyOutObj(a[1], on);
    }

    case PR_GET_DUMPABLE: {
      ThreadGroup& tg = t.thread_group();
      std::lock_guard<std::mutex> lock(tg.mu);
      return tg.dumpable;
    }
    case PR_SET_DUMPABLE: {
      // 2 (root-only core dumps) is for fs.suid_dumpable, not for prctl.
      if (a[1] != 0 && a[1] != 1) return -EINVAL;
      ThreadGroup& tg = t.thread_group();
      std::lock_guard<std::mutex> lock(tg.mu);
      tg.dumpable = static_cast<int>(a[1]);
      return 0;
    }

    case PR_SET_NO_NEW_PRIVS: {
      // Once set it stays set, across fork and execve.
      if (a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0) return -EINVAL;
      std::lock_guard<std::mutex> lock(kernel.signal_mu());
      t.no_new_privs = true;
      return 0;
    }
    case PR_GET_NO_NEW_PRIVS:
      if (a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0) return -EINVAL;
      return t.no_new_privs ? 1 : 0;

    case PR_GET_KEEPCAPS:
      return (t.creds().securebits & SECBIT_KEEP_CAPS) ? 1 : 0;
    case PR_SET_KEEPCAPS: {
      if (a[1] > 1) return -EINVAL;
      const Credentials& c = t.creds();
      if (c.securebits & SECBIT_KEEP_CAPS_LOCKED) return -EPERM;
      Credentials next = c;
      if (a[1] != 0) {
        next.securebits |= SECBIT_KEEP_CAPS;
      } else {
        next.securebits &= ~SECBIT_KEEP_CAPS;
      }
      CommitCredentials(t, std::move(next));
      return 0;
    }
    case PR_GET_SECUREBITS:
      return t.creds().securebits;
    case PR_SET_SECUREBITS:
      return PrctlSetSecurebits(t, a[1]);

    case PR_CAPBSET_READ:
      if (a[1] > kCapLastCap) return -EINVAL;
      return (t.creds().cap_bounding >> a[1]) & 1;
    case PR_CAPBSET_DROP: {
      if (a[1] > kCapLastCap) return -EINVAL;
      if (!t.creds().HasCap(CAP_SETPCAP)) return -EPERM;
      Credentials next = t.creds();
      next.cap_bounding &= ~CapBit(static_cast<int>(a[1]));
      CommitCredentials(t, std::move(next));
      return 0;
    }
    case PR_CAP_AMBIENT:
      return PrctlCapAmbient(t, a);

    case PR_GET_TIMERSLACK: {
      std::lock_guard<std::mutex> lock(kernel.signal_mu());
      return static_cast<int64_t>(t.timer_slack_ns);
    }
    case PR_SET_TIMERSLACK: {
      std::lock_guard<std::mutex> lock(kernel.signal_mu());
      t.timer_slack_ns = a[1] == 0 ? t.default_timer_slack_ns : a[1];
      return 0;
    }

    case PR_SET_MM:
      return PrctlSetMm(t, a);

    default:
      return -EINVAL;
  }
}

// ---- priorities ----

// The tasks getpriority/setpriority(which, who) select, with signal_mu()
// held. Only the caller's own process and, for PRIO_PGRP, the group leader's
// process are searched: Kernel cannot list every process yet.
template <typename Fn>
int64_t ForEachPrioTarget(Task& t, int which, int who, Fn fn) {
  Kernel& kernel = t.kernel();
  if (which == PRIO_PROCESS) {
    return WithTask(t, who, [&](Task& target) -> int64_t {
      fn(target);
      return 0;
    });
  }
  std::vector<std::shared_ptr<ThreadGroup>> groups = {t.shared_thread_group()};
  int pgid = 0;
  uint32_t uid = 0;
  if (which == PRIO_PGRP) {
    {
      std::lock_guard<std::mutex> lock(t.thread_group().mu);
      pgid = who != 0 ? who : t.thread_group().pgid;
    }
    if (pgid != t.thread_group().tgid()) {
      if (auto leader = kernel.FindThreadGroup(pgid)) groups.push_back(leader);
    }
  } else {
    uid = who != 0 ? static_cast<uint32_t>(who) : t.creds().ruid;
  }
  std::lock_guard<std::mutex> lock(kernel.signal_mu());
  bool found = false;
  for (const auto& tg : groups) {
    std::vector<Task*> members;
    {
      std::lock_guard<std::mutex> tg_lock(tg->mu);
      if (which == PRIO_PGRP && tg->pgid != pgid) continue;
      members = tg->tasks;
    }
    for (Task* m : members) {
      if (which == PRIO_USER && m->creds().ruid != uid) continue;
      found = true;
      fn(*m);
    }
  }
  return found ? 0 : -ESRCH;
}

int64_t GetPriority(Task& t, const SyscallArgs& a) {
  const int which = static_cast<int>(a[0]);
  const int who = static_cast<int>(a[1]);
  if (which < PRIO_PROCESS || which > PRIO_USER) return -EINVAL;
  int best = 0;
  int64_t err = ForEachPrioTarget(t, which, who, [&](Task& target) {
    best = std::max(best, NiceToRlimit(target.nice));
  });
  if (err != 0) return err;
  // The raw syscall returns 20 - nice (1..40) so that no result looks like
  // an error; the C library converts it back.
  return best;
}

int64_t SetPriority(Task& t, const SyscallArgs& a) {
  const int which = static_cast<int>(a[0]);
  const int who = static_cast<int>(a[1]);
  if (which < PRIO_PROCESS || which > PRIO_USER) return -EINVAL;
  const int nice = std::clamp(static_cast<int>(a[2]), kMinNice, kMaxNice);
  const Credentials& me = t.creds();
  const bool cap_nice = me.HasCap(CAP_SYS_NICE);
  int64_t result = -ESRCH;
  int64_t err = ForEachPrioTarget(t, which, who, [&](Task& target) {
    const Credentials& c = target.creds();
    if (c.ruid != me.euid && c.euid != me.euid && !cap_nice) {
      result = -EPERM;
      return;
    }
    if (nice < target.nice) {
      // Lowering nice takes CAP_SYS_NICE or a high enough RLIMIT_NICE.
      uint64_t limit;
      {
        ThreadGroup& tg = target.thread_group();
        std::lock_guard<std::mutex> tg_lock(tg.mu);
        limit = tg.rlimits[RLIMIT_NICE].rlim_cur;
      }
      if (static_cast<uint64_t>(NiceToRlimit(nice)) > limit && !cap_nice) {
        result = -EACCES;
        return;
      }
    }
    // Linux reports the last failure even if other targets changed.
    if (result == -ESRCH) result = 0;
    target.nice = nice;
  });
  return err != 0 ? err : result;
}

// ---- scheduling policies ----

bool IsRtPolicy(int policy) {
  return policy == SCHED_FIFO || policy == SCHED_RR;
}

bool IsKnownPolicy(int policy) {
  return policy == SCHED_OTHER || policy == SCHED_BATCH ||
         policy == SCHED_IDLE || IsRtPolicy(policy) || policy == SCHED_DEADLINE;
}

// sched_setscheduler (policy >= 0) and sched_setparam (policy -1: keep).
int64_t DoSetScheduler(Task& t, int pid, int policy, uint64_t param_addr) {
  if (param_addr == 0 || pid < 0) return -EINVAL;
  sched_param param;
  if (t.CopyInObj(param_addr, &param) != 0) return -EFAULT;
  const Credentials& me = t.creds();
  return WithTask(t, pid, [&](Task& target) -> int64_t {
    int new_policy = policy;
    bool reset_on_fork = target.sched_reset_on_fork;
    if (new_policy < 0) {
      new_policy = target.sched_policy;
    } else {
      reset_on_fork = (new_policy & SCHED_RESET_ON_FORK) != 0;
      new_policy &= ~SCHED_RESET_ON_FORK;
      if (!IsKnownPolicy(new_policy)) return -EINVAL;
    }
    const int prio = param.sched_priority;
    if (prio < 0 || prio > kMaxRtPriority) return -EINVAL;
    // Real-time policies take 1..99, the others exactly 0. SCHED_DEADLINE
    // needs the runtime/deadline/period only sched_setattr can give.
    if (new_policy == SCHED_DEADLINE) return -EINVAL;
    if (IsRtPolicy(new_policy) != (prio != 0)) return -EINVAL;

    bool need_priv = false;
    if (IsRtPolicy(new_policy)) {
      uint64_t rtprio;
      {
        ThreadGroup& tg = target.thread_group();
        std::lock_guard<std::mutex> tg_lock(tg.mu);
        rtprio = tg.rlimits[RLIMIT_RTPRIO].rlim_cur;
      }
      if (new_policy != target.sched_policy && rtprio == 0) need_priv = true;
      if (static_cast<uint64_t>(prio) >
              static_cast<uint64_t>(target.sched_priority) &&
          static_cast<uint64_t>(prio) > rtprio) {
        need_priv = true;
      }
    }
    // Leaving SCHED_IDLE counts as lowering nice from 20.
    if (target.sched_policy == SCHED_IDLE && new_policy != SCHED_IDLE) {
      ThreadGroup& tg = target.thread_group();
      std::lock_guard<std::mutex> tg_lock(tg.mu);
      if (static_cast<uint64_t>(NiceToRlimit(target.nice)) >
          tg.rlimits[RLIMIT_NICE].rlim_cur) {
        need_priv = true;
      }
    }
    const Credentials& c = target.creds();
    if (me.euid != c.euid && me.euid != c.ruid) need_priv = true;
    if (target.sched_reset_on_fork && !reset_on_fork) need_priv = true;
    if (need_priv && !me.HasCap(CAP_SYS_NICE)) return -EPERM;

    target.sched_policy = new_policy;
    target.sched_priority = prio;
    target.sched_reset_on_fork = reset_on_fork;
    return 0;
  });
}

int64_t SchedSetscheduler(Task& t, const SyscallArgs& a) {
  const int policy = static_cast<int>(a[1]);
  if (policy < 0) return -EINVAL;
  return DoSetScheduler(t, static_cast<int>(a[0]), policy, a[2]);
}

int64_t SchedSetparam(Task& t, const SyscallArgs& a) {
  return DoSetScheduler(t, static_cast<int>(a[0]), -1, a[1]);
}

int64_t SchedGetscheduler(Task& t, const SyscallArgs& a) {
  const int pid = static_cast<int>(a[0]);
  if (pid < 0) return -EINVAL;
  return WithTask(t, pid, [](Task& target) -> int64_t {
    return target.sched_policy |
           (target.sched_reset_on_fork ? SCHED_RESET_ON_FORK : 0);
  });
}

int64_t SchedGetparam(Task& t, const SyscallArgs& a) {
  const int pid = static_cast<int>(a[0]);
  if (a[1] == 0 || pid < 0) return -EINVAL;
  sched_param param{};
  int64_t err = WithTask(t, pid, [&](Task& target) -> int64_t {
    param.sched_priority = target.sched_priority;
    return 0;
  });
  if (err != 0) return err;
  return t.CopyOutObj(a[1], param);
}

int64_t SchedGetPriorityMax(Task&, const SyscallArgs& a) {
  const int policy = static_cast<int>(a[0]);
  if (IsRtPolicy(policy)) return kMaxRtPriority;
  return IsKnownPolicy(policy) ? 0 : -EINVAL;
}

int64_t SchedGetPriorityMin(Task&, const SyscallArgs& a) {
  const int policy = static_cast<int>(a[0]);
  if (IsRtPolicy(policy)) return 1;
  return IsKnownPolicy(policy) ? 0 : -EINVAL;
}

int64_t SchedRrGetInterval(Task& t, const SyscallArgs& a) {
  const int pid = static_cast<int>(a[0]);
  if (pid < 0) return -EINVAL;
  int policy = 0;
  int64_t err = WithTask(t, pid, [&](Task& target) -> int64_t {
    policy = target.sched_policy;
    return 0;
  });
  if (err != 0) return err;
  // SCHED_RR's quantum is Linux's default 100 ms. SCHED_FIFO has none, and
  // the fair policies' slice depends on the load: report 0, as Linux does
  // for a slice shorter than a clock tick.
  timespec ts{};
  if (policy == SCHED_RR) ts.tv_nsec = 100'000'000;
  return t.CopyOutObj(a[1], ts);
}

// The sandbox does not pin its threads; the mask is checked as Linux checks
// it (readable, naming at least one CPU the sandbox may use) and then
// ignored.
int64_t SchedSetaffinity(Task& t, const SyscallArgs& a) {
  const int pid = static_cast<int>(a[0]);
  uint64_t len = a[1];
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -errno;
  cpu_set_t want;
  CPU_ZERO(&want);
  len = std::min<uint64_t>(len, sizeof want);
  if (t.CopyIn(a[2], &want, len) != 0) return -EFAULT;
  CPU_AND(&want, &want, &allowed);
  const Credentials& me = t.creds();
  int64_t err = WithTask(t, pid, [&](Task& target) -> int64_t {
    const Credentials& c = target.creds();
    if (me.euid != c.euid && me.euid != c.ruid && !me.HasCap(CAP_SYS_NICE)) {
      return -EPERM;
    }
    return 0;
  });
  if (err != 0) return err;
  if (CPU_COUNT(&want) == 0) return -EINVAL;
  return 0;
}

}  // namespace

void RegisterCredsSyscalls(SyscallTable& table) {
  table.Register(102, GetUid, {});
  table.Register(107, GetEuid, {});
  table.Register(104, GetGid, {});
  table.Register(108, GetEgid, {});
  table.Register(118, GetResUid, {A::kHex, A::kHex, A::kHex});
  table.Register(120, GetResGid, {A::kHex, A::kHex, A::kHex});
  table.Register(115, GetGroups, {A::kInt, A::kHex});
  table.Register(105, SetUid, {A::kInt});
  table.Register(106, SetGid, {A::kInt});
  table.Register(113, SetReUid, {A::kInt, A::kInt});
  table.Register(114, SetReGid, {A::kInt, A::kInt});
  table.Register(117, SetResUid, {A::kInt, A::kInt, A::kInt});
  table.Register(119, SetResGid, {A::kInt, A::kInt, A::kInt});
  table.Register(122, SetFsUid, {A::kInt});
  table.Register(123, SetFsGid, {A::kInt});
  table.Register(116, SetGroups, {A::kInt, A::kHex});
  table.Register(125, CapGet, {A::kHex, A::kHex});
  table.Register(126, CapSet, {A::kHex, A::kHex});
  table.Register(157, Prctl, {A::kInt, A::kHex, A::kHex, A::kHex, A::kHex});
  table.Register(140, GetPriority, {A::kInt, A::kInt});
  table.Register(141, SetPriority, {A::kInt, A::kInt, A::kInt});
  table.Register(142, SchedSetparam, {A::kInt, A::kHex});
  table.Register(143, SchedGetparam, {A::kInt, A::kHex});
  table.Register(144, SchedSetscheduler, {A::kInt, A::kInt, A::kHex});
  table.Register(145, SchedGetscheduler, {A::kInt});
  table.Register(146, SchedGetPriorityMax, {A::kInt});
  table.Register(147, SchedGetPriorityMin, {A::kInt});
  table.Register(148, SchedRrGetInterval, {A::kInt, A::kHex});
  table.Register(203, SchedSetaffinity, {A::kInt, A::kInt, A::kHex});
  table.Register(436, CloseRange, {A::kFd, A::kFd, A::kHex});
}

}  // namespace sentry
