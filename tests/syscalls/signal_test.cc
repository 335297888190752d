// Signals: rt_sigaction, delivery and siginfo, x86-64 signal frames
// (ucontext registers, mask and FP state), masks, alternate stacks,
// queueing, kill/tkill/tgkill/rt_sigqueueinfo, rt_sigsuspend and
// rt_sigtimedwait, default actions, faults, interrupted syscalls, SIGPIPE
// and SIGCHLD. Job control (stops, WUNTRACED) is in jobctl_test.cc.
//
// Every test runs under SignalTest, which saves the mask and all 64
// dispositions and puts them back afterwards; anything that could take the
// test process down (default actions, faults with no handler) runs in a
// forked child that reports through its exit status.
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

#if !defined(__x86_64__)
#error "signal_test.cc inspects x86-64 signal frames"
#endif

// ---- small helpers ---------------------------------------------------------

// The kernel's sigset_t is 64 bits; every rt_sig* call takes this size.
constexpr size_t kSigsetSize = 8;

// struct sigaction as rt_sigaction takes it on x86-64.
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

// From the kernel's uapi headers; glibc does not export it.
constexpr unsigned long kSaRestorer = 0x04000000;

constexpr uint64_t SigBit(int sig) { return uint64_t{1} << (sig - 1); }

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

long Tgkill(pid_t tgid, pid_t tid, int sig) {
  return syscall(SYS_tgkill, tgid, tid, sig);
}

uint64_t GetMask() {
  uint64_t mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask, kSigsetSize);
  return mask;
}

void SetMask(uint64_t mask) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, kSigsetSize);
}

uint64_t MaskOf(std::initializer_list<int> sigs) {
  uint64_t mask = 0;
  for (int sig : sigs) mask |= SigBit(sig);
  return mask;
}

void Block(std::initializer_list<int> sigs) {
  uint64_t mask = MaskOf(sigs);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &mask, nullptr, kSigsetSize);
}

void Unblock(std::initializer_list<int> sigs) {
  uint64_t mask = MaskOf(sigs);
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &mask, nullptr, kSigsetSize);
}

uint64_t Pending() {
  uint64_t mask = 0;
  syscall(SYS_rt_sigpending, &mask, kSigsetSize);
  return mask;
}

// rt_sigtimedwait without glibc in between (glibc may rewrite si_code).
long SigTimedWait(uint64_t set, siginfo_t* info, const struct timespec* ts) {
  return syscall(SYS_rt_sigtimedwait, &set, info, ts, kSigsetSize);
}

// Waits in rt_sigsuspend with `sig` unblocked until `done` reaches `n`. The
// caller keeps `sig` blocked, so a signal that came early stays pending and
// ends the first suspend: no lost wake-up.
template <typename Counter>
void SuspendUntil(const Counter& done, int n, int sig) {
  const uint64_t mask = GetMask() & ~SigBit(sig);
  while (done.load() < n) {
    syscall(SYS_rt_sigsuspend, &mask, kSigsetSize);
  }
}

double MonotonicSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

void SleepMs(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

pid_t WaitRetry(pid_t pid, int* status, int options) {
  pid_t r;
  do {
    r = waitpid(pid, status, options);
  } while (r < 0 && errno == EINTR);
  return r;
}

// Reads exactly n bytes a child sends, waiting at most 30 s for each part
// so that a child that died early fails the test instead of hanging it (the
// parent holds the pipe's write end too, so there is no EOF).
ssize_t ReadFromChild(int fd, void* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    struct pollfd pfd = {fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, 30 * 1000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 1) return -1;
    const ssize_t r = read(fd, static_cast<char*>(buf) + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

std::string StatusString(int st) {
  if (WIFEXITED(st)) return "exited " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const char* name = sigabbrev_np(WTERMSIG(st));
    return std::string("killed by SIG") + (name ? name : "?") +
           (WCOREDUMP(st) ? " (core dumped)" : "");
  }
  if (WIFSTOPPED(st)) return "stopped by " + std::to_string(WSTOPSIG(st));
  return "status " + std::to_string(st);
}

::testing::AssertionResult ExitedWith(int st, int code) {
  if (WIFEXITED(st) && WEXITSTATUS(st) == code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << StatusString(st) << ", want exit " << code;
}

::testing::AssertionResult KilledBy(int st, int sig) {
  if (WIFSIGNALED(st) && WTERMSIG(st) == sig && !WCOREDUMP(st)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << StatusString(st) << ", want killed by " << sigabbrev_np(sig)
         << " without core";
}

// Checks inside forked children, where gtest assertions would go unseen:
// print the failing line and exit 100.
[[noreturn]] void ChildFailed(int line, const char* expr) {
  const int err = errno;
  char buf[512];
  int n = snprintf(buf, sizeof buf,
                   "signal_test.cc:%d: child check failed: %s"
                   " (errno %s)\n",
                   line, expr, ErrnoName(err).c_str());
  if (n > 0) (void)!write(2, buf, static_cast<size_t>(n));
  _exit(100);
}
#define CHILD_CHECK(cond)                      \
  do {                                         \
    if (!(cond)) ChildFailed(__LINE__, #cond); \
  } while (0)

// A forked child running `body`, which returns the exit code. A child the
// test did not reap is SIGKILLed and reaped on destruction, so a failed
// assertion never leaves one behind.
class Child final {
 public:
  template <typename F>
  explicit Child(F body) {
    pid_ = fork();
    if (pid_ == 0) _exit(body());
    live_ = pid_ > 0;
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (live_) {
      kill(pid_, SIGKILL);
      WaitRetry(pid_, nullptr, 0);
    }
  }
  // Stays valid after the child is reaped (never used to signal it then).
  pid_t pid() const { return pid_; }
  // Reaps the child; returns its wait status, or -1 with errno.
  int Wait() {
    if (!live_) return -1;
    int st = -1;
    if (WaitRetry(pid_, &st, 0) != pid_) return -1;
    live_ = false;
    return st;
  }
  // For a child reaped some other way (wait4 by hand, SIGCHLD ignored).
  void Forget() { live_ = false; }

 private:
  pid_t pid_ = -1;
  bool live_ = false;
};

// A child that sends `sig` to `target` every `interval_ms` until destroyed.
// Interruption tests use it because a single signal could land before the
// syscall starts sleeping; a steady stream is sure to hit the sleep.
class SignalRepeater final {
 public:
  SignalRepeater(pid_t target, int sig, int interval_ms = 50)
      : child_([=] {
          for (;;) {
            kill(target, sig);
            SleepMs(interval_ms);
          }
          return 0;
        }) {}
  pid_t pid() const { return child_.pid(); }

 private:
  Child child_;
};

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0); }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int r() const { return fds[0]; }
  int w() const { return fds[1]; }
  void CloseRead() {
    close(fds[0]);
    fds[0] = -1;
  }
  void CloseWrite() {
    close(fds[1]);
    fds[1] = -1;
  }
};

// Anonymous shared memory that survives fork (for counters a child and the
// parent both see).
template <typename T>
class Shared final {
 public:
  Shared() {
    void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    ptr_ = new (p) T();
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  ~Shared() { munmap(ptr_, sizeof(T)); }
  T* operator->() { return ptr_; }
  T& operator*() { return *ptr_; }

 private:
  T* ptr_;
};

// ---- the recording handler -------------------------------------------------

// What one handler run saw.
struct HandlerRecord {
  int sig;
  siginfo_t info;
  pid_t tid;
  uint64_t mask_in_handler;  // rt_sigprocmask inside the handler
  uint64_t uc_mask;          // uc_sigmask: the mask sigreturn restores
  uintptr_t local_addr;  // a local's address: which stack the handler ran on
  int ss_flags;          // sigaltstack(NULL).ss_flags inside the handler
  void* uc_stack_sp;
  int depth;             // nesting depth of this run (1 = not nested)
  bool saw_own_pending;  // own signal pending after re-raising it
};

constexpr int kMaxRecords = 32;
HandlerRecord g_records[kMaxRecords];
std::atomic<int> g_next{0};  // slots claimed
std::atomic<int> g_done{0};  // runs finished
std::atomic<int> g_depth{0};
std::atomic<int> g_max_depth{0};
std::atomic<int> g_reraise{0};  // times the handler raises its signal again
std::atomic<int>* g_shared_count = nullptr;  // also bumped, if set

void ResetRecords() {
  memset(g_records, 0, sizeof g_records);
  g_next = 0;
  g_done = 0;
  g_depth = 0;
  g_max_depth = 0;
  g_reraise = 0;
  g_shared_count = nullptr;
}

void RecordingHandler(int sig, siginfo_t* info, void* ucv) {
  const int saved_errno = errno;
  auto* uc = static_cast<ucontext_t*>(ucv);
  const int depth = ++g_depth;
  if (depth > g_max_depth) g_max_depth = depth;
  const int i = g_next++;
  HandlerRecord* r = i < kMaxRecords ? &g_records[i] : nullptr;
  if (r != nullptr) {
    volatile char local = 0;
    r->sig = sig;
    r->info = *info;
    r->tid = Gettid();
    r->mask_in_handler = GetMask();
    memcpy(&r->uc_mask, &uc->uc_sigmask, sizeof r->uc_mask);
    r->local_addr = reinterpret_cast<uintptr_t>(&local);
    stack_t ss = {};
    r->ss_flags = sigaltstack(nullptr, &ss) == 0 ? ss.ss_flags : -1;
    r->uc_stack_sp = uc->uc_stack.ss_sp;
    r->depth = depth;
  }
  if (g_reraise > 0) {
    --g_reraise;
    raise(sig);
    if (r != nullptr) r->saw_own_pending = (Pending() & SigBit(sig)) != 0;
  }
  if (g_shared_count != nullptr) ++*g_shared_count;
  --g_depth;
  ++g_done;
  errno = saved_errno;
}

int Install(int sig, void (*fn)(int, siginfo_t*, void*), int flags,
            std::initializer_list<int> mask = {}) {
  struct sigaction sa = {};
  sa.sa_sigaction = fn;
  sa.sa_flags = flags | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  for (int s : mask) sigaddset(&sa.sa_mask, s);
  return sigaction(sig, &sa, nullptr);
}

int SetHandler(int sig, sighandler_t handler) {
  struct sigaction sa = {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, nullptr);
}

// ---- fixture ---------------------------------------------------------------

// Saves the mask and every disposition. Restores the mask first, so a
// signal a test left pending goes to the test's handler, not to a default
// action that would kill the test program; then the dispositions.
class ScopedSignalState final {
 public:
  ScopedSignalState() {
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask_, kSigsetSize);
    for (int sig = 1; sig <= 64; sig++) {
      syscall(SYS_rt_sigaction, sig, nullptr, &actions_[sig], kSigsetSize);
    }
  }
  ScopedSignalState(const ScopedSignalState&) = delete;
  ScopedSignalState& operator=(const ScopedSignalState&) = delete;
  ~ScopedSignalState() {
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask_, nullptr, kSigsetSize);
    for (int sig = 1; sig <= 64; sig++) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      syscall(SYS_rt_sigaction, sig, &actions_[sig], nullptr, kSigsetSize);
    }
  }

 private:
  uint64_t mask_ = 0;
  KernelSigaction actions_[65] = {};
};

class SignalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ResetRecords();
    SetMask(0);
  }
  void TearDown() override { ResetRecords(); }

  ScopedSignalState saved_;
};

// One suite per area; all share SignalTest's save and restore.
class SigactionTest : public SignalTest {};
class SiginfoTest : public SignalTest {};
class SignalFrameTest : public SignalTest {};
class SignalMaskTest : public SignalTest {};
class SigaltstackTest : public SignalTest {};
class SignalQueueTest : public SignalTest {};
class KillTest : public SignalTest {};
class SigwaitTest : public SignalTest {};
class DefaultActionTest : public SignalTest {};
class InterruptTest : public SignalTest {};
class SigpipeTest : public SignalTest {};
class SigchldTest : public SignalTest {};

// ---- rt_sigaction ----------------------------------------------------------

TEST_F(SigactionTest, ReadsBackOldAction) {
  struct sigaction sa = {};
  sa.sa_sigaction = RecordingHandler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);

  struct sigaction old = {};
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &old), 0);
  EXPECT_EQ(old.sa_sigaction, RecordingHandler);
  EXPECT_EQ(old.sa_flags & (SA_SIGINFO | SA_RESTART | SA_NODEFER |
                            SA_RESETHAND | SA_ONSTACK),
            SA_SIGINFO | SA_RESTART);
  EXPECT_TRUE(sigismember(&old.sa_mask, SIGUSR2));
  EXPECT_FALSE(sigismember(&old.sa_mask, SIGUSR1));

  // Replacing hands back the previous action in the same call.
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGUSR1, &ign, &old), 0);
  EXPECT_EQ(old.sa_sigaction, RecordingHandler);
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &old), 0);
  EXPECT_EQ(old.sa_handler, SIG_IGN);
}

TEST_F(SigactionTest, RawFieldsRoundTrip) {
  // The kernel keeps the restorer as given, strips SIGKILL/SIGSTOP from
  // sa_mask, and (since 5.11) drops flag bits it does not know, which is how
  // programs probe for flag support: SA_UNSUPPORTED (0x400) never reads back.
  constexpr unsigned long kSaUnsupported = 0x400;
  KernelSigaction act = {};
  act.handler = reinterpret_cast<void*>(RecordingHandler);
  act.flags = SA_SIGINFO | kSaRestorer | SA_ONSTACK | kSaUnsupported;
  act.restorer = reinterpret_cast<void*>(0x12345678);
  act.mask = MaskOf({SIGUSR2, SIGKILL, SIGSTOP, SIGRTMIN});
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, &act, nullptr, kSigsetSize), 0);
  KernelSigaction got = {};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &got, kSigsetSize), 0);
  EXPECT_EQ(got.handler, act.handler);
  EXPECT_EQ(got.flags,
            static_cast<unsigned long>(SA_SIGINFO | kSaRestorer | SA_ONSTACK));
  EXPECT_EQ(got.restorer, act.restorer);
  EXPECT_EQ(got.mask, MaskOf({SIGUSR2, SIGRTMIN}));
  // The fixture puts the real action back; this one is never delivered.
}

TEST_F(SigactionTest, Errors) {
  KernelSigaction act = {};
  act.handler = reinterpret_cast<void*>(SIG_IGN);
  KernelSigaction old = {};
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGKILL, &act, nullptr, kSigsetSize),
               EINVAL);
  EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGSTOP, &act, nullptr, kSigsetSize),
               EINVAL);
  // Reading SIGKILL's action is allowed; it is always SIG_DFL.
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGKILL, nullptr, &old, kSigsetSize), 0);
  EXPECT_EQ(old.handler, reinterpret_cast<void*>(SIG_DFL));
  for (int bad : {0, -1, 65, 1000}) {
    SCOPED_TRACE("signal " + std::to_string(bad));
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, bad, nullptr, &old, kSigsetSize),
                 EINVAL);
  }
  EXPECT_EQ(syscall(SYS_rt_sigaction, 64, nullptr, &old, kSigsetSize), 0);
  // glibc's wrapper forwards the kernel's answer.
  struct sigaction sa = {};
  sa.sa_handler = SIG_IGN;
  EXPECT_ERRNO(sigaction(SIGKILL, &sa, nullptr), EINVAL);
  EXPECT_ERRNO(sigaction(SIGSTOP, &sa, nullptr), EINVAL);
}

TEST_F(SigactionTest, SigsetSizeMustBeEight) {
  KernelSigaction old = {};
  uint64_t set = SigBit(SIGUSR1);
  uint64_t out = 0;
  siginfo_t info;
  struct timespec zero = {0, 0};
  for (size_t size : {size_t{4}, size_t{16}}) {
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &old, size),
                 EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &out, size),
                 EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigsuspend, &set, size), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigtimedwait, &set, &info, &zero, size),
                 EINVAL);
  }
  // rt_sigpending is the odd one: Linux accepts any size up to 8.
  EXPECT_ERRNO(syscall(SYS_rt_sigpending, &out, 16), EINVAL);
  EXPECT_EQ(syscall(SYS_rt_sigpending, &out, 4), 0);
}

// ---- siginfo of delivered signals -----------------------------------------

TEST_F(SiginfoTest, KillDeliversSiUserBeforeReturning) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  // POSIX: a signal a single-threaded process sends itself, unblocked, is
  // delivered before kill() returns.
  ASSERT_EQ(g_done.load(), 1);
  const HandlerRecord& r = g_records[0];
  EXPECT_EQ(r.sig, SIGUSR1);
  EXPECT_EQ(r.info.si_signo, SIGUSR1);
  EXPECT_EQ(r.info.si_code, SI_USER);
  EXPECT_EQ(r.info.si_pid, getpid());
  EXPECT_EQ(r.info.si_uid, getuid());
  EXPECT_EQ(r.tid, Gettid());
}

TEST_F(SiginfoTest, RaiseTkillTgkillDeliverSiTkill) {
  ASSERT_EQ(Install(SIGUSR2, RecordingHandler, 0), 0);
  ASSERT_EQ(raise(SIGUSR2), 0);
  ASSERT_EQ(syscall(SYS_tkill, Gettid(), SIGUSR2), 0);
  ASSERT_EQ(Tgkill(getpid(), Gettid(), SIGUSR2), 0);
  ASSERT_EQ(g_done.load(), 3);
  for (int i = 0; i < 3; i++) {
    const HandlerRecord& r = g_records[i];
    EXPECT_EQ(r.info.si_signo, SIGUSR2) << i;
    EXPECT_EQ(r.info.si_code, SI_TKILL) << i;
    EXPECT_EQ(r.info.si_pid, getpid()) << i;
    EXPECT_EQ(r.info.si_uid, getuid()) << i;
  }
}

TEST_F(SiginfoTest, SigqueueDeliversSiQueueWithValue) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  union sigval v;
  v.sival_ptr = reinterpret_cast<void*>(0x1234567890abcdefULL);
  ASSERT_EQ(sigqueue(getpid(), SIGUSR1, v), 0);
  ASSERT_EQ(g_done.load(), 1);
  const HandlerRecord& r = g_records[0];
  EXPECT_EQ(r.info.si_code, SI_QUEUE);
  EXPECT_EQ(r.info.si_pid, getpid());
  EXPECT_EQ(r.info.si_uid, getuid());
  EXPECT_EQ(r.info.si_value.sival_ptr, v.sival_ptr);
}

TEST_F(SiginfoTest, IgnoringDiscardsPendingButBlockedIgnoredSignalsQueue) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1});
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_NE(Pending() & SigBit(SIGUSR1), 0u);
  // Setting SIG_IGN throws away what is pending...
  ASSERT_EQ(SetHandler(SIGUSR1, SIG_IGN), 0);
  EXPECT_EQ(Pending() & SigBit(SIGUSR1), 0u);
  // ...but a blocked signal is queued even while ignored: the action may
  // change before it is unblocked (Linux sig_ignored()).
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_NE(Pending() & SigBit(SIGUSR1), 0u);
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Unblock({SIGUSR1});
  EXPECT_EQ(g_done.load(), 1);
  // Unblocked and ignored: dropped at once, never pending.
  ASSERT_EQ(SetHandler(SIGUSR1, SIG_IGN), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(Pending(), 0u);
}

// ---- signal frames (x86-64 ucontext) --------------------------------------

volatile greg_t g_seen_r12;
volatile greg_t g_seen_rip;
volatile uint16_t g_bytes_before_rip;

void R12Handler(int, siginfo_t*, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  g_seen_r12 = uc->uc_mcontext.gregs[REG_R12];
  g_seen_rip = uc->uc_mcontext.gregs[REG_RIP];
  uint16_t bytes;
  memcpy(&bytes, reinterpret_cast<const void*>(g_seen_rip - 2), 2);
  g_bytes_before_rip = bytes;
  uc->uc_mcontext.gregs[REG_R12] = 0x600dcafe;
  ++g_done;
}

TEST_F(SignalFrameTest, HandlerSeesAndEditsGeneralRegisters) {
  ASSERT_EQ(Install(SIGUSR1, R12Handler, 0), 0);
  long rax = SYS_tgkill;
  long r12_after = 0;
  // The signal is sent by a raw syscall so its frame is taken right after
  // the syscall instruction, with r12 holding a value we chose.
  asm volatile(
      "mov $0x5eed1234, %%r12\n\t"
      "syscall\n\t"
      "mov %%r12, %[after]\n\t"
      : "+a"(rax), [after] "=r"(r12_after)
      : "D"(static_cast<long>(getpid())), "S"(static_cast<long>(Gettid())),
        "d"(static_cast<long>(SIGUSR1))
      : "rcx", "r11", "r12", "memory");
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(rax, 0);  // tgkill's result survived the handler in rax
  EXPECT_EQ(g_seen_r12, 0x5eed1234);
  // The interrupted rip is just past the syscall instruction (0f 05).
  EXPECT_EQ(g_bytes_before_rip, 0x050f);
  // sigreturn loaded the register the handler wrote.
  EXPECT_EQ(r12_after, 0x600dcafe);
}

// Fault sites: each records the address of its faulting instruction and of
// the instruction after it, so a handler can check rip and skip the fault.
volatile uintptr_t g_fault_ip;
volatile uintptr_t g_resume_ip;

struct FaultRecord {
  int sig;
  siginfo_t info;
  greg_t rip;
  greg_t trapno;
  greg_t err;
  greg_t cr2;
  greg_t rbx;
};
FaultRecord g_fault;
std::atomic<int> g_faults{0};

