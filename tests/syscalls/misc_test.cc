// Conformance: identity, limits, clocks, randomness, affinity, TLS and the
// signal state calls that need no delivery, plus unknown syscall numbers.
#include <asm/prctl.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// ---- uname / identity ----------------------------------------------------

TEST(UnameTest, Fields) {
  struct utsname u;
  ASSERT_EQ(uname(&u), 0);
  EXPECT_STREQ(u.sysname, "Linux");
  EXPECT_STREQ(u.machine, "x86_64");
  EXPECT_GT(strlen(u.release), 0u);
  EXPECT_GT(strlen(u.version), 0u);
  char host[HOST_NAME_MAX + 1];
  ASSERT_EQ(gethostname(host, sizeof(host)), 0);
  EXPECT_STREQ(u.nodename, host);
  EXPECT_ERRNO(syscall(SYS_uname, kBadPtr), EFAULT);
}

TEST(IdentityTest, PidIsTidForTheMainThread) {
  const pid_t pid = getpid();
  EXPECT_GT(pid, 0);
  EXPECT_EQ(syscall(SYS_gettid), pid);
  EXPECT_EQ(syscall(SYS_getpid), pid);
  EXPECT_EQ(getpid(), pid);  // stable
}

TEST(IdentityTest, ParentPidIsConsistent) {
  const pid_t ppid = getppid();
  // 0 when the parent is outside our PID namespace (a sandbox's init).
  EXPECT_GE(ppid, 0);
  EXPECT_NE(ppid, getpid());
  EXPECT_EQ(syscall(SYS_getppid), ppid);
}

TEST(IdentityTest, ProcessGroupAndSession) {
  EXPECT_EQ(getpgid(0), getpgrp());
  EXPECT_EQ(getpgid(getpid()), getpgrp());
  EXPECT_EQ(getsid(0), getsid(getpid()));
  EXPECT_GT(getpgrp(), 0);
  EXPECT_ERRNO(getpgid(-1), ESRCH);
}

TEST(IdentityTest, CredentialsAgree) {
  // Not a set-ID program: real, effective and saved IDs are the same.
  EXPECT_EQ(getuid(), geteuid());
  EXPECT_EQ(getgid(), getegid());
  uid_t r, e, s;
  ASSERT_EQ(getresuid(&r, &e, &s), 0);
  EXPECT_EQ(r, getuid());
  EXPECT_EQ(e, geteuid());
  EXPECT_EQ(s, getuid());
  gid_t gr, ge, gs;
  ASSERT_EQ(getresgid(&gr, &ge, &gs), 0);
  EXPECT_EQ(gr, getgid());
  EXPECT_EQ(ge, getegid());
  EXPECT_EQ(gs, getgid());
  EXPECT_ERRNO(syscall(SYS_getresuid, kBadPtr, &e, &s), EFAULT);
}

TEST(IdentityTest, Getgroups) {
  const int n = getgroups(0, nullptr);
  ASSERT_GE(n, 0) << ErrnoName(errno);
  std::vector<gid_t> groups(n + 1);
  EXPECT_EQ(getgroups(n + 1, groups.data()), n);
  EXPECT_EQ(getgroups(n, groups.data()), n);
  // Size 0 only counts, whatever the buffer; a non-zero size below the
  // count is EINVAL.
  EXPECT_EQ(getgroups(0, groups.data()), n);
  if (n >= 2) EXPECT_ERRNO(getgroups(n - 1, groups.data()), EINVAL);
  EXPECT_ERRNO(syscall(SYS_getgroups, -1, groups.data()), EINVAL);
}

// ---- rlimits -------------------------------------------------------------

TEST(RlimitTest, NofileSoftLimitRoundTrips) {
  struct rlimit orig;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &orig), 0);
  ASSERT_GE(orig.rlim_max, 64u);
  struct rlimit lower = {64, orig.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lower), 0) << ErrnoName(errno);
  struct rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, 64u);
  EXPECT_EQ(now.rlim_max, orig.rlim_max);
  // The new limit is enforced on descriptor numbers.
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(fcntl(fd.get(), F_DUPFD, 64), EINVAL);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &orig), 0);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, orig.rlim_cur);
}

