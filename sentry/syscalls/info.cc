// System information: uname, sysinfo, getrandom, CPU affinity, scheduling.
#include <errno.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

// The kernel version the sandbox reports. Programs gate features on it, so
// it names a release whose syscall surface we aim to match.
constexpr char kRelease[] = "6.1.0";
constexpr char kVersion[] = "#1 SMP cvisor";

int64_t Uname(Task& t, const SyscallArgs& a) {
  struct utsname u;
  memset(&u, 0, sizeof u);
  strncpy(u.sysname, "Linux", sizeof u.sysname - 1);
  strncpy(u.nodename, t.kernel().hostname().c_str(), sizeof u.nodename - 1);
  strncpy(u.release, kRelease, sizeof u.release - 1);
  strncpy(u.version, kVersion, sizeof u.version - 1);
  strncpy(u.machine, "x86_64", sizeof u.machine - 1);
  strncpy(u.domainname, t.kernel().domainname().c_str(),
          sizeof u.domainname - 1);
  return t.CopyOutObj(a[0], u);
}

int64_t GetRandom(Task& t, const SyscallArgs& a) {
  unsigned flags = static_cast<unsigned>(a[2]);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -EINVAL;
  // Linux refuses GRND_INSECURE together with GRND_RANDOM.
  if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM)) return -EINVAL;
  size_t len = a[1];
  // One call returns at most INT_MAX bytes, like any read.
  len = std::min<size_t>(len, 0x7ffff000);
  char buf[4096];
  size_t done = 0;
  while (done < len) {
    size_t n = std::min(sizeof buf, len - done);
    ssize_t got = getrandom(buf, n, flags & ~GRND_RANDOM);
    if (got < 0) return done > 0 ? static_cast<int64_t>(done) : -errno;
    if (t.CopyOut(a[0] + done, buf, got) != 0) {
      return done > 0 ? static_cast<int64_t>(done) : -EFAULT;
    }
    done += got;
  }
  return done;
}

int64_t SchedGetaffinity(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  if (pid < 0) return -ESRCH;
  if (pid != 0 && pid != t.tid() && pid != t.thread_group().tgid()) {
    return -ESRCH;
  }
  size_t len = a[1];
  if (len > 8192) len = 8192;
  char mask[8192] = {};
  // The sandbox may use exactly the CPUs the sentry may; the host applies
  // Linux's own checks on len (too small, not a multiple of a long).
  long n = syscall(SYS_sched_getaffinity, 0, len, mask);
  if (n < 0) return -errno;
  if (int err = t.CopyOut(a[2], mask, n); err) return err;
  return n;
}

int64_t SchedYield(Task&, const SyscallArgs&) {
  sched_yield();
  return 0;
}

int64_t GetCpu(Task& t, const SyscallArgs& a) {
  unsigned cpu = 0, node = 0;
  if (syscall(SYS_getcpu, &cpu, &node, nullptr) != 0) return -errno;
  if (a[0] != 0) {
    if (int err = t.CopyOutObj(a[0], cpu); err) return err;
  }
  if (a[1] != 0) {
    if (int err = t.CopyOutObj(a[1], node); err) return err;
  }
  return 0;
}

int64_t Sysinfo(Task& t, const SyscallArgs& a) {
  struct sysinfo host;
  if (sysinfo(&host) != 0) return -errno;
  struct sysinfo s;
  memset(&s, 0, sizeof s);
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t up_ns =
      now.tv_sec * 1000000000LL + now.tv_nsec - t.kernel().boot_time_ns();
  s.uptime = up_ns / 1000000000LL;
  // Memory figures are the host's until the sandbox accounts its own.
  s.totalram = host.totalram;
  s.freeram = host.freeram;
  s.sharedram = host.sharedram;
  s.bufferram = host.bufferram;
  s.totalswap = host.totalswap;
  s.freeswap = host.freeswap;
  s.mem_unit = host.mem_unit;
  s.procs = 1;
  return t.CopyOutObj(a[0], s);
}

}  // namespace

void RegisterInfoSyscalls(SyscallTable& table) {
  table.Register(63, Uname, {A::kHex});
  table.Register(318, GetRandom, {A::kHex, A::kInt, A::kHex});
  table.Register(204, SchedGetaffinity, {A::kInt, A::kInt, A::kHex});
  table.Register(24, SchedYield, {});
  table.Register(309, GetCpu, {A::kHex, A::kHex, A::kHex});
  table.Register(99, Sysinfo, {A::kHex});
}

}  // namespace sentry