// Records the fault and resumes after the faulting instruction by editing
// rip (for a trap, rip is already past it and is left alone).
void SkipFaultHandler(int sig, siginfo_t* info, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  greg_t* gregs = uc->uc_mcontext.gregs;
  g_fault.sig = sig;
  g_fault.info = *info;
  g_fault.rip = gregs[REG_RIP];
  g_fault.trapno = gregs[REG_TRAPNO];
  g_fault.err = gregs[REG_ERR];
  g_fault.cr2 = gregs[REG_CR2];
  g_fault.rbx = gregs[REG_RBX];
  gregs[REG_RIP] = static_cast<greg_t>(g_resume_ip);
  ++g_faults;
}

// movl $0x2a, (addr). rbx carries a marker the handler reads from the frame.
__attribute__((noinline)) void StoreFault(volatile void* addr) {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\t"
      "mov %%rax, %[fault]\n\t"
      "lea 2f(%%rip), %%rax\n\t"
      "mov %%rax, %[resume]\n\t"
      "mov $0x7777, %%ebx\n\t"
      "1: movl $0x2a, (%[addr])\n\t"
      "2:\n\t"
      : [fault] "=m"(g_fault_ip), [resume] "=m"(g_resume_ip)
      : [addr] "r"(addr)
      : "rax", "rbx", "memory");
}

__attribute__((noinline)) int LoadFault(volatile void* addr) {
  int value = -1;
  asm volatile(
      "lea 1f(%%rip), %%rax\n\t"
      "mov %%rax, %[fault]\n\t"
      "lea 2f(%%rip), %%rax\n\t"
      "mov %%rax, %[resume]\n\t"
      "mov $-1, %[value]\n\t"
      "1: movl (%[addr]), %[value]\n\t"
      "2:\n\t"
      :
      [fault] "=m"(g_fault_ip), [resume] "=m"(g_resume_ip), [value] "=&r"(value)
      : [addr] "r"(addr)
      : "rax", "memory");
  return value;
}

__attribute__((noinline)) void DivideByZero() {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\t"
      "mov %%rax, %[fault]\n\t"
      "lea 2f(%%rip), %%rax\n\t"
      "mov %%rax, %[resume]\n\t"
      "mov $1, %%eax\n\t"
      "xor %%edx, %%edx\n\t"
      "xor %%ecx, %%ecx\n\t"
      "1: idivl %%ecx\n\t"
      "2:\n\t"
      : [fault] "=m"(g_fault_ip), [resume] "=m"(g_resume_ip)
      :
      : "rax", "rcx", "rdx", "memory");
}

__attribute__((noinline)) void ExecuteUd2() {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\t"
      "mov %%rax, %[fault]\n\t"
      "lea 2f(%%rip), %%rax\n\t"
      "mov %%rax, %[resume]\n\t"
      "1: ud2\n\t"
      "2:\n\t"
      : [fault] "=m"(g_fault_ip), [resume] "=m"(g_resume_ip)
      :
      : "rax", "memory");
}

__attribute__((noinline)) void ExecuteInt3() {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\t"
      "mov %%rax, %[fault]\n\t"
      "lea 2f(%%rip), %%rax\n\t"
      "mov %%rax, %[resume]\n\t"
      "1: int3\n\t"
      "2:\n\t"
      : [fault] "=m"(g_fault_ip), [resume] "=m"(g_resume_ip)
      :
      : "rax", "memory");
}

// x86 exception vectors as reported in sigcontext.trapno.
constexpr greg_t kTrapDivide = 0;
constexpr greg_t kTrapBreakpoint = 3;
constexpr greg_t kTrapInvalidOp = 6;
constexpr greg_t kTrapPageFault = 14;
// Page-fault error code bits.
constexpr greg_t kPfPresent = 1;
constexpr greg_t kPfWrite = 2;
constexpr greg_t kPfUser = 4;

class FaultTest : public SignalTest {
 protected:
  void SetUp() override {
    SignalTest::SetUp();
    memset(&g_fault, 0, sizeof g_fault);
    g_faults = 0;
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) {
      ASSERT_EQ(Install(sig, SkipFaultHandler, 0), 0);
    }
  }
};

TEST_F(FaultTest, SegvMaperrAtUnmappedAddress) {
  // An address that was mapped a moment ago and is not any more.
  const long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(munmap(p, 2 * page), 0);
  auto* target = static_cast<char*>(p) + page + 0x123;

  StoreFault(target);
  ASSERT_EQ(g_faults.load(), 1);
  EXPECT_EQ(g_fault.sig, SIGSEGV);
  EXPECT_EQ(g_fault.info.si_signo, SIGSEGV);
  EXPECT_EQ(g_fault.info.si_code, SEGV_MAPERR);
  EXPECT_EQ(g_fault.info.si_addr, target);
  EXPECT_EQ(g_fault.rip, static_cast<greg_t>(g_fault_ip));
  EXPECT_EQ(g_fault.rbx, 0x7777);
  EXPECT_EQ(g_fault.trapno, kTrapPageFault);
  EXPECT_EQ(g_fault.cr2, reinterpret_cast<greg_t>(target));
  EXPECT_EQ(g_fault.err & (kPfPresent | kPfWrite | kPfUser),
            kPfWrite | kPfUser);

  // A read fault, recovered the same way.
  EXPECT_EQ(LoadFault(target), -1);
  ASSERT_EQ(g_faults.load(), 2);
  EXPECT_EQ(g_fault.info.si_code, SEGV_MAPERR);
  EXPECT_EQ(g_fault.info.si_addr, target);
  EXPECT_EQ(g_fault.err & (kPfPresent | kPfWrite | kPfUser), kPfUser);
}

TEST_F(FaultTest, SegvAccerrWritingReadOnlyPage) {
  const long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  auto* target = static_cast<char*>(p) + 64;
  StoreFault(target);
  ASSERT_EQ(g_faults.load(), 1);
  EXPECT_EQ(g_fault.info.si_code, SEGV_ACCERR);
  EXPECT_EQ(g_fault.info.si_addr, target);
  EXPECT_EQ(g_fault.rip, static_cast<greg_t>(g_fault_ip));
  EXPECT_EQ(g_fault.trapno, kTrapPageFault);
  // Not the present bit: it says whether the page had been populated (here
  // it has not, so Linux reports 6), not whether the mapping exists.
  EXPECT_EQ(g_fault.err & (kPfWrite | kPfUser), kPfWrite | kPfUser);
  EXPECT_EQ(*static_cast<volatile char*>(target), 0);  // still readable
  // PROT_NONE faults reads with SEGV_ACCERR too.
  ASSERT_EQ(mprotect(p, page, PROT_NONE), 0);
  EXPECT_EQ(LoadFault(target), -1);
  ASSERT_EQ(g_faults.load(), 2);
  EXPECT_EQ(g_fault.info.si_code, SEGV_ACCERR);
  EXPECT_EQ(g_fault.info.si_addr, target);
  munmap(p, page);
}

TEST_F(FaultTest, FpeIntdivFromIdivByZero) {
  DivideByZero();
  ASSERT_EQ(g_faults.load(), 1);
  EXPECT_EQ(g_fault.sig, SIGFPE);
  EXPECT_EQ(g_fault.info.si_code, FPE_INTDIV);
  EXPECT_EQ(g_fault.info.si_addr, reinterpret_cast<void*>(g_fault_ip));
  EXPECT_EQ(g_fault.rip, static_cast<greg_t>(g_fault_ip));
  EXPECT_EQ(g_fault.trapno, kTrapDivide);
}

TEST_F(FaultTest, IllIllopnFromUd2) {
  ExecuteUd2();
  ASSERT_EQ(g_faults.load(), 1);
  EXPECT_EQ(g_fault.sig, SIGILL);
  EXPECT_EQ(g_fault.info.si_code, ILL_ILLOPN);
  EXPECT_EQ(g_fault.info.si_addr, reinterpret_cast<void*>(g_fault_ip));
  EXPECT_EQ(g_fault.rip, static_cast<greg_t>(g_fault_ip));
  EXPECT_EQ(g_fault.trapno, kTrapInvalidOp);
}

TEST_F(FaultTest, TrapFromInt3ReportsRipAfterIt) {
  ExecuteInt3();
  ASSERT_EQ(g_faults.load(), 1);
  EXPECT_EQ(g_fault.sig, SIGTRAP);
  // int3 is a trap: the kernel sends a plain SI_KERNEL SIGTRAP and rip
  // already points past the one-byte instruction.
  EXPECT_EQ(g_fault.info.si_code, SI_KERNEL);
  EXPECT_EQ(g_fault.rip, static_cast<greg_t>(g_resume_ip));
  EXPECT_EQ(g_resume_ip - g_fault_ip, 1u);
  EXPECT_EQ(g_fault.trapno, kTrapBreakpoint);
}

sigjmp_buf g_jmp;

void LongjmpHandler(int, siginfo_t*, void*) {
  ++g_faults;
  siglongjmp(g_jmp, 1);
}

TEST_F(FaultTest, SiglongjmpOutOfHandler) {
  ASSERT_EQ(Install(SIGSEGV, LongjmpHandler, 0), 0);
  Block({SIGUSR2});
  const uint64_t before = GetMask();
  // With savemask the mask comes back as it was at sigsetjmp...
  if (sigsetjmp(g_jmp, 1) == 0) {
    StoreFault(kBadPtr);
    ADD_FAILURE() << "store to a bad pointer did not fault";
  }
  EXPECT_EQ(g_faults.load(), 1);
  EXPECT_EQ(GetMask(), before);
  // ...without it, the handler's mask (SIGSEGV blocked by delivery) stays.
  if (sigsetjmp(g_jmp, 0) == 0) {
    StoreFault(kBadPtr);
    ADD_FAILURE() << "store to a bad pointer did not fault";
  }
  EXPECT_EQ(g_faults.load(), 2);
  EXPECT_EQ(GetMask(), before | SigBit(SIGSEGV));
}

volatile uint64_t g_uc_mask_seen;

void EditMaskHandler(int, siginfo_t*, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  memcpy(const_cast<uint64_t*>(&g_uc_mask_seen), &uc->uc_sigmask, 8);
  // sigreturn installs whatever mask the frame holds.
  sigaddset(&uc->uc_sigmask, SIGUSR2);
  ++g_done;
}

TEST_F(SignalFrameTest, UcSigmaskIsMaskAtInterruptionAndIsRestored) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0, {SIGRTMIN}), 0);
  Block({SIGWINCH});
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].uc_mask, SigBit(SIGWINCH));
  EXPECT_EQ(g_records[0].mask_in_handler,
            MaskOf({SIGWINCH, SIGUSR1, SIGRTMIN}));
  EXPECT_EQ(GetMask(), SigBit(SIGWINCH));

  // Editing uc_sigmask changes the mask sigreturn restores.
  ASSERT_EQ(Install(SIGUSR1, EditMaskHandler, 0), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 2);
  EXPECT_EQ(g_uc_mask_seen, SigBit(SIGWINCH));
  EXPECT_EQ(GetMask(), MaskOf({SIGWINCH, SIGUSR2}));
}