TEST(RlimitTest, Prlimit64) {
  struct rlimit old;
  ASSERT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &old), 0);
  struct rlimit via_get;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &via_get), 0);
  EXPECT_EQ(old.rlim_cur, via_get.rlim_cur);
  EXPECT_EQ(old.rlim_max, via_get.rlim_max);
  // Set and get the old value in one call, naming ourselves by pid.
  struct rlimit lower = {100, old.rlim_max}, prev;
  ASSERT_EQ(syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, &lower, &prev), 0);
  EXPECT_EQ(prev.rlim_cur, old.rlim_cur);
  struct rlimit now;
  ASSERT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &now), 0);
  EXPECT_EQ(now.rlim_cur, 100u);
  ASSERT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &old, nullptr), 0);
  // Neither pointer: a valid no-op.
  EXPECT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, nullptr), 0);
}

TEST(RlimitTest, Errors) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  struct rlimit bad = {rl.rlim_max, rl.rlim_max - 1};
  EXPECT_ERRNO(setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
  EXPECT_ERRNO(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &bad, nullptr), EINVAL);
  EXPECT_ERRNO(syscall(SYS_getrlimit, 100, &rl), EINVAL);
  EXPECT_ERRNO(syscall(SYS_setrlimit, 100, &rl), EINVAL);
  EXPECT_ERRNO(syscall(SYS_prlimit64, 0, 100, nullptr, &rl), EINVAL);
  EXPECT_ERRNO(syscall(SYS_getrlimit, RLIMIT_NOFILE, kBadPtr), EFAULT);
  EXPECT_ERRNO(syscall(SYS_prlimit64, INT32_MAX, RLIMIT_NOFILE, nullptr, &rl),
               ESRCH);
  // The failed calls changed nothing.
  struct rlimit after;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, rl.rlim_cur);
  EXPECT_EQ(after.rlim_max, rl.rlim_max);
}

// ---- clocks and sleeping -------------------------------------------------

TEST(ClockTest, MonotonicNeverGoesBackwards) {
  struct timespec prev;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &prev), 0);
  for (int i = 0; i < 10000; ++i) {
    struct timespec now;
    ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &now), 0);
    ASSERT_GE(Nanos(now), Nanos(prev));
    ASSERT_GE(now.tv_nsec, 0);
    ASSERT_LT(now.tv_nsec, 1000000000);
    prev = now;
  }
  // The raw syscall (no vDSO) agrees with the library call.
  struct timespec raw;
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &raw), 0);
  EXPECT_GE(Nanos(raw), Nanos(prev));
  EXPECT_LT(Nanos(raw) - Nanos(prev), 5 * 1000000000ll);
}

TEST(ClockTest, RealtimeIsCloseToTime) {
  struct timespec ts;
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &ts), 0);
  const time_t t = time(nullptr);
  const long raw_t = syscall(SYS_time, nullptr);
  // time() reads the tick-updated (coarse) clock, so it may trail
  // CLOCK_REALTIME by a tick: compare with a little slack either way.
  EXPECT_LE(std::abs(t - ts.tv_sec), 2);
  EXPECT_LE(std::abs(raw_t - t), 2);
  EXPECT_GT(ts.tv_sec, 1600000000);  // after 2020
  time_t stored = 0;
  EXPECT_EQ(syscall(SYS_time, &stored), stored);
  EXPECT_ERRNO(syscall(SYS_time, kBadPtr), EFAULT);
}

TEST(ClockTest, AllStandardClocksWork) {
  for (clockid_t id :
       {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
        CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
        CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID}) {
    struct timespec ts;
    EXPECT_EQ(syscall(SYS_clock_gettime, id, &ts), 0) << "clock " << id;
    EXPECT_GE(ts.tv_nsec, 0);
    EXPECT_LT(ts.tv_nsec, 1000000000);
  }
}

