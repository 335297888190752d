// Process and thread identity, credentials, limits and exit.
#include <asm/prctl.h>
#include <errno.h>
#include <linux/prctl.h>
#include <sys/resource.h>

#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

// The highest canonical user address + 1 on x86-64 with 4-level paging.
constexpr uint64_t kUserAddressLimit = 1ULL << 47;

int64_t Exit(Task& t, const SyscallArgs& a) {
  // Without CLONE_THREAD there is one thread per group, so exit and
  // exit_group coincide until the process model lands.
  t.exiting = true;
  t.exit_status = ExitedStatus(static_cast<int>(a[0]));
  return 0;
}

int64_t ExitGroup(Task& t, const SyscallArgs& a) {
  t.exiting = true;
  t.exit_status = ExitedStatus(static_cast<int>(a[0]));
  return 0;
}

int64_t GetPid(Task& t, const SyscallArgs&) { return t.thread_group().tgid(); }

int64_t GetPpid(Task& t, const SyscallArgs&) {
  std::lock_guard<std::mutex> lock(t.thread_group().mu);
  return t.thread_group().ppid;
}

int64_t GetTid(Task& t, const SyscallArgs&) { return t.tid(); }

int64_t GetPgrp(Task& t, const SyscallArgs&) {
  std::lock_guard<std::mutex> lock(t.thread_group().mu);
  return t.thread_group().pgid;
}

int64_t GetPgid(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  if (pid != 0 && pid != t.thread_group().tgid()) return -ESRCH;
  std::lock_guard<std::mutex> lock(t.thread_group().mu);
  return t.thread_group().pgid;
}

int64_t GetSid(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  if (pid != 0 && pid != t.thread_group().tgid()) return -ESRCH;
  std::lock_guard<std::mutex> lock(t.thread_group().mu);
  return t.thread_group().sid;
}

int64_t SetTidAddress(Task& t, const SyscallArgs& a) {
  t.clear_child_tid = a[0];
  return t.tid();
}

int64_t SetRobustList(Task& t, const SyscallArgs& a) {
  // struct robust_list_head is three words.
  if (a[1] != 24) return -EINVAL;
  t.robust_list_head = a[0];
  t.robust_list_len = a[1];
  return 0;
}

int64_t GetRobustList(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  if (pid != 0 && pid != t.tid()) return -ESRCH;
  if (int err = t.CopyOutObj(a[1], t.robust_list_head); err) return err;
  if (int err = t.CopyOutObj(a[2], t.robust_list_len); err) return err;
  return 0;
}

int64_t ArchPrctl(Task& t, const SyscallArgs& a) {
  platform::Registers& regs = t.regs();
  switch (a[0]) {
    case ARCH_SET_FS:
      if (a[1] >= kUserAddressLimit) return -EPERM;
      regs.fs_base = a[1];
      regs.fs = 0;
      return 0;
    case ARCH_GET_FS:
      return t.CopyOutObj(a[1], regs.fs_base);
    case ARCH_SET_GS:
      if (a[1] >= kUserAddressLimit) return -EPERM;
      regs.gs_base = a[1];
      regs.gs = 0;
      return 0;
    case ARCH_GET_GS:
      return t.CopyOutObj(a[1], regs.gs_base);
    case ARCH_GET_CPUID:
      // CPUID faulting is not offered: cpuid always works.
      return 1;
    case ARCH_SET_CPUID:
      return -ENODEV;
    default:
      return -EINVAL;
  }
}

int64_t GetUid(Task& t, const SyscallArgs&) { return t.creds().ruid; }
int64_t GetEuid(Task& t, const SyscallArgs&) { return t.creds().euid; }
int64_t GetGid(Task& t, const SyscallArgs&) { return t.creds().rgid; }
int64_t GetEgid(Task& t, const SyscallArgs&) { return t.creds().egid; }

int64_t GetResUid(Task& t, const SyscallArgs& a) {
  const Credentials& c = t.creds();
  for (auto [addr, v] :
       {std::pair{a[0], c.ruid}, {a[1], c.euid}, {a[2], c.suid}}) {
    if (int err = t.CopyOutObj(addr, v); err) return err;
  }
  return 0;
}

int64_t GetResGid(Task& t, const SyscallArgs& a) {
  const Credentials& c = t.creds();
  for (auto [addr, v] :
       {std::pair{a[0], c.rgid}, {a[1], c.egid}, {a[2], c.sgid}}) {
    if (int err = t.CopyOutObj(addr, v); err) return err;
  }
  return 0;
}