struct FpSeen {
  bool fpregs_present;
  uint32_t frame_mxcsr;
  uint32_t frame_xmm0[4];
  uint32_t frame_xmm8[4];
  uint32_t frame_xmm15[4];
  uint32_t live_mxcsr;  // the handler's own MXCSR on entry
};
FpSeen g_fp;

constexpr uint32_t kDefaultMxcsr = 0x1f80;      // all exceptions masked, RN
constexpr uint32_t kInterruptedMxcsr = 0x5f80;  // round up
constexpr uint32_t kHandlerMxcsr = 0x7f80;      // round toward zero

void FpHandler(int, siginfo_t*, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  uint32_t live = 0;
  asm volatile("stmxcsr %0" : "=m"(live));
  g_fp.live_mxcsr = live;
  const fpregset_t fp = uc->uc_mcontext.fpregs;
  g_fp.fpregs_present = fp != nullptr;
  if (fp != nullptr) {
    g_fp.frame_mxcsr = fp->mxcsr;
    memcpy(g_fp.frame_xmm0, fp->_xmm[0].element, 16);
    memcpy(g_fp.frame_xmm8, fp->_xmm[8].element, 16);
    memcpy(g_fp.frame_xmm15, fp->_xmm[15].element, 16);
  }
  // Trash every SSE register and MXCSR, as a handler doing float work
  // would; sigreturn must put the interrupted values back.
  const uint32_t handler_mxcsr = kHandlerMxcsr;
  asm volatile(
      "pcmpeqd %%xmm0, %%xmm0\n\t"
      "pcmpeqd %%xmm1, %%xmm1\n\t"
      "pcmpeqd %%xmm2, %%xmm2\n\t"
      "pcmpeqd %%xmm3, %%xmm3\n\t"
      "pcmpeqd %%xmm4, %%xmm4\n\t"
      "pcmpeqd %%xmm5, %%xmm5\n\t"
      "pcmpeqd %%xmm6, %%xmm6\n\t"
      "pcmpeqd %%xmm7, %%xmm7\n\t"
      "pcmpeqd %%xmm8, %%xmm8\n\t"
      "pcmpeqd %%xmm9, %%xmm9\n\t"
      "pcmpeqd %%xmm10, %%xmm10\n\t"
      "pcmpeqd %%xmm11, %%xmm11\n\t"
      "pcmpeqd %%xmm12, %%xmm12\n\t"
      "pcmpeqd %%xmm13, %%xmm13\n\t"
      "pcmpeqd %%xmm14, %%xmm14\n\t"
      "pcmpeqd %%xmm15, %%xmm15\n\t"
      "ldmxcsr %0\n\t"
      :
      : "m"(handler_mxcsr)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  ++g_done;
}

TEST_F(SignalFrameTest, FpStateSurvivesHandlerAndIsInTheFrame) {
  ASSERT_EQ(Install(SIGUSR1, FpHandler, 0), 0);
  memset(&g_fp, 0, sizeof g_fp);
  alignas(16)
      const uint32_t in0[4] = {0x11111111, 0x22222222, 0x33333333, 0x44444444};
  alignas(16)
      const uint32_t in8[4] = {0xdeadbeef, 0x01234567, 0x89abcdef, 0xfeedface};
  alignas(16)
      const uint32_t in15[4] = {0xa5a5a5a5, 0x5a5a5a5a, 0x0f0f0f0f, 0xf0f0f0f0};
  alignas(16) uint32_t out0[4] = {};
  alignas(16) uint32_t out8[4] = {};
  alignas(16) uint32_t out15[4] = {};
  uint32_t saved_mxcsr = 0;
  asm volatile("stmxcsr %0" : "=m"(saved_mxcsr));
  const uint32_t mxcsr_in = kInterruptedMxcsr;
  uint32_t mxcsr_out = 0;
  long rax = SYS_tgkill;
  asm volatile(
      "movdqu (%[in0]), %%xmm0\n\t"
      "movdqu (%[in8]), %%xmm8\n\t"
      "movdqu (%[in15]), %%xmm15\n\t"
      "ldmxcsr %[mxcsr_in]\n\t"
      "syscall\n\t"
      "stmxcsr %[mxcsr_out]\n\t"
      "ldmxcsr %[saved]\n\t"
      "movdqu %%xmm0, (%[out0])\n\t"
      "movdqu %%xmm8, (%[out8])\n\t"
      "movdqu %%xmm15, (%[out15])\n\t"
      : "+a"(rax), [mxcsr_out] "=m"(mxcsr_out)
      : "D"(static_cast<long>(getpid())), "S"(static_cast<long>(Gettid())),
        "d"(static_cast<long>(SIGUSR1)), [in0] "r"(in0), [in8] "r"(in8),
        [in15] "r"(in15), [out0] "r"(out0), [out8] "r"(out8),
        [out15] "r"(out15), [mxcsr_in] "m"(mxcsr_in), [saved] "m"(saved_mxcsr)
      : "rcx", "r11", "xmm0", "xmm8", "xmm15", "memory");
  ASSERT_EQ(rax, 0);
  ASSERT_EQ(g_done.load(), 1);
  // The interrupted state came back.
  EXPECT_EQ(memcmp(out0, in0, 16), 0);
  EXPECT_EQ(memcmp(out8, in8, 16), 0);
  EXPECT_EQ(memcmp(out15, in15, 16), 0);
  EXPECT_EQ(mxcsr_out, kInterruptedMxcsr);
  // The frame held it.
  ASSERT_TRUE(g_fp.fpregs_present);
  EXPECT_EQ(g_fp.frame_mxcsr, kInterruptedMxcsr);
  EXPECT_EQ(memcmp(g_fp.frame_xmm0, in0, 16), 0);
  EXPECT_EQ(memcmp(g_fp.frame_xmm8, in8, 16), 0);
  EXPECT_EQ(memcmp(g_fp.frame_xmm15, in15, 16), 0);
  // Linux starts every handler with a clean FPU: default MXCSR.
  EXPECT_EQ(g_fp.live_mxcsr, kDefaultMxcsr);
}

void ExitHandler(int) { _exit(3); }

TEST_F(SignalFrameTest, HandlerWithoutRestorerIsFatal) {
  // On x86-64 the kernel needs SA_RESTORER to build a frame; without it the
  // setup fails and the process gets SIGSEGV before the handler runs.
  Child child([] {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    KernelSigaction act = {};
    act.handler = reinterpret_cast<void*>(ExitHandler);
    act.flags = 0;
    CHILD_CHECK(
        syscall(SYS_rt_sigaction, SIGUSR1, &act, nullptr, kSigsetSize) == 0);
    CHILD_CHECK(SetHandler(SIGSEGV, SIG_DFL) == 0);
    syscall(SYS_tgkill, getpid(), Gettid(), SIGUSR1);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGSEGV));
}

// ---- masks -----------------------------------------------------------------

TEST_F(SignalMaskTest, SignalBlockedDuringItsOwnHandler) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  g_reraise = 1;
  ASSERT_EQ(raise(SIGUSR1), 0);
  // The raise inside the handler stayed pending until the handler returned,
  // then ran as a second, un-nested delivery.
  ASSERT_EQ(g_done.load(), 2);
  EXPECT_EQ(g_max_depth.load(), 1);
  EXPECT_NE(g_records[0].mask_in_handler & SigBit(SIGUSR1), 0u);
  EXPECT_EQ(g_records[0].uc_mask & SigBit(SIGUSR1), 0u);
  EXPECT_TRUE(g_records[0].saw_own_pending);
  EXPECT_EQ(GetMask(), 0u);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(SignalMaskTest, NodeferLetsTheHandlerNest) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, SA_NODEFER), 0);
  g_reraise = 1;
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 2);
  EXPECT_EQ(g_max_depth.load(), 2);
  EXPECT_EQ(g_records[0].mask_in_handler & SigBit(SIGUSR1), 0u);
  EXPECT_EQ(g_records[1].depth, 2);
  EXPECT_FALSE(g_records[0].saw_own_pending);
  EXPECT_EQ(GetMask(), 0u);
}

TEST_F(SignalMaskTest, SaMaskAppliesDuringHandlerOnly) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0, {SIGUSR2, SIGTERM}), 0);
  Block({SIGHUP});
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].mask_in_handler,
            MaskOf({SIGHUP, SIGUSR1, SIGUSR2, SIGTERM}));
  EXPECT_EQ(GetMask(), SigBit(SIGHUP));
}

TEST_F(SignalMaskTest, ResethandRestoresDefaultAfterOneDelivery) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, SA_RESETHAND), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 1);
  struct sigaction now = {};
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
  // Linux does not imply SA_NODEFER for SA_RESETHAND: the signal was still
  // blocked while its (one-shot) handler ran.
  EXPECT_NE(g_records[0].mask_in_handler & SigBit(SIGUSR1), 0u);
}

TEST_F(SignalMaskTest, SigprocmaskHowValues) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  EXPECT_FALSE(sigismember(&old, SIGUSR1));
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  EXPECT_TRUE(sigismember(&old, SIGUSR1));
  EXPECT_EQ(GetMask(), MaskOf({SIGUSR1, SIGUSR2}));
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_UNBLOCK, &set, nullptr), 0);
  EXPECT_EQ(GetMask(), SigBit(SIGUSR2));
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &set, &old), 0);
  EXPECT_TRUE(sigismember(&old, SIGUSR2));
  EXPECT_FALSE(sigismember(&old, SIGUSR1));
  EXPECT_EQ(GetMask(), SigBit(SIGTERM));
  EXPECT_ERRNO(sigprocmask(99, &set, nullptr), EINVAL);
  // With no new set, Linux never looks at `how`.
  uint64_t cur = 0;
  EXPECT_EQ(syscall(SYS_rt_sigprocmask, 99, nullptr, &cur, kSigsetSize), 0);
  EXPECT_EQ(cur, SigBit(SIGTERM));
}

TEST_F(SignalMaskTest, SigkillAndSigstopCannotBeBlocked) {
  const uint64_t all = ~uint64_t{0};
  ASSERT_EQ(
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, kSigsetSize), 0);
  const uint64_t got = GetMask();
  SetMask(0);
  EXPECT_EQ(got, all & ~MaskOf({SIGKILL, SIGSTOP}));

  // And a process that blocks everything still dies of SIGKILL.
  Pipe ready;
  Child child([&] {
    SetMask(all);
    (void)!write(ready.w(), "r", 1);
    for (;;) pause();
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  char c;
  ASSERT_EQ(ReadFromChild(ready.r(), &c, 1), 1);
  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGKILL));
}