TEST(ClockTest, InvalidClockIsEINVAL) {
  struct timespec ts;
  EXPECT_ERRNO(clock_gettime(100, &ts), EINVAL);
  EXPECT_ERRNO(syscall(SYS_clock_gettime, 100, &ts), EINVAL);
  EXPECT_ERRNO(syscall(SYS_clock_getres, 100, &ts), EINVAL);
}

TEST(ClockTest, BadPointerIsEFAULT) {
  EXPECT_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, kBadPtr), EFAULT);
  EXPECT_ERRNO(syscall(SYS_clock_gettime, CLOCK_REALTIME, kBadPtr), EFAULT);
  EXPECT_ERRNO(syscall(SYS_clock_getres, CLOCK_MONOTONIC, kBadPtr), EFAULT);
  EXPECT_ERRNO(syscall(SYS_gettimeofday, kBadPtr, nullptr), EFAULT);
}

TEST(ClockTest, ProcessCpuTimeAdvancesUnderABusyLoop) {
  struct timespec before, after;
  ASSERT_EQ(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &before), 0);
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &before), 0);
  struct timespec start, now;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &start), 0);
  // Spin until 20ms of CPU time have been charged; on a loaded machine that
  // takes longer in wall time, so only give up after 20s.
  volatile uint64_t sink = 0;
  do {
    for (int i = 0; i < 100000; ++i) sink = sink + i;
    ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &now), 0);
    ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &after), 0);
  } while (Nanos(after) - Nanos(before) < 20 * 1000000ll &&
           Nanos(now) - Nanos(start) < 20 * 1000000000ll);
  EXPECT_GE(Nanos(after) - Nanos(before), 20 * 1000000ll);
  // CPU time cannot outrun wall time for a single thread.
  EXPECT_LE(Nanos(after) - Nanos(before),
            Nanos(now) - Nanos(start) + 10 * 1000000ll);
}

TEST(ClockTest, Getres) {
  struct timespec res;
  ASSERT_EQ(clock_getres(CLOCK_MONOTONIC, &res), 0);
  // High-resolution timers: 1ns.
  EXPECT_EQ(res.tv_sec, 0);
  EXPECT_EQ(res.tv_nsec, 1);
  ASSERT_EQ(clock_getres(CLOCK_REALTIME, &res), 0);
  EXPECT_EQ(res.tv_sec, 0);
  EXPECT_EQ(res.tv_nsec, 1);
  // Coarse clocks tick once per jiffy: coarser than 1ns, at most 10ms.
  ASSERT_EQ(clock_getres(CLOCK_MONOTONIC_COARSE, &res), 0);
  EXPECT_EQ(res.tv_sec, 0);
  EXPECT_GT(res.tv_nsec, 1);
  EXPECT_LE(res.tv_nsec, 10000000);
  // A NULL result pointer is allowed.
  EXPECT_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, nullptr), 0);
}

TEST(ClockTest, GettimeofdayAgreesWithRealtime) {
  struct timespec a, b;
  struct timeval tv;
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &a), 0);
  ASSERT_EQ(gettimeofday(&tv, nullptr), 0);
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &b), 0);
  const int64_t t = static_cast<int64_t>(tv.tv_sec) * 1000000000 +
                    static_cast<int64_t>(tv.tv_usec) * 1000;
  EXPECT_GE(t, Nanos(a) - 1000);  // microsecond truncation
  EXPECT_LE(t, Nanos(b));
  EXPECT_GE(tv.tv_usec, 0);
  EXPECT_LT(tv.tv_usec, 1000000);
  struct timeval raw;
  ASSERT_EQ(syscall(SYS_gettimeofday, &raw, nullptr), 0);
  EXPECT_GE(raw.tv_sec, tv.tv_sec);
  EXPECT_LE(raw.tv_sec - tv.tv_sec, 2);
}

TEST(NanosleepTest, SleepsAtLeastTheRequestedTime) {
  struct timespec start, end;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &start), 0);
  struct timespec req = {0, 20 * 1000000}, rem = {99, 99};
  ASSERT_EQ(nanosleep(&req, &rem), 0);
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &end), 0);
  EXPECT_GE(Nanos(end) - Nanos(start), 20 * 1000000ll);
  EXPECT_LT(Nanos(end) - Nanos(start), 5 * 1000000000ll);
  // A zero request returns at once.
  struct timespec zero = {0, 0};
  EXPECT_EQ(nanosleep(&zero, nullptr), 0);
}