int64_t GetGroups(Task& t, const SyscallArgs& a) {
  const std::vector<uint32_t>& groups = t.creds().groups;
  int size = static_cast<int>(a[0]);
  if (size < 0) return -EINVAL;
  if (size == 0) return groups.size();
  if (static_cast<size_t>(size) < groups.size()) return -EINVAL;
  if (int err = t.CopyOut(a[1], groups.data(), groups.size() * 4); err) {
    return err;
  }
  return groups.size();
}

int64_t DoPrlimit(Task& t, int pid, int resource, uint64_t new_addr,
                  uint64_t old_addr) {
  if (pid != 0 && pid != t.thread_group().tgid()) return -ESRCH;
  if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
  rlimit next{};
  if (new_addr != 0) {
    if (int err = t.CopyInObj(new_addr, &next); err) return err;
    if (next.rlim_cur > next.rlim_max) return -EINVAL;
    // fs.nr_open bounds RLIMIT_NOFILE even for a privileged caller.
    if (resource == RLIMIT_NOFILE && next.rlim_max > 1048576) return -EPERM;
  }
  ThreadGroup& tg = t.thread_group();
  std::lock_guard<std::mutex> lock(tg.mu);
  rlimit old = tg.rlimits[resource];
  if (new_addr != 0) {
    // Raising a hard limit takes CAP_SYS_RESOURCE, which only root holds
    // in the sandbox.
    if (next.rlim_max > old.rlim_max && t.creds().euid != 0) return -EPERM;
  }
  if (old_addr != 0) {
    if (int err = t.CopyOutObj(old_addr, old); err) return err;
  }
  if (new_addr != 0) tg.rlimits[resource] = next;
  return 0;
}

int64_t Prlimit64(Task& t, const SyscallArgs& a) {
  return DoPrlimit(t, static_cast<int>(a[0]), static_cast<int>(a[1]), a[2],
                   a[3]);
}

int64_t GetRlimit(Task& t, const SyscallArgs& a) {
  return DoPrlimit(t, 0, static_cast<int>(a[0]), 0, a[1]);
}

int64_t SetRlimit(Task& t, const SyscallArgs& a) {
  return DoPrlimit(t, 0, static_cast<int>(a[0]), a[1], 0);
}

int64_t Prctl(Task& t, const SyscallArgs& a) {
  switch (a[0]) {
    case PR_SET_NAME: {
      // The name is 16 bytes with its NUL; longer names are truncated.
      char buf[16] = {};
      std::string name;
      int err = t.CopyInString(a[1], 15, &name);
      if (err == -EFAULT) return err;
      if (err == -ENAMETOOLONG) {
        if (t.CopyIn(a[1], buf, 15) != 0) return -EFAULT;
        name.assign(buf, 15);
      }
      t.comm = name;
      return 0;
    }
    case PR_GET_NAME: {
      char buf[16] = {};
      memcpy(buf, t.comm.data(), std::min<size_t>(t.comm.size(), 15));
      return t.CopyOut(a[1], buf, sizeof buf);
    }
    default:
      return -EINVAL;
  }
}

}  // namespace

void RegisterProcessSyscalls(SyscallTable& table) {
  table.Register(60, Exit, {A::kInt});
  table.Register(231, ExitGroup, {A::kInt});
  table.Register(39, GetPid, {});
  table.Register(110, GetPpid, {});
  table.Register(186, GetTid, {});
  table.Register(111, GetPgrp, {});
  table.Register(121, GetPgid, {A::kInt});
  table.Register(124, GetSid, {A::kInt});
  table.Register(218, SetTidAddress, {A::kHex});
  table.Register(273, SetRobustList, {A::kHex, A::kInt});
  table.Register(274, GetRobustList, {A::kInt, A::kHex, A::kHex});
  table.Register(158, ArchPrctl, {A::kHex, A::kHex});
  table.Register(102, GetUid, {});
  table.Register(107, GetEuid, {});
  table.Register(104, GetGid, {});
  table.Register(108, GetEgid, {});
  table.Register(118, GetResUid, {A::kHex, A::kHex, A::kHex});
  table.Register(120, GetResGid, {A::kHex, A::kHex, A::kHex});
  table.Register(115, GetGroups, {A::kInt, A::kHex});
  table.Register(302, Prlimit64, {A::kInt, A::kInt, A::kHex, A::kHex});
  table.Register(97, GetRlimit, {A::kInt, A::kHex});
  table.Register(160, SetRlimit, {A::kInt, A::kHex});
  table.Register(157, Prctl, {A::kInt, A::kHex, A::kHex, A::kHex, A::kHex});
}

}  // namespace sentry