TEST_F(SignalMaskTest, BlockedSignalPendsAndIsDeliveredOnUnblock) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1});
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  EXPECT_EQ(g_done.load(), 0);
  sigset_t pending;
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_TRUE(sigismember(&pending, SIGUSR1));
  EXPECT_FALSE(sigismember(&pending, SIGUSR2));
  // Delivered on the way out of the unblocking syscall.
  Unblock({SIGUSR1});
  EXPECT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].info.si_code, SI_USER);
  EXPECT_EQ(Pending(), 0u);
}

// ---- alternate signal stack ------------------------------------------------

constexpr size_t kAltStackSize = 256 * 1024;

// An mmap'd alternate stack, disabled and unmapped at scope exit.
class ScopedAltStack final {
 public:
  ScopedAltStack() {
    base_ = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(base_, MAP_FAILED);
    stack_t ss = {};
    ss.ss_sp = base_;
    ss.ss_size = kAltStackSize;
    EXPECT_EQ(sigaltstack(&ss, &old_), 0);
  }
  ScopedAltStack(const ScopedAltStack&) = delete;
  ScopedAltStack& operator=(const ScopedAltStack&) = delete;
  ~ScopedAltStack() {
    sigaltstack(&old_, nullptr);
    munmap(base_, kAltStackSize);
  }
  bool Contains(uintptr_t addr) const {
    auto b = reinterpret_cast<uintptr_t>(base_);
    return addr >= b && addr < b + kAltStackSize;
  }
  void* base() const { return base_; }

 private:
  void* base_;
  stack_t old_ = {};
};

std::atomic<int> g_altstack_errno{0};
std::atomic<int> g_altstack_disable_errno{0};

// Records, then tries to change the stack it is running on.
void AltStackHandler(int sig, siginfo_t* info, void* uc) {
  RecordingHandler(sig, info, uc);
  static char other[64 * 1024];
  stack_t ss = {};
  ss.ss_sp = other;
  ss.ss_size = sizeof other;
  errno = 0;
  g_altstack_errno = sigaltstack(&ss, nullptr) == 0 ? 0 : errno;
  ss.ss_flags = SS_DISABLE;
  errno = 0;
  g_altstack_disable_errno = sigaltstack(&ss, nullptr) == 0 ? 0 : errno;
}

TEST_F(SigaltstackTest, OnstackHandlerRunsOnTheAlternateStack) {
  ScopedAltStack alt;
  stack_t cur = {};
  ASSERT_EQ(sigaltstack(nullptr, &cur), 0);
  EXPECT_EQ(cur.ss_sp, alt.base());
  EXPECT_EQ(cur.ss_size, kAltStackSize);
  EXPECT_EQ(cur.ss_flags, 0);  // set up, not in use

  ASSERT_EQ(Install(SIGUSR1, AltStackHandler, SA_ONSTACK), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_TRUE(alt.Contains(g_records[0].local_addr));
  EXPECT_EQ(g_records[0].ss_flags, SS_ONSTACK);
  EXPECT_EQ(g_records[0].uc_stack_sp, alt.base());
  // The stack in use cannot be changed or disabled.
  EXPECT_EQ(g_altstack_errno.load(), EPERM);
  EXPECT_EQ(g_altstack_disable_errno.load(), EPERM);
  // Back on the normal stack afterwards, with the same alternate stack.
  ASSERT_EQ(sigaltstack(nullptr, &cur), 0);
  EXPECT_EQ(cur.ss_flags, 0);
  EXPECT_EQ(cur.ss_sp, alt.base());
  volatile char here = 0;
  EXPECT_FALSE(alt.Contains(reinterpret_cast<uintptr_t>(&here)));
}

TEST_F(SigaltstackTest, HandlerWithoutOnstackUsesTheNormalStack) {
  ScopedAltStack alt;
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_FALSE(alt.Contains(g_records[0].local_addr));
  EXPECT_EQ(g_records[0].ss_flags, 0);
}

TEST_F(SigaltstackTest, DisableAndErrors) {
  ScopedAltStack alt;
  stack_t ss = {};
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  stack_t cur = {};
  ASSERT_EQ(sigaltstack(nullptr, &cur), 0);
  EXPECT_EQ(cur.ss_flags, SS_DISABLE);
  // SA_ONSTACK with no alternate stack: the normal stack.
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, SA_ONSTACK), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_FALSE(alt.Contains(g_records[0].local_addr));
  EXPECT_EQ(g_records[0].ss_flags, SS_DISABLE);

  ss = {};
  ss.ss_sp = alt.base();
  // Below the kernel's fixed MINSIGSTKSZ (2048). glibc's MINSIGSTKSZ macro
  // is a sysconf() call sized for this CPU's XSAVE area, which can be larger
  // than what the kernel itself insists on.
  ss.ss_size = 1024;
  EXPECT_ERRNO(sigaltstack(&ss, nullptr), ENOMEM);
  ss.ss_size = kAltStackSize;
  ss.ss_flags = 0x10;
  EXPECT_ERRNO(sigaltstack(&ss, nullptr), EINVAL);
  ss.ss_flags = SS_ONSTACK;  // accepted for compatibility, same as 0
  EXPECT_EQ(sigaltstack(&ss, nullptr), 0);
  ASSERT_EQ(sigaltstack(nullptr, &cur), 0);
  EXPECT_EQ(cur.ss_flags, 0);
  EXPECT_EQ(cur.ss_sp, alt.base());
}

// Recurses until the stack runs out.
__attribute__((noinline)) int Recurse(int depth) {
  volatile char buf[1024];
  buf[0] = static_cast<char>(depth);
  if (depth > (1 << 30)) return buf[0];
  return Recurse(depth + 1) + buf[0];
}

void ExitOnSegv(int) { _exit(42); }

// Overflows the stack of a thread with a small stack and a large guard (so
// the kernel's frame, when it has nowhere else to go, lands in the guard
// rather than some other mapping).
int OverflowInThread(bool use_altstack) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  struct sigaction sa = {};
  sa.sa_handler = ExitOnSegv;
  sa.sa_flags = SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  CHILD_CHECK(sigaction(SIGSEGV, &sa, nullptr) == 0);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_attr_setguardsize(&attr, 256 * 1024);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    if (arg != nullptr) {
      // sigaltstack is per thread.
      static char alt[64 * 1024];
      stack_t ss = {};
      ss.ss_sp = alt;
      ss.ss_size = sizeof alt;
      CHILD_CHECK(sigaltstack(&ss, nullptr) == 0);
    }
    Recurse(0);
    return nullptr;
  };
  CHILD_CHECK(pthread_create(&thread, &attr, body,
                             use_altstack ? &attr : nullptr) == 0);
  pthread_join(thread, nullptr);
  return 1;
}

TEST_F(SigaltstackTest, StackOverflowIsHandledOnlyOnAnAlternateStack) {
  Child with([] { return OverflowInThread(true); });
  ASSERT_GT(with.pid(), 0);
  EXPECT_TRUE(ExitedWith(with.Wait(), 42));
  // With no room for a frame the kernel kills with SIGSEGV even though a
  // handler is installed.
  Child without([] { return OverflowInThread(false); });
  ASSERT_GT(without.pid(), 0);
  EXPECT_TRUE(KilledBy(without.Wait(), SIGSEGV));
}

// ---- queueing --------------------------------------------------------------

TEST_F(SignalQueueTest, StandardSignalsCoalesce) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1});
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  union sigval v = {};
  ASSERT_EQ(sigqueue(getpid(), SIGUSR1, v), 0);
  Unblock({SIGUSR1});
  // One per queue: the thread's (raise) and the process's (kill, sigqueue).
  EXPECT_EQ(g_done.load(), 2);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(SignalQueueTest, StandardSignalCoalescesWithinOneQueue) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1});
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  Unblock({SIGUSR1});
  EXPECT_EQ(g_done.load(), 1);
}

TEST_F(SignalQueueTest, RealtimeSignalsQueueInOrderWithValues) {
  const int sig = SIGRTMIN;
  ASSERT_EQ(Install(sig, RecordingHandler, 0), 0);
  Block({sig});
  for (int value : {101, 102, 103}) {
    union sigval v;
    v.sival_int = value;
    ASSERT_EQ(sigqueue(getpid(), sig, v), 0);
  }
  EXPECT_NE(Pending() & SigBit(sig), 0u);
  Unblock({sig});
  ASSERT_EQ(g_done.load(), 3);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(g_records[i].sig, sig);
    EXPECT_EQ(g_records[i].info.si_code, SI_QUEUE);
    EXPECT_EQ(g_records[i].info.si_value.sival_int, 101 + i);
  }
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(SignalQueueTest, LowestNumberedSignalDeliveredFirst) {
  // Each handler blocks the others, so one runs to completion before the
  // next is dequeued; otherwise Linux stacks a frame per pending signal and
  // the last dequeued runs first.
  const std::initializer_list<int> sigs = {SIGUSR1, SIGUSR2, SIGRTMIN,
                                           SIGRTMIN + 1};
  for (int s : sigs) {
    ASSERT_EQ(Install(s, RecordingHandler, 0, sigs), 0);
  }
  Block(sigs);
  // All through the process-wide queue, highest first.
  for (int s : {SIGRTMIN + 1, SIGUSR2, SIGRTMIN, SIGUSR1}) {
    union sigval v;
    v.sival_int = s;
    ASSERT_EQ(sigqueue(getpid(), s, v), 0);
  }
  Unblock(sigs);
  ASSERT_EQ(g_done.load(), 4);
  EXPECT_EQ(g_records[0].sig, SIGUSR1);
  EXPECT_EQ(g_records[1].sig, SIGUSR2);
  EXPECT_EQ(g_records[2].sig, SIGRTMIN);
  EXPECT_EQ(g_records[3].sig, SIGRTMIN + 1);
}

TEST_F(SignalQueueTest, ThreadQueueIsTakenBeforeProcessQueue) {
  // Linux (and gVisor) dequeue the thread's own pending signals first, so a
  // higher-numbered signal sent to the thread beats a lower one sent to the
  // process.
  const std::initializer_list<int> sigs = {SIGUSR1, SIGUSR2};
  for (int s : sigs) ASSERT_EQ(Install(s, RecordingHandler, 0, sigs), 0);
  Block(sigs);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  ASSERT_EQ(raise(SIGUSR2), 0);
  Unblock(sigs);
  ASSERT_EQ(g_done.load(), 2);
  EXPECT_EQ(g_records[0].sig, SIGUSR2);
  EXPECT_EQ(g_records[1].sig, SIGUSR1);
}

// ---- kill, tkill, tgkill, rt_sigqueueinfo ---------------------------------