TEST(NanosleepTest, ClockNanosleepAbsoluteInThePast) {
  struct timespec now;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &now), 0);
  now.tv_sec -= 1;
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now, nullptr), 0);
  struct timespec deadline;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &deadline), 0);
  deadline.tv_nsec += 10 * 1000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_nsec -= 1000000000;
    deadline.tv_sec += 1;
  }
  ASSERT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr),
            0);
  struct timespec after;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &after), 0);
  EXPECT_GE(Nanos(after), Nanos(deadline));
}

TEST(NanosleepTest, InvalidRequests) {
  struct timespec bad = {0, 1000000000};
  EXPECT_ERRNO(syscall(SYS_nanosleep, &bad, nullptr), EINVAL);
  bad = {0, -1};
  EXPECT_ERRNO(syscall(SYS_nanosleep, &bad, nullptr), EINVAL);
  bad = {-1, 0};
  EXPECT_ERRNO(syscall(SYS_nanosleep, &bad, nullptr), EINVAL);
  EXPECT_ERRNO(syscall(SYS_nanosleep, kBadPtr, nullptr), EFAULT);
  // clock_nanosleep reports errors as its return value, not via errno.
  bad = {0, 1000000000};
  EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, nullptr),
            -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr), EINVAL);
  struct timespec ok = {0, 1};
  EXPECT_EQ(clock_nanosleep(100, 0, &ok, nullptr), EINVAL);
}

// ---- getrandom -----------------------------------------------------------

TEST(GetrandomTest, FillsTheBuffer) {
  unsigned char buf[256];
  memset(buf, 0, sizeof(buf));
  ASSERT_EQ(getrandom(buf, sizeof(buf), 0), static_cast<ssize_t>(sizeof(buf)));
  int zeros = 0;
  for (unsigned char c : buf) zeros += c == 0;
  EXPECT_LT(zeros, 32);  // ~1 expected; all-zero means nothing was written
  unsigned char again[256];
  ASSERT_EQ(getrandom(again, sizeof(again), GRND_NONBLOCK),
            static_cast<ssize_t>(sizeof(again)));
  EXPECT_NE(memcmp(buf, again, sizeof(buf)), 0);
  EXPECT_EQ(getrandom(buf, 0, 0), 0);
  EXPECT_EQ(getrandom(buf, 16, GRND_RANDOM | GRND_NONBLOCK), 16);
}

TEST(GetrandomTest, BadFlagsAreEINVAL) {
  unsigned char buf[16];
  EXPECT_ERRNO(syscall(SYS_getrandom, buf, sizeof(buf), 0x100), EINVAL);
  // GRND_INSECURE and GRND_RANDOM are mutually exclusive.
  EXPECT_ERRNO(
      syscall(SYS_getrandom, buf, sizeof(buf), GRND_INSECURE | GRND_RANDOM),
      EINVAL);
}

TEST(GetrandomTest, BadBufferIsEFAULT) {
  EXPECT_ERRNO(syscall(SYS_getrandom, kBadPtr, 16, 0), EFAULT);
}

// ---- scheduler affinity --------------------------------------------------

TEST(AffinityTest, ReturnsTheKernelMaskSize) {
  unsigned long mask[16];
  memset(mask, 0, sizeof(mask));
  // The raw syscall returns how many bytes of mask the kernel wrote.
  const long n = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
  ASSERT_GT(n, 0) << ErrnoName(errno);
  EXPECT_EQ(n % sizeof(unsigned long), 0u);
  EXPECT_LE(n, static_cast<long>(sizeof(mask)));
  int cpus = 0;
  for (unsigned long word : mask) cpus += __builtin_popcountl(word);
  EXPECT_GE(cpus, 1);
  // The glibc view agrees.
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(CPU_COUNT(&set), cpus);
  // Our own pid is the same as 0.
  EXPECT_EQ(syscall(SYS_sched_getaffinity, getpid(), sizeof(mask), mask), n);
}

