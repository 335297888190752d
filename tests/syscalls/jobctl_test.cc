// Job control: stop signals and SIGCONT as a parent sees them through
// waitpid(WUNTRACED/WCONTINUED), waitid(WSTOPPED/WCONTINUED/WNOWAIT) and
// SIGCHLD (CLD_STOPPED/CLD_CONTINUED); handlers for SIGTSTP and SIGCONT;
// group stops of multi-threaded processes; orphaned process groups.
//
// Each child first moves into its own process group: Linux discards
// SIGTSTP/SIGTTIN/SIGTTOU sent to an orphaned process group, and whether the
// test program's own group is orphaned depends on how it was started (in
// the sandbox it is the init). A child alone in its group, whose parent is
// in another group of the same session, is never orphaned.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

constexpr size_t kSigsetSize = 8;

struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

constexpr uint64_t SigBit(int sig) { return uint64_t{1} << (sig - 1); }

uint64_t GetMask() {
  uint64_t mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask, kSigsetSize);
  return mask;
}

void SetMask(uint64_t mask) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, kSigsetSize);
}

void Block(int sig) {
  uint64_t mask = SigBit(sig);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &mask, nullptr, kSigsetSize);
}

uint64_t Pending() {
  uint64_t mask = 0;
  syscall(SYS_rt_sigpending, &mask, kSigsetSize);
  return mask;
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

int WaitidRetry(idtype_t type, id_t id, siginfo_t* info, int options) {
  int r;
  do {
    r = waitid(type, id, info, options);
  } while (r < 0 && errno == EINTR);
  return r;
}

std::string StatusString(int st) {
  if (WIFEXITED(st)) return "exited " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const char* name = sigabbrev_np(WTERMSIG(st));
    return std::string("killed by SIG") + (name ? name : "?");
  }
  if (WIFSTOPPED(st)) {
    const char* name = sigabbrev_np(WSTOPSIG(st));
    return std::string("stopped by SIG") + (name ? name : "?");
  }
  if (WIFCONTINUED(st)) return "continued";
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
  if (WIFSIGNALED(st) && WTERMSIG(st) == sig) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << StatusString(st) << ", want killed by SIG" << sigabbrev_np(sig);
}

::testing::AssertionResult StoppedBy(int st, int sig) {
  if (WIFSTOPPED(st) && WSTOPSIG(st) == sig) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << StatusString(st) << ", want stopped by SIG" << sigabbrev_np(sig);
}

[[noreturn]] void ChildFailed(int line, const char* expr) {
  const int err = errno;
  char buf[512];
  int n = snprintf(buf, sizeof buf,
                   "jobctl_test.cc:%d: child check failed: %s"
                   " (errno %s)\n",
                   line, expr, ErrnoName(err).c_str());
  if (n > 0) (void)!write(2, buf, static_cast<size_t>(n));
  _exit(100);
}
#define CHILD_CHECK(cond)                      \
  do {                                         \
    if (!(cond)) ChildFailed(__LINE__, #cond); \
  } while (0)

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
};