TEST_F(KillTest, KillExistenceCheckAndErrors) {
  EXPECT_EQ(kill(getpid(), 0), 0);
  EXPECT_ERRNO(kill(getpid(), 65), EINVAL);
  EXPECT_ERRNO(kill(getpid(), -1), EINVAL);

  Child child([] { return 0; });
  ASSERT_GT(child.pid(), 0);
  // A zombie still exists for kill(), and signalling it succeeds.
  siginfo_t info = {};
  ASSERT_EQ(waitid(P_PID, child.pid(), &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(kill(child.pid(), 0), 0);
  EXPECT_EQ(kill(child.pid(), SIGTERM), 0);
  const pid_t pid = child.pid();
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));
  // Reaped: gone.
  EXPECT_ERRNO(kill(pid, 0), ESRCH);
  EXPECT_ERRNO(kill(pid, SIGUSR1), ESRCH);
  // A process group that does not exist.
  EXPECT_ERRNO(kill(-pid, 0), ESRCH);
  // kill(-1, ...) is deliberately not exercised: natively as root it would
  // signal every process on the machine.
}

TEST_F(KillTest, TkillAndTgkillErrors) {
  EXPECT_ERRNO(syscall(SYS_tkill, 0, SIGUSR1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_tkill, -5, SIGUSR1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_tkill, Gettid(), 65), EINVAL);
  EXPECT_ERRNO(Tgkill(0, Gettid(), SIGUSR1), EINVAL);
  EXPECT_ERRNO(Tgkill(getpid(), 0, SIGUSR1), EINVAL);
  EXPECT_ERRNO(Tgkill(getpid(), Gettid(), -1), EINVAL);
  EXPECT_EQ(Tgkill(getpid(), Gettid(), 0), 0);
  EXPECT_EQ(syscall(SYS_tkill, Gettid(), 0), 0);

  // A live thread of another process is not ours to name.
  Pipe hold;
  Child child([&] {
    hold.CloseWrite();  // so the parent's close means EOF
    char c;
    (void)!read(hold.r(), &c, 1);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_ERRNO(Tgkill(getpid(), child.pid(), 0), ESRCH);
  EXPECT_ERRNO(Tgkill(child.pid(), Gettid(), 0), ESRCH);
  EXPECT_EQ(Tgkill(child.pid(), child.pid(), 0), 0);
  hold.CloseWrite();
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));
}

TEST_F(KillTest, KillZeroSignalsTheCallersProcessGroup) {
  Child child([] {
    CHILD_CHECK(setpgid(0, 0) == 0);
    Block({SIGUSR1});  // inherited by the grandchild
    const pid_t sender = getpid();
    pid_t grandchild = fork();
    CHILD_CHECK(grandchild >= 0);
    if (grandchild == 0) {
      siginfo_t info = {};
      const int sig =
          static_cast<int>(SigTimedWait(SigBit(SIGUSR1), &info, nullptr));
      _exit(sig == SIGUSR1 && info.si_code == SI_USER && info.si_pid == sender
                ? 0
                : 1);
    }
    CHILD_CHECK(kill(0, SIGUSR1) == 0);
    // The sender belongs to the group too.
    CHILD_CHECK((Pending() & SigBit(SIGUSR1)) != 0);
    int st = 0;
    CHILD_CHECK(WaitRetry(grandchild, &st, 0) == grandchild);
    CHILD_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));
  // The test process is in another group and got nothing.
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(KillTest, KillNegativePgrpSignalsEveryMember) {
  Pipe ready;
  Child leader([&] {
    CHILD_CHECK(setpgid(0, 0) == 0);
    Block({SIGUSR2});
    pid_t member = fork();
    CHILD_CHECK(member >= 0);
    if (member == 0) {
      siginfo_t info = {};
      _exit(SigTimedWait(SigBit(SIGUSR2), &info, nullptr) == SIGUSR2 ? 0 : 1);
    }
    // The group now has both members.
    CHILD_CHECK(write(ready.w(), "r", 1) == 1);
    siginfo_t info = {};
    CHILD_CHECK(SigTimedWait(SigBit(SIGUSR2), &info, nullptr) == SIGUSR2);
    CHILD_CHECK(info.si_code == SI_USER);
    int st = 0;
    CHILD_CHECK(WaitRetry(member, &st, 0) == member);
    CHILD_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
  });
  ASSERT_GT(leader.pid(), 0);
  char c;
  ASSERT_EQ(ReadFromChild(ready.r(), &c, 1), 1);
  EXPECT_EQ(getpgid(leader.pid()), leader.pid());
  ASSERT_EQ(kill(-leader.pid(), SIGUSR2), 0);
  EXPECT_TRUE(ExitedWith(leader.Wait(), 0));
}

TEST_F(KillTest, UnprivilegedKillNeedsMatchingUidExceptSigcontInSession) {
  // The child drops to nobody, which only root can do.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change uid";
  Child child([] {
    const pid_t parent = getppid();
    CHILD_CHECK(setresgid(65534, 65534, 65534) == 0);
    CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
    errno = 0;
    CHILD_CHECK(kill(parent, 0) == -1 && errno == EPERM);
    errno = 0;
    CHILD_CHECK(kill(parent, SIGUSR1) == -1 && errno == EPERM);
    // SIGCONT is allowed to any process of the same session (the parent's
    // default SIGCONT action does nothing to a running process).
    CHILD_CHECK(kill(parent, SIGCONT) == 0);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));
}

// A thread that waits in rt_sigsuspend (nothing blocked) until a handler
// has run on it. With `block_first` it blocks SIGUSR1 before that, so only
// a signal aimed at it (or pending for the process) can end the wait. The
// tests install a SIGUSR1 handler first: if a test fails before signalling
// the thread, the destructor wakes it with SIGUSR1, so a failed ASSERT never
// leaves a joinable std::thread behind (std::terminate).
class SuspendedThread final {
 public:
  explicit SuspendedThread(bool block_first)
      : thread_([this, block_first] {
          if (block_first) Block({SIGUSR1});
          tid_ = Gettid();
          const uint64_t none = 0;
          syscall(SYS_rt_sigsuspend, &none, kSigsetSize);
          done_ = true;
        }) {
    while (tid_.load() == 0) sched_yield();
  }
  SuspendedThread(const SuspendedThread&) = delete;
  SuspendedThread& operator=(const SuspendedThread&) = delete;
  ~SuspendedThread() {
    if (!thread_.joinable()) return;
    while (!done_) {
      Tgkill(getpid(), tid_, SIGUSR1);
      SleepMs(10);
    }
    thread_.join();
  }
  pid_t tid() const { return tid_; }
  // Waits for the thread to finish after the test signalled it.
  void Join() { thread_.join(); }

 private:
  std::atomic<pid_t> tid_{0};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

TEST_F(KillTest, TgkillRunsTheHandlerOnTheNamedThread) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  SuspendedThread thread(/*block_first=*/true);
  ASSERT_EQ(Tgkill(getpid(), thread.tid(), SIGUSR1), 0);
  thread.Join();
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].tid, thread.tid());
  EXPECT_NE(g_records[0].tid, Gettid());
  EXPECT_EQ(g_records[0].info.si_code, SI_TKILL);
}

TEST_F(KillTest, ProcessSignalGoesToAThreadThatDoesNotBlockIt) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1});  // the main thread refuses it
  SuspendedThread thread(/*block_first=*/false);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  thread.Join();
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].tid, thread.tid());
  EXPECT_EQ(Pending(), 0u);
}

siginfo_t MakeInfo(int sig, int code, int value) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = sig;
  info.si_code = code;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = value;
  return info;
}

TEST_F(KillTest, RtSigqueueinfoCodeRules) {
  Pipe ready, report;
  Child child([&] {
    Block({SIGUSR1});
    CHILD_CHECK(write(ready.w(), "r", 1) == 1);
    siginfo_t info = {};
    CHILD_CHECK(SigTimedWait(SigBit(SIGUSR1), &info, nullptr) == SIGUSR1);
    int got[3] = {info.si_code, info.si_value.sival_int, info.si_pid};
    CHILD_CHECK(write(report.w(), got, sizeof got) == sizeof got);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  char c;
  ASSERT_EQ(ReadFromChild(ready.r(), &c, 1), 1);
  // To another process a caller may not claim a kernel (>= 0) code or
  // SI_TKILL.
  for (int code : {SI_USER, SI_KERNEL, SI_TKILL}) {
    SCOPED_TRACE("si_code " + std::to_string(code));
    siginfo_t info = MakeInfo(SIGUSR1, code, 1);
    EXPECT_ERRNO(syscall(SYS_rt_sigqueueinfo, child.pid(), SIGUSR1, &info),
                 EPERM);
  }
  siginfo_t bad = MakeInfo(65, SI_QUEUE, 1);
  EXPECT_ERRNO(syscall(SYS_rt_sigqueueinfo, child.pid(), 65, &bad), EINVAL);
  siginfo_t info = MakeInfo(SIGUSR1, SI_QUEUE, 4321);
  ASSERT_EQ(syscall(SYS_rt_sigqueueinfo, child.pid(), SIGUSR1, &info), 0);
  int got[3] = {};
  ASSERT_EQ(ReadFromChild(report.r(), got, sizeof got),
            static_cast<ssize_t>(sizeof got));
  EXPECT_EQ(got[0], SI_QUEUE);
  EXPECT_EQ(got[1], 4321);
  EXPECT_EQ(got[2], getpid());
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));

  // To itself a process may use any code, and the siginfo arrives as given.
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  siginfo_t self = MakeInfo(SIGUSR1, SI_USER, 0);
  self.si_pid = 4242;
  ASSERT_EQ(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &self), 0);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].info.si_code, SI_USER);
  EXPECT_EQ(g_records[0].info.si_pid, 4242);
}

TEST_F(KillTest, RtTgsigqueueinfoTargetsAThread) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  SuspendedThread thread(/*block_first=*/true);
  // The "not to someone else" rule compares the caller's tid with the
  // target tid, so even a sibling thread may not get a >= 0 code.
  siginfo_t forged = MakeInfo(SIGUSR1, SI_USER, 0);
  EXPECT_ERRNO(
      syscall(SYS_rt_tgsigqueueinfo, getpid(), thread.tid(), SIGUSR1, &forged),
      EPERM);
  siginfo_t info = MakeInfo(SIGUSR1, SI_QUEUE, 77);
  ASSERT_EQ(
      syscall(SYS_rt_tgsigqueueinfo, getpid(), thread.tid(), SIGUSR1, &info),
      0);
  thread.Join();
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].tid, thread.tid());
  EXPECT_EQ(g_records[0].info.si_code, SI_QUEUE);
  EXPECT_EQ(g_records[0].info.si_value.sival_int, 77);
  siginfo_t self = MakeInfo(SIGUSR1, SI_USER, 0);
  EXPECT_EQ(syscall(SYS_rt_tgsigqueueinfo, getpid(), Gettid(), SIGUSR1, &self),
            0);
  EXPECT_EQ(g_done.load(), 2);
}

// ---- rt_sigsuspend, rt_sigtimedwait ---------------------------------------

