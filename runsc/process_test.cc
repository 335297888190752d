#include "runsc/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runsc/util.h"

namespace runsc {
namespace {

SpawnOptions Shell(const std::string& script) {
  SpawnOptions o;
  o.name = "test shell";
  o.path = "/bin/sh";
  o.argv = {"sh", "-c", script};
  o.env = {"PATH=/usr/bin:/bin"};
  o.fds = {{0, 0}, {1, 1}, {2, 2}};
  return o;
}

// Runs `script` with its stdout in a pipe; returns what it printed.
std::string Output(SpawnOptions o, ExitStatus* status = nullptr) {
  int p[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
  o.fds[1] = {p[1], 1};
  absl::StatusOr<Child> c = Child::Spawn(o);
  close(p[1]);
  EXPECT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> out = ReadAll(p[0], 1 << 20);
  close(p[0]);
  if (c.ok()) {
    absl::StatusOr<ExitStatus> s = c->Wait();
    EXPECT_TRUE(s.ok());
    if (status != nullptr && s.ok()) *status = *s;
  }
  return out.ok() ? *out : "";
}

TEST(ProcessTest, ExitCode) {
  absl::StatusOr<Child> c = Child::Spawn(Shell("exit 3"));
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<ExitStatus> s = c->Wait();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->signaled);
  EXPECT_EQ(s->code, 3);
  EXPECT_EQ(s->ShellStatus(), 3);
  EXPECT_EQ(s->ToString(), "exit status 3");
}

TEST(ProcessTest, KilledBySignal) {
  absl::StatusOr<Child> c = Child::Spawn(Shell("kill -USR1 $$"));
  ASSERT_TRUE(c.ok());
  absl::StatusOr<ExitStatus> s = c->Wait();
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->signaled);
  EXPECT_EQ(s->code, SIGUSR1);
  EXPECT_EQ(s->ShellStatus(), 128 + SIGUSR1);
  EXPECT_EQ(s->ToString(), "killed by signal 10 (SIGUSR1)");
}

TEST(ProcessTest, SignalAndTryWait) {
  absl::StatusOr<Child> c = Child::Spawn(Shell("while :; do sleep 1; done"));
  ASSERT_TRUE(c.ok());
  absl::StatusOr<std::optional<ExitStatus>> s = c->TryWait();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->has_value());
  ASSERT_TRUE(c->Signal(SIGTERM).ok());
  pollfd p{c->pidfd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  s = c->TryWait();
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->ShellStatus(), 128 + SIGTERM);
  EXPECT_TRUE(c->reaped());
  EXPECT_FALSE(c->Signal(SIGTERM).ok());
}

TEST(ProcessTest, OnlyMappedFdsAreInherited) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // deliberately not O_CLOEXEC: must still not leak
  int leak = dup(p[0]);
  SpawnOptions o = Shell("ls /proc/self/fd");
  o.fds.push_back({p[0], 3});
  std::string out = Output(o);
  // 0-3 plus the fd ls opens for reading the directory.
  EXPECT_THAT(out, ::testing::StartsWith("0\n1\n2\n3\n"));
  EXPECT_EQ(out.find(absl::StrCat("\n", leak, "\n")), std::string::npos) << out;
  close(p[0]);
  close(p[1]);
  close(leak);
}

TEST(ProcessTest, FdsAreMovedEvenWhenNumbersCross) {
  // Two pipes whose write ends sit at 8 and 9 and go to each other's number
  // (dash takes single-digit fds only).
  int a[2], b[2];
  ASSERT_EQ(pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(b, O_CLOEXEC), 0);
  ASSERT_LT(fcntl(8, F_GETFD), 0);
  ASSERT_LT(fcntl(9, F_GETFD), 0);
  ASSERT_EQ(dup3(a[1], 8, O_CLOEXEC), 8);
  ASSERT_EQ(dup3(b[1], 9, O_CLOEXEC), 9);
  SpawnOptions o = Shell("echo to-a >&9; echo to-b >&8");
  o.fds.push_back({8, 9});
  o.fds.push_back({9, 8});
  absl::StatusOr<Child> c = Child::Spawn(o);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->Wait().ok());
  for (int fd : {a[1], b[1], 8, 9}) close(fd);
  EXPECT_EQ(*ReadAll(a[0], 100), "to-a\n");
  EXPECT_EQ(*ReadAll(b[0], 100), "to-b\n");
  close(a[0]);
  close(b[0]);
}

TEST(ProcessTest, NewPidNamespaceAndSession) {
  SpawnOptions o = Shell("echo $$ $(cut -d' ' -f6 /proc/self/stat)");
  o.clone_flags = CLONE_NEWPID | CLONE_NEWNS;
  // $$ is 1: the shell is the namespace's init. /proc is still the host's,
  // so the session id read there is the child's host pid (it called setsid).
  ExitStatus s;
  std::string out = Output(o, &s);
  EXPECT_EQ(s.ShellStatus(), 0);
  EXPECT_THAT(out, ::testing::StartsWith("1 "));
}

TEST(ProcessTest, ExecFailureIsReported) {
  SpawnOptions o = Shell("true");
  o.path = "/nonexistent/binary";
  absl::StatusOr<Child> c = Child::Spawn(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "starting test shell: exec: No such file or directory");
}

TEST(ProcessTest, DroppingAChildKillsAndReapsIt) {
  pid_t pid;
  {
    // exec: no grandchild may outlive the test holding its output open.
    absl::StatusOr<Child> c = Child::Spawn(Shell("exec sleep 100"));
    ASSERT_TRUE(c.ok());
    pid = c->pid();
    ASSERT_EQ(kill(pid, 0), 0);
  }
  EXPECT_EQ(kill(pid, 0), -1);  // reaped, not a zombie
  EXPECT_EQ(errno, ESRCH);
}

TEST(ProcessTest, SignalMaskIsNotInherited) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  absl::StatusOr<Child> c = Child::Spawn(Shell("kill -TERM $$; exit 0"));
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  ASSERT_TRUE(c.ok());
  absl::StatusOr<ExitStatus> s = c->Wait();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ShellStatus(), 128 + SIGTERM);
}

}  // namespace
}  // namespace runsc