// Reads one byte, giving up after 30 s (returns '\0'), so that a child that
// wrongly stopped fails the test instead of hanging it.
char ReadByte(int fd) {
  struct pollfd pfd = {fd, POLLIN, 0};
  int ready;
  do {
    ready = poll(&pfd, 1, 30 * 1000);
  } while (ready < 0 && errno == EINTR);
  if (ready != 1) return '\0';
  char c = 0;
  ssize_t n;
  do {
    n = read(fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1 ? c : '\0';
}

bool WriteByte(int fd, char c) {
  ssize_t n;
  do {
    n = write(fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

// The child's reply pipe, for handlers running in a Worker.
int g_reply_fd = -1;

// Owns a forked child: SIGKILLs and reaps it at scope exit unless the test
// reaped it with Wait().
class ScopedReap final {
 public:
  explicit ScopedReap(pid_t pid) : pid_(pid) {}
  ScopedReap(const ScopedReap&) = delete;
  ScopedReap& operator=(const ScopedReap&) = delete;
  ~ScopedReap() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      WaitRetry(pid_, nullptr, 0);
    }
  }
  int Wait() {
    int st = -1;
    if (WaitRetry(pid_, &st, 0) != pid_) return -1;
    pid_ = -1;
    return st;
  }

 private:
  pid_t pid_;
};

// A child in its own process group that serves a few commands over pipes;
// the parent drives it while stopping and continuing it. Being blocked in
// read() while stopped also checks that the read resumes transparently.
//   'e' -> echo 'e' back        'x' -> exit 0
// The constructor returns once the child is running its loop (it has
// written 'r'), so signals sent afterwards find it in its own group.
class Worker final {
 public:
  // `setup` runs in the child before the loop (install handlers etc.).
  template <typename F>
  explicit Worker(F setup) {
    pid_ = fork();
    if (pid_ == 0) {
      CHILD_CHECK(setpgid(0, 0) == 0);
      g_reply_fd = reply_.w();
      setup();
      CHILD_CHECK(WriteByte(reply_.w(), 'r'));
      for (;;) {
        char c = 0;
        const ssize_t n = read(cmd_.r(), &c, 1);
        if (n < 0 && errno == EINTR) continue;  // a handler ran
        CHILD_CHECK(n == 1);
        if (c == 'x') _exit(0);
        CHILD_CHECK(WriteByte(reply_.w(), c));
      }
    }
    live_ = pid_ > 0;
    if (live_) {
      EXPECT_EQ(ReadByte(reply_.r()), 'r');
    }
  }
  Worker() : Worker([] {}) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() {
    if (live_) {
      kill(pid_, SIGKILL);
      WaitRetry(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Round trip through the child: proves it is running.
  bool Ping() {
    return WriteByte(cmd_.w(), 'e') && ReadByte(reply_.r()) == 'e';
  }
  // The next byte a handler in the child wrote to the reply pipe.
  char ReadReply() { return ReadByte(reply_.r()); }
  int reply_fd() const { return reply_.w(); }
  // Asks the child to exit and reaps it.
  int Finish() {
    if (!WriteByte(cmd_.w(), 'x')) return -1;
    return Wait();
  }
  int Wait() {
    int st = -1;
    if (WaitRetry(pid_, &st, 0) != pid_) return -1;
    live_ = false;
    return st;
  }

 private:
  Pipe cmd_, reply_;
  pid_t pid_ = -1;
  bool live_ = false;
};

// Saves the mask and every disposition; puts the mask back first so a
// leftover pending signal reaches the test's handler.
class JobControlTest : public ::testing::Test {
 protected:
  JobControlTest() {
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask_, kSigsetSize);
    for (int sig = 1; sig <= 64; sig++) {
      syscall(SYS_rt_sigaction, sig, nullptr, &actions_[sig], kSigsetSize);
    }
    SetMask(0);
  }
  ~JobControlTest() override {
    SetMask(mask_);
    for (int sig = 1; sig <= 64; sig++) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      syscall(SYS_rt_sigaction, sig, &actions_[sig], nullptr, kSigsetSize);
    }
  }

 private:
  uint64_t mask_ = 0;
  KernelSigaction actions_[65] = {};
};

void WriteHandlerByte(int sig) {
  const int saved = errno;
  const char c = sig == SIGCONT ? 'c' : 'h';
  (void)!write(g_reply_fd, &c, 1);
  errno = saved;
}

// ---- waitpid ---------------------------------------------------------------

TEST_F(JobControlTest, StopAndContinueReportedByWaitpid) {
  Worker child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  EXPECT_TRUE(StoppedBy(st, SIGSTOP));
  // Reported once.
  EXPECT_EQ(WaitRetry(child.pid(), &st, WUNTRACED | WNOHANG), 0);
  // Without WUNTRACED a stopped child is not reported at all.
  EXPECT_EQ(WaitRetry(child.pid(), &st, WNOHANG), 0);

  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  ASSERT_EQ(WaitRetry(child.pid(), &st, WCONTINUED), child.pid());
  EXPECT_TRUE(WIFCONTINUED(st)) << StatusString(st);
  EXPECT_EQ(WaitRetry(child.pid(), &st, WCONTINUED | WNOHANG), 0);
  // The read it was stopped in carried on as if nothing happened.
  EXPECT_TRUE(child.Ping());
  EXPECT_TRUE(ExitedWith(child.Finish(), 0));
}

TEST_F(JobControlTest, WaitidReportsStopAndContinueAndWnowaitKeepsThem) {
  Worker child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  siginfo_t info;
  for (int round = 0; round < 2; round++) {
    memset(&info, 0, sizeof info);
    ASSERT_EQ(WaitidRetry(P_PID, child.pid(), &info, WSTOPPED | WNOWAIT), 0);
    EXPECT_EQ(info.si_signo, SIGCHLD);
    EXPECT_EQ(info.si_code, CLD_STOPPED);
    EXPECT_EQ(info.si_pid, child.pid());
    EXPECT_EQ(info.si_uid, getuid());
    EXPECT_EQ(info.si_status, SIGSTOP);
  }
  memset(&info, 0, sizeof info);
  ASSERT_EQ(WaitidRetry(P_PID, child.pid(), &info, WSTOPPED), 0);
  EXPECT_EQ(info.si_code, CLD_STOPPED);
  // Consumed: WNOHANG now finds nothing and leaves si_pid zero.
  memset(&info, 0, sizeof info);
  ASSERT_EQ(WaitidRetry(P_PID, child.pid(), &info, WSTOPPED | WNOHANG), 0);
  EXPECT_EQ(info.si_pid, 0);

  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  memset(&info, 0, sizeof info);
  ASSERT_EQ(WaitidRetry(P_PID, child.pid(), &info, WCONTINUED | WNOWAIT), 0);
  EXPECT_EQ(info.si_code, CLD_CONTINUED);
  EXPECT_EQ(info.si_status, SIGCONT);
  EXPECT_EQ(info.si_pid, child.pid());
  memset(&info, 0, sizeof info);
  ASSERT_EQ(WaitidRetry(P_ALL, 0, &info, WCONTINUED), 0);
  EXPECT_EQ(info.si_code, CLD_CONTINUED);
  EXPECT_EQ(info.si_pid, child.pid());
  memset(&info, 0, sizeof info);
  ASSERT_EQ(WaitidRetry(P_PID, child.pid(), &info, WCONTINUED | WNOHANG), 0);
  EXPECT_EQ(info.si_pid, 0);

  EXPECT_TRUE(child.Ping());
  EXPECT_TRUE(ExitedWith(child.Finish(), 0));
}

TEST_F(JobControlTest, StoppedChildDiesOfSigkill) {
  Worker child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  ASSERT_TRUE(StoppedBy(st, SIGSTOP));
  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGKILL));
}

TEST_F(JobControlTest, FatalSignalWaitsForSigcontInAStoppedChild) {
  // Only SIGKILL acts on a stopped process. A fatal SIGTERM is not
  // short-cut into a group exit here: Linux's complete_signal() finds no
  // thread that wants the signal (they are all stopped), so it waits in the
  // shared queue until SIGCONT, and only then kills.
  Worker child([] { signal(SIGTERM, SIG_DFL); });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  ASSERT_TRUE(StoppedBy(st, SIGSTOP));
  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  // Give a wrong implementation time to kill it (a slow machine can only
  // make this check weaker, never fail it).
  SleepMs(50);
  EXPECT_EQ(WaitRetry(child.pid(), &st, WNOHANG), 0) << StatusString(st);
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  EXPECT_TRUE(KilledBy(child.Wait(), SIGTERM));
}

TEST_F(JobControlTest, HandledSignalWaitsForSigcont) {
  // A signal with a handler is left pending while the process is stopped
  // and runs once SIGCONT resumes it.
  Worker child([] {
    struct sigaction sa = {};
    sa.sa_handler = WriteHandlerByte;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  ASSERT_TRUE(StoppedBy(st, SIGSTOP));
  ASSERT_EQ(kill(child.pid(), SIGUSR1), 0);
  // Still stopped: no continue report and nothing from the handler.
  EXPECT_EQ(WaitRetry(child.pid(), &st, WCONTINUED | WNOHANG), 0);
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  EXPECT_EQ(child.ReadReply(), 'h');
  EXPECT_TRUE(ExitedWith(child.Finish(), 0));
}

// ---- the stop signals ------------------------------------------------------

TEST_F(JobControlTest, SigtstpSigttinSigttouStopByDefault) {
  for (int sig : {SIGTSTP, SIGTTIN, SIGTTOU}) {
    Worker child([sig] { signal(sig, SIG_DFL); });
    ASSERT_GT(child.pid(), 0);
    ASSERT_EQ(kill(child.pid(), sig), 0);
    int st = 0;
    ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
    EXPECT_TRUE(StoppedBy(st, sig));
    ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
    EXPECT_TRUE(child.Ping());
    EXPECT_TRUE(ExitedWith(child.Finish(), 0));
  }
}

TEST_F(JobControlTest, SigstopStopsEvenWhenEverythingIsBlocked) {
  Worker child([] { SetMask(~uint64_t{0}); });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  EXPECT_TRUE(StoppedBy(st, SIGSTOP));
  // SIGCONT resumes the process even while it blocks SIGCONT (only the
  // handler would wait for the unblock).
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  EXPECT_TRUE(child.Ping());
  EXPECT_TRUE(ExitedWith(child.Finish(), 0));
}

TEST_F(JobControlTest, SigtstpWithHandlerRunsItInsteadOfStopping) {
  Worker child([] {
    struct sigaction sa = {};
    sa.sa_handler = WriteHandlerByte;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTSTP, &sa, nullptr);
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGTSTP), 0);
  EXPECT_EQ(child.ReadReply(), 'h');
  int st = 0;
  EXPECT_EQ(WaitRetry(child.pid(), &st, WUNTRACED | WNOHANG), 0);
  EXPECT_TRUE(child.Ping());
  EXPECT_TRUE(ExitedWith(child.Finish(), 0));
}

TEST_F(JobControlTest, SigcontHandlerRunsOnResume) {
  Worker child([] {
    struct sigaction sa = {};
    sa.sa_handler = WriteHandlerByte;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCONT, &sa, nullptr);
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  ASSERT_TRUE(StoppedBy(st, SIGSTOP));
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  EXPECT_EQ(child.ReadReply(), 'c');
  ASSERT_EQ(WaitRetry(child.pid(), &st, WCONTINUED), child.pid());
  EXPECT_TRUE(WIFCONTINUED(st)) << StatusString(st);
  // SIGCONT to a running process just runs the handler, and leaves no
  // continue report.
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  EXPECT_EQ(child.ReadReply(), 'c');
  EXPECT_EQ(WaitRetry(child.pid(), &st, WCONTINUED | WNOHANG), 0);
  EXPECT_TRUE(ExitedWith(child.Finish(), 0));
}

TEST_F(JobControlTest, SigcontDiscardsPendingStopAndStopDiscardsSigcont) {
  // The child blocks both, so they stay pending where it can look at them.
  Pipe go, result;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    CHILD_CHECK(setpgid(0, 0) == 0);
    Block(SIGTSTP);
    Block(SIGCONT);
    CHILD_CHECK(WriteByte(result.w(), 'r'));
    // Round 1: SIGTSTP then SIGCONT were sent.
    CHILD_CHECK(ReadByte(go.r()) == '1');
    const uint64_t after_cont = Pending();
    // Drop whatever is pending before round 2 (SIG_IGN flushes).
    signal(SIGCONT, SIG_IGN);
    signal(SIGTSTP, SIG_IGN);
    signal(SIGCONT, SIG_DFL);
    signal(SIGTSTP, SIG_DFL);
    CHILD_CHECK(WriteByte(result.w(), 'a'));
    // Round 2: SIGCONT then SIGTSTP were sent.
    CHILD_CHECK(ReadByte(go.r()) == '2');
    const uint64_t after_stop = Pending();
    signal(SIGTSTP, SIG_IGN);  // don't stop when it is unblocked
    char report[2] = {
        static_cast<char>((after_cont & SigBit(SIGTSTP) ? 1 : 0) |
                          (after_cont & SigBit(SIGCONT) ? 2 : 0)),
        static_cast<char>((after_stop & SigBit(SIGTSTP) ? 1 : 0) |
                          (after_stop & SigBit(SIGCONT) ? 2 : 0))};
    CHILD_CHECK(write(result.w(), report, 2) == 2);
    _exit(0);
  }
  ScopedReap reap(pid);
  EXPECT_EQ(ReadByte(result.r()), 'r');
  ASSERT_EQ(kill(pid, SIGTSTP), 0);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  ASSERT_TRUE(WriteByte(go.w(), '1'));
  EXPECT_EQ(ReadByte(result.r()), 'a');
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  ASSERT_EQ(kill(pid, SIGTSTP), 0);
  ASSERT_TRUE(WriteByte(go.w(), '2'));
  const char report[2] = {ReadByte(result.r()), ReadByte(result.r())};
  // SIGCONT removed the pending SIGTSTP (and is pending itself).
  EXPECT_EQ(report[0], 2);
  // SIGTSTP removed the pending SIGCONT.
  EXPECT_EQ(report[1], 1);
  EXPECT_TRUE(ExitedWith(reap.Wait(), 0));
}

TEST_F(JobControlTest, StopSignalsIgnoredInOrphanedProcessGroup) {
  // A new session's only group has no parent in the same session: it is
  // orphaned, and Linux drops SIGTSTP/SIGTTIN/SIGTTOU (default action) sent
  // to it, so a job that nobody could resume is never stopped. SIGSTOP
  // still stops it.
  Pipe ready, cmd, reply;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    CHILD_CHECK(setsid() == getpid());
    CHILD_CHECK(WriteByte(reply.w(), 'r'));
    for (;;) {
      const char c = ReadByte(cmd.r());
      if (c == 'x' || c == '\0') _exit(0);
      CHILD_CHECK(WriteByte(reply.w(), c));
    }
  }
  ScopedReap reap(pid);
  EXPECT_EQ(ReadByte(reply.r()), 'r');
  int st = 0;
  for (int sig : {SIGTSTP, SIGTTIN, SIGTTOU}) {
    ASSERT_EQ(kill(pid, sig), 0);
    // The child answers, so it is running.
    ASSERT_TRUE(WriteByte(cmd.w(), 'e'));
    // Wait for the answer, but notice at once if the child stopped instead.
    bool answered = false;
    for (int i = 0; i < 300 && !answered; i++) {
      struct pollfd pfd = {reply.r(), POLLIN, 0};
      answered = poll(&pfd, 1, 100) == 1;
      if (!answered && WaitRetry(pid, &st, WUNTRACED | WNOHANG) == pid) {
        ADD_FAILURE() << "child " << StatusString(st) << " after SIG"
                      << sigabbrev_np(sig);
        kill(pid, SIGCONT);
      }
    }
    EXPECT_EQ(ReadByte(reply.r()), 'e') << "after SIG" << sigabbrev_np(sig);
  }
  EXPECT_EQ(WaitRetry(pid, &st, WUNTRACED | WNOHANG), 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  ASSERT_EQ(WaitRetry(pid, &st, WUNTRACED), pid);
  EXPECT_TRUE(StoppedBy(st, SIGSTOP));
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  ASSERT_TRUE(WriteByte(cmd.w(), 'x'));
  EXPECT_TRUE(ExitedWith(reap.Wait(), 0));
}

// ---- multi-threaded stop ---------------------------------------------------

struct Counters {
  std::atomic<long> spinning{0};    // a thread in a tight user-space loop
  std::atomic<long> syscalling{0};  // the main thread, making syscalls
};

TEST_F(JobControlTest, StopHaltsEveryThread) {
  void* mem = mmap(nullptr, sizeof(Counters), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* counters = new (mem) Counters();
  Pipe ready;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    CHILD_CHECK(setpgid(0, 0) == 0);
    std::thread spinner([counters] {
      for (;;) counters->spinning.fetch_add(1, std::memory_order_relaxed);
    });
    CHILD_CHECK(WriteByte(ready.w(), 'r'));
    for (;;) {
      counters->syscalling.fetch_add(1, std::memory_order_relaxed);
      sched_yield();
    }
  }
  ScopedReap reap(pid);
  ASSERT_EQ(ReadByte(ready.r()), 'r');

  // Both threads make progress, within a generous bound.
  auto both_move = [&] {
    const long s0 = counters->spinning, c0 = counters->syscalling;
    const double deadline = MonotonicSeconds() + 20;
    while (MonotonicSeconds() < deadline) {
      if (counters->spinning > s0 && counters->syscalling > c0) return true;
      SleepMs(1);
    }
    return false;
  };
  ASSERT_TRUE(both_move());

  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(WaitRetry(pid, &st, WUNTRACED), pid);
  ASSERT_TRUE(StoppedBy(st, SIGSTOP));
  // The stop is reported only once every thread has stopped.
  const long s1 = counters->spinning, c1 = counters->syscalling;
  SleepMs(100);
  EXPECT_EQ(counters->spinning.load(), s1);
  EXPECT_EQ(counters->syscalling.load(), c1);

  ASSERT_EQ(kill(pid, SIGCONT), 0);
  EXPECT_TRUE(both_move());
  munmap(mem, sizeof(Counters));
}

// ---- SIGCHLD for stops ----------------------------------------------------

constexpr int kMaxInfos = 8;
siginfo_t g_infos[kMaxInfos];
std::atomic<int> g_sigchld_count{0};

void SigchldHandler(int, siginfo_t* info, void*) {
  const int i = g_sigchld_count.load();
  if (i < kMaxInfos) g_infos[i] = *info;
  g_sigchld_count = i + 1;
}

// Waits in rt_sigsuspend (SIGCHLD unblocked only there) for the n-th SIGCHLD.
void SuspendForSigchld(int n) {
  const uint64_t mask = GetMask() & ~SigBit(SIGCHLD);
  while (g_sigchld_count.load() < n) {
    syscall(SYS_rt_sigsuspend, &mask, kSigsetSize);
  }
}

TEST_F(JobControlTest, SigchldReportsStopAndContinue) {
  g_sigchld_count = 0;
  memset(g_infos, 0, sizeof g_infos);
  struct sigaction sa = {};
  sa.sa_sigaction = SigchldHandler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGCHLD, &sa, nullptr), 0);
  Block(SIGCHLD);

  Worker child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  SuspendForSigchld(1);
  EXPECT_EQ(g_infos[0].si_signo, SIGCHLD);
  EXPECT_EQ(g_infos[0].si_code, CLD_STOPPED);
  EXPECT_EQ(g_infos[0].si_pid, child.pid());
  EXPECT_EQ(g_infos[0].si_uid, getuid());
  EXPECT_EQ(g_infos[0].si_status, SIGSTOP);
  // The wait report is there as well.
  int st = 0;
  ASSERT_EQ(WaitRetry(child.pid(), &st, WUNTRACED), child.pid());
  EXPECT_TRUE(StoppedBy(st, SIGSTOP));

  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  SuspendForSigchld(2);
  EXPECT_EQ(g_infos[1].si_code, CLD_CONTINUED);
  EXPECT_EQ(g_infos[1].si_pid, child.pid());
  EXPECT_EQ(g_infos[1].si_status, SIGCONT);

  // A SIGTSTP stop reports that signal.
  ASSERT_EQ(kill(child.pid(), SIGTSTP), 0);
  SuspendForSigchld(3);
  EXPECT_EQ(g_infos[2].si_code, CLD_STOPPED);
  EXPECT_EQ(g_infos[2].si_status, SIGTSTP);
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  SuspendForSigchld(4);
  EXPECT_EQ(g_infos[3].si_code, CLD_CONTINUED);

  EXPECT_TRUE(child.Ping());
  EXPECT_TRUE(ExitedWith(child.Finish(), 0));
}

}  // namespace
}  // namespace cvisor::syscall_test