TEST_F(SigwaitTest, SigsuspendRunsHandlerReturnsEintrRestoresMask) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1, SIGUSR2});
  ASSERT_EQ(raise(SIGUSR1), 0);
  sigset_t during;
  sigemptyset(&during);
  sigaddset(&during, SIGUSR2);
  EXPECT_ERRNO(sigsuspend(&during), EINTR);
  ASSERT_EQ(g_done.load(), 1);
  // Inside the handler: the suspend mask plus the signal itself.
  EXPECT_EQ(g_records[0].mask_in_handler, MaskOf({SIGUSR1, SIGUSR2}));
  // The frame holds the mask from before sigsuspend, not the temporary one:
  // Linux saves it as saved_sigmask and that is what the frame restores, so
  // the original mask is back as soon as the handler returns.
  EXPECT_EQ(g_records[0].uc_mask, MaskOf({SIGUSR1, SIGUSR2}));
  EXPECT_EQ(GetMask(), MaskOf({SIGUSR1, SIGUSR2}));
}

TEST_F(SigwaitTest, SigsuspendWaitsForASignalFromAnotherProcess) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1});
  const pid_t parent = getpid();
  Child child([parent] {
    SleepMs(50);  // usually lands while the parent is suspended
    return kill(parent, SIGUSR1) == 0 ? 0 : 1;
  });
  ASSERT_GT(child.pid(), 0);
  const uint64_t none = 0;
  EXPECT_ERRNO(syscall(SYS_rt_sigsuspend, &none, kSigsetSize), EINTR);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].info.si_pid, child.pid());
  EXPECT_EQ(GetMask(), SigBit(SIGUSR1));
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));
}

TEST_F(SigwaitTest, SigtimedwaitTakesPendingSignalWithoutHandler) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Block({SIGUSR1, SIGUSR2});
  ASSERT_EQ(raise(SIGUSR1), 0);
  siginfo_t info = {};
  struct timespec ts = {5, 0};
  EXPECT_EQ(SigTimedWait(MaskOf({SIGUSR1, SIGUSR2}), &info, &ts), SIGUSR1);
  EXPECT_EQ(info.si_signo, SIGUSR1);
  EXPECT_EQ(info.si_code, SI_TKILL);
  EXPECT_EQ(info.si_pid, getpid());
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(g_done.load(), 0);
  EXPECT_EQ(GetMask(), MaskOf({SIGUSR1, SIGUSR2}));
  // The glibc wrappers.
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  EXPECT_EQ(sigwaitinfo(&set, &info), SIGUSR2);
  EXPECT_EQ(info.si_code, SI_USER);
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  int sig = 0;
  EXPECT_EQ(sigwait(&set, &sig), 0);
  EXPECT_EQ(sig, SIGUSR2);
  EXPECT_EQ(g_done.load(), 0);
}

TEST_F(SigwaitTest, SigtimedwaitTimeoutAndPoll) {
  Block({SIGUSR1});
  siginfo_t info;
  const struct timespec zero = {0, 0};
  EXPECT_ERRNO(SigTimedWait(SigBit(SIGUSR1), &info, &zero), EAGAIN);
  const struct timespec short_wait = {0, 50 * 1000 * 1000};
  const double start = MonotonicSeconds();
  EXPECT_ERRNO(SigTimedWait(SigBit(SIGUSR1), &info, &short_wait), EAGAIN);
  // Never early (timers only run late).
  EXPECT_GE(MonotonicSeconds() - start, 0.049);
  const struct timespec bad = {0, 1000 * 1000 * 1000};
  EXPECT_ERRNO(SigTimedWait(SigBit(SIGUSR1), &info, &bad), EINVAL);
  const struct timespec negative = {-1, 0};
  EXPECT_ERRNO(SigTimedWait(SigBit(SIGUSR1), &info, &negative), EINVAL);
  // A zero timeout polls: a pending signal is taken at once.
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(SigTimedWait(SigBit(SIGUSR1), nullptr, &zero), SIGUSR1);
}

TEST_F(SigwaitTest, SigtimedwaitTakesQueuedRealtimeSignalsInOrder) {
  const int sig = SIGRTMIN + 2;
  Block({sig});
  for (int v : {7, 8, 9}) {
    union sigval value;
    value.sival_int = v;
    ASSERT_EQ(sigqueue(getpid(), sig, value), 0);
  }
  const struct timespec zero = {0, 0};
  for (int v : {7, 8, 9}) {
    siginfo_t info = {};
    ASSERT_EQ(SigTimedWait(SigBit(sig), &info, &zero), sig);
    EXPECT_EQ(info.si_code, SI_QUEUE);
    EXPECT_EQ(info.si_value.sival_int, v);
  }
  siginfo_t info;
  EXPECT_ERRNO(SigTimedWait(SigBit(sig), &info, &zero), EAGAIN);
}

TEST_F(SigwaitTest, SigtimedwaitInterruptedByAnotherHandledSignal) {
  ASSERT_EQ(Install(SIGUSR2, RecordingHandler, 0), 0);
  Block({SIGUSR1});
  SignalRepeater repeater(getpid(), SIGUSR2);
  ASSERT_GT(repeater.pid(), 0);
  siginfo_t info;
  const struct timespec ts = {60, 0};
  EXPECT_ERRNO(SigTimedWait(SigBit(SIGUSR1), &info, &ts), EINTR);
  EXPECT_GE(g_done.load(), 1);
}

// ---- default actions (in children) ----------------------------------------

TEST_F(DefaultActionTest, SigtermKillsByDefault) {
  Pipe hold;
  Child child([&] {
    SetHandler(SIGTERM, SIG_DFL);
    char c;
    (void)!read(hold.r(), &c, 1);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGTERM));
}

TEST_F(DefaultActionTest, SigkillKills) {
  Pipe hold;
  Child child([&] {
    char c;
    (void)!read(hold.r(), &c, 1);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGKILL));
}

TEST_F(DefaultActionTest, SomeSignalsAreIgnoredByDefault) {
  Child child([] {
    for (int sig : {SIGCHLD, SIGURG, SIGWINCH, SIGCONT}) {
      CHILD_CHECK(SetHandler(sig, SIG_DFL) == 0);
      CHILD_CHECK(raise(sig) == 0);
      CHILD_CHECK(kill(getpid(), sig) == 0);
    }
    // Discarded when sent, never left pending.
    CHILD_CHECK(Pending() == 0);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));
}

TEST_F(DefaultActionTest, NullWriteKillsWithSigsegv) {
  Child child([] {
    // No core file natively either, so WCOREDUMP is false in both worlds.
    struct rlimit no_core = {0, 0};
    CHILD_CHECK(setrlimit(RLIMIT_CORE, &no_core) == 0);
    CHILD_CHECK(SetHandler(SIGSEGV, SIG_DFL) == 0);
    volatile int* p = nullptr;
    asm volatile("" : "+r"(p));  // keep the compiler from folding the store
    *p = 1;
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGSEGV));
}

TEST_F(DefaultActionTest, FaultKillsEvenWhenBlockedOrIgnored) {
  // A synchronous fault cannot be blocked or ignored: Linux force_sig
  // unblocks it and resets SIG_IGN to the default.
  for (bool ignore : {false, true}) {
    Child child([ignore] {
      struct rlimit no_core = {0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      if (ignore) {
        CHILD_CHECK(SetHandler(SIGSEGV, SIG_IGN) == 0);
      } else {
        CHILD_CHECK(SetHandler(SIGSEGV, SIG_DFL) == 0);
        Block({SIGSEGV});
      }
      volatile int* p = static_cast<volatile int*>(kBadPtr);
      asm volatile("" : "+r"(p));
      *p = 1;
      return 0;
    });
    ASSERT_GT(child.pid(), 0);
    EXPECT_TRUE(KilledBy(child.Wait(), SIGSEGV)) << "ignore=" << ignore;
  }
}

TEST_F(DefaultActionTest, IgnoredSigtermIsSurvived) {
  Child child([] {
    CHILD_CHECK(SetHandler(SIGTERM, SIG_IGN) == 0);
    CHILD_CHECK(raise(SIGTERM) == 0);
    CHILD_CHECK(kill(getpid(), SIGTERM) == 0);
    return 7;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(ExitedWith(child.Wait(), 7));
}

TEST_F(DefaultActionTest, BlockedFatalSignalKillsWhenUnblocked) {
  Pipe progress;
  Child child([&] {
    CHILD_CHECK(SetHandler(SIGTERM, SIG_DFL) == 0);
    Block({SIGTERM});
    CHILD_CHECK(raise(SIGTERM) == 0);
    CHILD_CHECK((Pending() & SigBit(SIGTERM)) != 0);
    CHILD_CHECK(write(progress.w(), "p", 1) == 1);  // survived while blocked
    Unblock({SIGTERM});
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  progress.CloseWrite();
  char c;
  EXPECT_EQ(read(progress.r(), &c, 1), 1);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGTERM));
}

TEST_F(DefaultActionTest, ExecKeepsIgnoredSignalsAndResetsHandlers) {
  // The shell signals itself with SIGTERM and exits 7 if it survives.
  auto run_shell = [](sighandler_t disposition) {
    Child child([disposition] {
      CHILD_CHECK(SetHandler(SIGTERM, disposition) == 0);
      execl("/bin/sh", "sh", "-c", "kill -TERM $$; exit 7", nullptr);
      return 127;
    });
    return child.pid() > 0 ? child.Wait() : -1;
  };
  EXPECT_TRUE(ExitedWith(run_shell(SIG_IGN), 7));
  EXPECT_TRUE(KilledBy(run_shell(ExitHandler), SIGTERM));
}

// ---- interrupted syscalls --------------------------------------------------

TEST_F(InterruptTest, PipeReadInterruptedWithoutSaRestart) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  Pipe p;
  SignalRepeater repeater(getpid(), SIGUSR1);
  ASSERT_GT(repeater.pid(), 0);
  char c;
  EXPECT_ERRNO(read(p.r(), &c, 1), EINTR);
  EXPECT_GE(g_done.load(), 1);
}

struct RestartShared {
  std::atomic<int> reading{0};
  std::atomic<int> handled{0};
};

TEST_F(InterruptTest, PipeReadRestartsWithSaRestart) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, SA_RESTART), 0);
  Shared<RestartShared> shared;
  g_shared_count = &shared->handled;
  Pipe p;
  const pid_t parent = getpid();
  Child writer([&] {
    while (shared->reading.load() == 0) SleepMs(1);
    // Three signals, each after the parent handled the one before, while
    // it sits in read(); then the data.
    const double deadline = MonotonicSeconds() + 20;
    for (int i = 0; i < 3; i++) {
      SleepMs(50);
      const int before = shared->handled.load();
      if (kill(parent, SIGUSR1) != 0) {
        (void)!write(p.w(), "k", 1);  // don't leave the parent hanging
        return 2;
      }
      while (shared->handled.load() == before) {
        if (MonotonicSeconds() > deadline) {
          (void)!write(p.w(), "t", 1);
          return 1;
        }
        SleepMs(1);
      }
    }
    CHILD_CHECK(write(p.w(), "x", 1) == 1);
    return 0;
  });
  ASSERT_GT(writer.pid(), 0);
  shared->reading = 1;
  char c = 0;
  EXPECT_EQ(read(p.r(), &c, 1), 1) << ErrnoName(errno);
  EXPECT_EQ(c, 'x');
  EXPECT_EQ(shared->handled.load(), 3);
  EXPECT_TRUE(ExitedWith(writer.Wait(), 0));
  g_shared_count = nullptr;
}