TEST(AffinityTest, Errors) {
  unsigned long mask[16];
  // Too small to hold the kernel's mask, or not a multiple of a word.
  EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 0, mask), EINVAL);
  EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 4, mask), EINVAL);
  EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, sizeof(mask) - 1, mask),
               EINVAL);
  EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, sizeof(mask), kBadPtr),
               EFAULT);
  EXPECT_ERRNO(syscall(SYS_sched_getaffinity, INT32_MAX, sizeof(mask), mask),
               ESRCH);
}

// ---- arch_prctl / set_tid_address ----------------------------------------

TEST(ArchPrctlTest, GetFsIsTheThreadPointer) {
  uintptr_t fs = 0;
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs), 0);
  EXPECT_NE(fs, 0u);
  // On x86-64 the TCB starts with a pointer to itself, read via %fs:0.
  uintptr_t self;
  asm volatile("mov %%fs:0, %0" : "=r"(self));
  EXPECT_EQ(self, fs);
  EXPECT_EQ(*reinterpret_cast<uintptr_t*>(fs), fs);
  // Setting it to its current value is harmless.
  EXPECT_EQ(syscall(SYS_arch_prctl, ARCH_SET_FS, fs), 0);
  uintptr_t again = 0;
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_GET_FS, &again), 0);
  EXPECT_EQ(again, fs);
}

TEST(ArchPrctlTest, Errors) {
  uintptr_t v;
  EXPECT_ERRNO(syscall(SYS_arch_prctl, 0x9999, &v), EINVAL);
  EXPECT_ERRNO(syscall(SYS_arch_prctl, ARCH_GET_FS, kBadPtr), EFAULT);
  // A non-canonical base is refused rather than faulting later.
  EXPECT_ERRNO(syscall(SYS_arch_prctl, ARCH_SET_GS, 0x8000000000000000ull),
               EPERM);
}

// clear_child_tid target: static, so it stays valid until the process exits.
pid_t tid_slot;

TEST(SetTidAddressTest, ReturnsTheTid) {
  EXPECT_EQ(syscall(SYS_set_tid_address, &tid_slot), syscall(SYS_gettid));
}

// ---- rt_sigaction / rt_sigprocmask ---------------------------------------

// The kernel's struct sigaction on x86-64 (differs from glibc's layout).
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

constexpr uint64_t Bit(int sig) { return 1ull << (sig - 1); }

TEST(SigactionTest, RoundTrip) {
  // Dispositions set to SIG_IGN survive execve, so the starting state is
  // whatever the launcher left: remember it and put it back.
  KernelSigaction old{};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &old, 8), 0);

  KernelSigaction act{};
  act.handler = reinterpret_cast<void*>(SIG_IGN);
  act.flags = SA_RESTART | SA_NODEFER;
  act.mask = Bit(SIGUSR2) | Bit(SIGTERM) | Bit(SIGKILL) | Bit(SIGSTOP);
  KernelSigaction prev{};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, &act, &prev, 8), 0);
  EXPECT_EQ(prev.handler, old.handler);
  EXPECT_EQ(prev.flags, old.flags);
  EXPECT_EQ(prev.mask, old.mask);

  KernelSigaction got{};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &got, 8), 0);
  EXPECT_EQ(got.handler, reinterpret_cast<void*>(SIG_IGN));
  EXPECT_EQ(got.flags, static_cast<unsigned long>(SA_RESTART | SA_NODEFER));
  // SIGKILL and SIGSTOP can never be blocked, so they are dropped from the
  // handler mask.
  EXPECT_EQ(got.mask, Bit(SIGUSR2) | Bit(SIGTERM));

  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, &old, nullptr, 8), 0);
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &got, 8), 0);
  EXPECT_EQ(got.handler, old.handler);
}