TEST_F(InterruptTest, NanosleepInterruptedReportsRemainingTime) {
  // Even with SA_RESTART: nanosleep returns EINTR when a handler runs.
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, SA_RESTART), 0);
  SignalRepeater repeater(getpid(), SIGUSR1);
  ASSERT_GT(repeater.pid(), 0);
  const struct timespec req = {30, 0};
  struct timespec rem = {-1, -1};
  EXPECT_ERRNO(nanosleep(&req, &rem), EINTR);
  EXPECT_GE(g_done.load(), 1);
  EXPECT_GE(rem.tv_sec, 0);
  EXPECT_LT(rem.tv_sec, 30);
  EXPECT_GE(rem.tv_nsec, 0);
  EXPECT_LT(rem.tv_nsec, 1000000000L);
  EXPECT_TRUE(rem.tv_sec > 0 || rem.tv_nsec > 0);
  // clock_nanosleep reports the error as its result.
  rem = {-1, -1};
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
  EXPECT_GT(rem.tv_sec, 0);
  EXPECT_LT(rem.tv_sec, 30);
}

TEST_F(InterruptTest, Wait4InterruptedWithoutSaRestart) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  // The child it waits for is the one sending the signals.
  SignalRepeater repeater(getpid(), SIGUSR1);
  ASSERT_GT(repeater.pid(), 0);
  int st;
  EXPECT_ERRNO(wait4(repeater.pid(), &st, 0, nullptr), EINTR);
  EXPECT_GE(g_done.load(), 1);
}

TEST_F(InterruptTest, Wait4RestartsWithSaRestart) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, SA_RESTART), 0);
  Shared<RestartShared> shared;
  g_shared_count = &shared->handled;
  const pid_t parent = getpid();
  Child child([&] {
    while (shared->reading.load() == 0) SleepMs(1);
    const double deadline = MonotonicSeconds() + 20;
    for (int i = 0; i < 3; i++) {
      SleepMs(50);
      const int before = shared->handled.load();
      CHILD_CHECK(kill(parent, SIGUSR1) == 0);
      while (shared->handled.load() == before) {
        if (MonotonicSeconds() > deadline) return 1;
        SleepMs(1);
      }
    }
    return 9;
  });
  ASSERT_GT(child.pid(), 0);
  shared->reading = 1;
  int st = -1;
  const pid_t got = wait4(child.pid(), &st, 0, nullptr);
  EXPECT_EQ(got, child.pid()) << ErrnoName(errno);
  if (got == child.pid()) {
    child.Forget();
    EXPECT_TRUE(ExitedWith(st, 9));
  }
  EXPECT_EQ(shared->handled.load(), 3);
  g_shared_count = nullptr;
}

TEST_F(InterruptTest, FutexWaitInterrupted) {
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, 0), 0);
  SignalRepeater repeater(getpid(), SIGUSR1);
  ASSERT_GT(repeater.pid(), 0);
  uint32_t word = 0;
  EXPECT_ERRNO(
      syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0),
      EINTR);
  EXPECT_GE(g_done.load(), 1);
}

TEST_F(InterruptTest, PollSelectPauseNeverRestart) {
  // SA_RESTART does not apply to these: Linux always returns EINTR.
  ASSERT_EQ(Install(SIGUSR1, RecordingHandler, SA_RESTART), 0);
  Pipe p;
  SignalRepeater repeater(getpid(), SIGUSR1);
  ASSERT_GT(repeater.pid(), 0);
  struct pollfd pfd = {p.r(), POLLIN, 0};
  EXPECT_ERRNO(poll(&pfd, 1, -1), EINTR);
  fd_set rfds;
  FD_ZERO(&rfds);
  FD_SET(p.r(), &rfds);
  EXPECT_ERRNO(select(p.r() + 1, &rfds, nullptr, nullptr, nullptr), EINTR);
  FD_ZERO(&rfds);
  FD_SET(p.r(), &rfds);
  struct timeval tv = {30, 0};
  EXPECT_ERRNO(select(p.r() + 1, &rfds, nullptr, nullptr, &tv), EINTR);
  EXPECT_ERRNO(pause(), EINTR);
  EXPECT_GE(g_done.load(), 4);
}

// ---- SIGPIPE ---------------------------------------------------------------

TEST_F(SigpipeTest, WriteToPipeWithoutReadersKillsWithSigpipe) {
  Pipe p;
  p.CloseRead();
  Child child([&] {
    CHILD_CHECK(SetHandler(SIGPIPE, SIG_DFL) == 0);
    (void)!write(p.w(), "x", 1);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGPIPE));
}

TEST_F(SigpipeTest, IgnoredOrHandledGivesEpipe) {
  Pipe p;
  p.CloseRead();
  ASSERT_EQ(SetHandler(SIGPIPE, SIG_IGN), 0);
  EXPECT_ERRNO(write(p.w(), "x", 1), EPIPE);
  ASSERT_EQ(Install(SIGPIPE, RecordingHandler, 0), 0);
  EXPECT_ERRNO(write(p.w(), "x", 1), EPIPE);
  ASSERT_EQ(g_done.load(), 1);
  EXPECT_EQ(g_records[0].sig, SIGPIPE);
  EXPECT_EQ(g_records[0].tid, Gettid());  // sent to the writing thread
}

// ---- SIGCHLD ---------------------------------------------------------------

TEST_F(SigchldTest, HandlerSeesExitAndKill) {
  ASSERT_EQ(Install(SIGCHLD, RecordingHandler, 0), 0);
  Block({SIGCHLD});
  {
    Child child([] { return 42; });
    ASSERT_GT(child.pid(), 0);
    SuspendUntil(g_done, 1, SIGCHLD);
    const HandlerRecord& r = g_records[0];
    EXPECT_EQ(r.info.si_signo, SIGCHLD);
    EXPECT_EQ(r.info.si_code, CLD_EXITED);
    EXPECT_EQ(r.info.si_pid, child.pid());
    EXPECT_EQ(r.info.si_uid, getuid());
    EXPECT_EQ(r.info.si_status, 42);
    EXPECT_TRUE(ExitedWith(child.Wait(), 42));
  }
  {
    Pipe hold;
    Child child([&] {
      char c;
      (void)!read(hold.r(), &c, 1);
      return 0;
    });
    ASSERT_GT(child.pid(), 0);
    ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
    SuspendUntil(g_done, 2, SIGCHLD);
    const HandlerRecord& r = g_records[1];
    EXPECT_EQ(r.info.si_code, CLD_KILLED);
    EXPECT_EQ(r.info.si_pid, child.pid());
    EXPECT_EQ(r.info.si_status, SIGKILL);
    EXPECT_TRUE(KilledBy(child.Wait(), SIGKILL));
  }
}

TEST_F(SigchldTest, NocldstopSuppressesStopAndContinueNotifications) {
  ASSERT_EQ(Install(SIGCHLD, RecordingHandler, SA_NOCLDSTOP), 0);
  Block({SIGCHLD});
  Pipe ready, cmd, reply;
  Child child([&] {
    CHILD_CHECK(write(ready.w(), "r", 1) == 1);
    char c;
    CHILD_CHECK(read(cmd.r(), &c, 1) == 1);  // stopped and resumed in here
    CHILD_CHECK(write(reply.w(), "k", 1) == 1);
    CHILD_CHECK(read(cmd.r(), &c, 1) == 1);
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  char c;
  ASSERT_EQ(ReadFromChild(ready.r(), &c, 1), 1);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  ASSERT_TRUE(WIFSTOPPED(st)) << StatusString(st);
  // The stop report was made; a SIGCHLD would be pending by now.
  EXPECT_EQ(Pending() & SigBit(SIGCHLD), 0u);
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  // Once the child answers it has run past the point where it would have
  // notified the parent of the continue.
  ASSERT_EQ(write(cmd.w(), "1", 1), 1);
  ASSERT_EQ(ReadFromChild(reply.r(), &c, 1), 1);
  EXPECT_EQ(Pending() & SigBit(SIGCHLD), 0u);
  ASSERT_EQ(write(cmd.w(), "2", 1), 1);
  EXPECT_TRUE(ExitedWith(child.Wait(), 0));
  // Exits are still reported.
  EXPECT_NE(Pending() & SigBit(SIGCHLD), 0u);
}

TEST_F(SigchldTest, IgnoredSigchldReapsChildren) {
  ASSERT_EQ(SetHandler(SIGCHLD, SIG_IGN), 0);
  Child a([] { return 1; });
  Child b([] { return 2; });
  ASSERT_GT(a.pid(), 0);
  ASSERT_GT(b.pid(), 0);
  // wait blocks until every child is gone, then finds none.
  const pid_t a_pid = a.pid();
  int st;
  EXPECT_ERRNO(WaitRetry(-1, &st, 0), ECHILD);
  a.Forget();
  b.Forget();
  // Linux's wait can return ECHILD while an auto-reaped child is EXIT_DEAD
  // but not yet released, so its pid may linger for a moment; it must go
  // away without anyone waiting for it.
  const double deadline = MonotonicSeconds() + 20;
  while (kill(a_pid, 0) == 0 && MonotonicSeconds() < deadline) SleepMs(1);
  EXPECT_ERRNO(kill(a_pid, 0), ESRCH);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(SigchldTest, NocldwaitReapsChildrenButStillSignals) {
  ASSERT_EQ(Install(SIGCHLD, RecordingHandler, SA_NOCLDWAIT), 0);
  Block({SIGCHLD});
  Child child([] { return 5; });
  ASSERT_GT(child.pid(), 0);
  int st;
  EXPECT_ERRNO(WaitRetry(child.pid(), &st, 0), ECHILD);
  const pid_t pid = child.pid();
  child.Forget();
  // On Linux the parent is still sent SIGCHLD (POSIX leaves it open).
  EXPECT_NE(Pending() & SigBit(SIGCHLD), 0u);
  SuspendUntil(g_done, 1, SIGCHLD);
  EXPECT_EQ(g_records[0].info.si_code, CLD_EXITED);
  EXPECT_EQ(g_records[0].info.si_pid, pid);
  EXPECT_EQ(g_records[0].info.si_status, 5);
}

}  // namespace
}  // namespace cvisor::syscall_test