TEST(SigactionTest, Errors) {
  KernelSigaction act{};
  act.handler = reinterpret_cast<void*>(SIG_IGN);
  KernelSigaction old{};
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, &act, &old, 4), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, &act, &old, 16), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGKILL, &act, nullptr, 8), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGSTOP, &act, nullptr, 8), EINVAL);
  // Reading SIGKILL's action is allowed; only changing it is not.
  EXPECT_EQ(syscall(SYS_rt_sigaction, SIGKILL, nullptr, &old, 8), 0);
  EXPECT_EQ(old.handler, SIG_DFL);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, 0, nullptr, &old, 8), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, 65, nullptr, &old, 8), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, kBadPtr, nullptr, 8), EFAULT);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, kBadPtr, 8), EFAULT);
}

TEST(SigprocmaskTest, RoundTrip) {
  uint64_t orig = 0;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &orig, 8), 0);

  uint64_t set = Bit(SIGUSR1) | Bit(SIGUSR2), old = 0;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8), 0);
  EXPECT_EQ(old, orig);
  uint64_t now = 0;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, nullptr, &now, 8), 0);
  EXPECT_EQ(now, orig | set);

  uint64_t unblock = Bit(SIGUSR2);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &unblock, nullptr, 8), 0);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &now, 8), 0);
  EXPECT_EQ(now, (orig | Bit(SIGUSR1)) & ~Bit(SIGUSR2));

  // SIGKILL and SIGSTOP are silently left out of any mask.
  uint64_t everything = ~0ull;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &everything, nullptr, 8),
            0);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &now, 8), 0);
  EXPECT_EQ(now, ~(Bit(SIGKILL) | Bit(SIGSTOP)));

  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &orig, nullptr, 8), 0);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &now, 8), 0);
  EXPECT_EQ(now, orig);
}

TEST(SigprocmaskTest, Errors) {
  uint64_t before;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &before, 8), 0);
  uint64_t set = Bit(SIGUSR1), old;
  EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 4), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 16), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, 99, &set, &old, 8), EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, kBadPtr, nullptr, 8),
               EFAULT);
  EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, kBadPtr, 8),
               EFAULT);
  // None of these changed the mask.
  uint64_t now;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &now, 8), 0);
  EXPECT_EQ(now, before);
}

TEST(SigpendingTest, NothingPending) {
  uint64_t pending = ~0ull;
  ASSERT_EQ(syscall(SYS_rt_sigpending, &pending, 8), 0);
  EXPECT_EQ(pending, 0u);
  EXPECT_ERRNO(syscall(SYS_rt_sigpending, &pending, 16), EINVAL);
}

// ---- ioctl / unknown syscalls --------------------------------------------

TEST(IoctlTest, TerminalRequestOnRegularFileIsENOTTY) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  struct termios t;
  EXPECT_ERRNO(ioctl(fd.get(), TCGETS, &t), ENOTTY);
  EXPECT_ERRNO(ioctl(fd.get(), TIOCGWINSZ, &t), ENOTTY);
  EXPECT_EQ(isatty(fd.get()), 0);
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  EXPECT_ERRNO(ioctl(dir.get(), TCGETS, &t), ENOTTY);
  EXPECT_ERRNO(ioctl(9999, TCGETS, &t), EBADF);
}

TEST(IoctlTest, FionreadOnRegularFile) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  int avail = -1;
  ASSERT_EQ(ioctl(fd.get(), FIONREAD, &avail), 0) << ErrnoName(errno);
  EXPECT_EQ(avail, 13);
  ASSERT_EQ(lseek(fd.get(), 10, SEEK_SET), 10);
  ASSERT_EQ(ioctl(fd.get(), FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 3);
}

TEST(UnknownSyscallTest, IsENOSYS) {
  EXPECT_ERRNO(syscall(500), ENOSYS);
  EXPECT_ERRNO(syscall(1000), ENOSYS);
  // 400 lies in the unassigned gap below pidfd_send_signal (424). The numbers
  // just above rseq (334) are avoided: 335 is uretprobe since Linux 6.11 and
  // raises SIGILL when called from anywhere but a uretprobe trampoline.
  EXPECT_ERRNO(syscall(400), ENOSYS);
  EXPECT_ERRNO(syscall(-1), ENOSYS);
}

}  // namespace
}  // namespace cvisor::syscall_test
