// Processes: fork/vfork/clone, exit and wait4/waitid, execve with ELF and
// "#!" files, parentage. No signal handlers (delivery comes later).
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace {

using cvisor::syscall_test::Testdata;

// Runs `path` with `argv` in a forked child and returns its wait status, or
// 1000 + errno if execve failed.
int RunAndWait(const std::string& path, std::vector<const char*> argv) {
  argv.push_back(nullptr);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    char* const envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    execve(path.c_str(), const_cast<char* const*>(argv.data()), envp);
    int err = errno;
    (void)!write(p[1], &err, sizeof err);
    _exit(127);
  }
  close(p[1]);
  int err = 0;
  ssize_t n = read(p[0], &err, sizeof err);
  close(p[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return n == sizeof err ? 1000 + err : status;
}

TEST(ForkTest, ChildExitStatusReachesParent) {
  for (int code : {0, 1, 42, 255}) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(code);
    int status = -1;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), code);
  }
}

TEST(ForkTest, ChildSeesItsParent) {
  pid_t parent = getpid();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    pid_t ids[2] = {getppid(), getpid()};
    (void)!write(p[1], ids, sizeof ids);
    _exit(0);
  }
  pid_t ids[2] = {0, 0};
  ASSERT_EQ(read(p[0], ids, sizeof ids), static_cast<ssize_t>(sizeof ids));
  EXPECT_EQ(ids[0], parent);
  EXPECT_EQ(ids[1], pid);
  EXPECT_NE(pid, parent);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  close(p[0]);
  close(p[1]);
}

TEST(ForkTest, MemoryIsCopiedNotShared) {
  static volatile int value = 1;
  pid_t pid = fork();
  if (pid == 0) {
    value = 2;
    _exit(value == 2 ? 0 : 1);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(value, 1);
}

TEST(ForkTest, FileOffsetIsSharedAfterFork) {
  int fd = open(Testdata("file.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  pid_t pid = fork();
  if (pid == 0) {
    char buf[10];
    _exit(read(fd, buf, sizeof buf) == 10 ? 0 : 1);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The child's read moved the offset of the one open file description.
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 10);
  close(fd);
}

TEST(ForkTest, TwoHundredChildrenAllReaped) {
  std::set<pid_t> pids;
  for (int i = 0; i < 200; i++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(i % 256);
    pids.insert(pid);
  }
  std::set<int> codes;
  for (int i = 0; i < 200; i++) {
    int status;
    pid_t pid = wait(&status);
    ASSERT_GT(pid, 0);
    EXPECT_EQ(pids.erase(pid), 1u);
    ASSERT_TRUE(WIFEXITED(status));
    codes.insert(WEXITSTATUS(status));
  }
  EXPECT_EQ(codes.size(), 200u);
  EXPECT_TRUE(pids.empty());
  EXPECT_ERRNO(wait(nullptr), ECHILD);
}

TEST(VforkTest, ParentResumesAfterChildExits) {
  static volatile int marker = 0;
  pid_t pid = vfork();
  if (pid == 0) {
    marker = 7;  // the memory is shared until _exit
    _exit(3);
  }
  EXPECT_EQ(marker, 7);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(WaitTest, Errors) {
  EXPECT_ERRNO(waitpid(-1, nullptr, WNOHANG), ECHILD);
  EXPECT_ERRNO(waitpid(getpid(), nullptr, 0), ECHILD);
  EXPECT_ERRNO(syscall(SYS_wait4, -1, nullptr, 0x40000000 >> 4, nullptr),
               EINVAL);
  siginfo_t info;
  EXPECT_ERRNO(waitid(P_ALL, 0, &info, WNOHANG), EINVAL);  // no WEXITED
  EXPECT_ERRNO(waitid(P_PID, 0, &info, WEXITED), EINVAL);
}

TEST(WaitTest, NohangWhileChildRuns) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(p[1]);
    _exit(read(p[0], &c, 1) == 1 ? c : 99);
  }
  close(p[0]);
  int status = -1;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0);
  ASSERT_EQ(write(p[1], "\x05", 1), 1);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 5);
  close(p[1]);
}

TEST(WaitTest, WaitidReportsAndWnowaitKeeps) {
  pid_t pid = fork();
  if (pid == 0) _exit(9);
  siginfo_t info = {};
  ASSERT_EQ(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(info.si_signo, SIGCHLD);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, 9);
  EXPECT_EQ(info.si_uid, getuid());
  // WNOWAIT left it waitable.
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 9);
}

TEST(WaitTest, WaitidNohangZeroesPid) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(p[1]);
    (void)!read(p[0], &c, 1);
    _exit(0);
  }
  close(p[0]);
  siginfo_t info;
  info.si_pid = 12345;
  ASSERT_EQ(waitid(P_ALL, 0, &info, WEXITED | WNOHANG), 0);
  EXPECT_EQ(info.si_pid, 0);
  close(p[1]);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
}

TEST(ExecTest, RunsAnElfAndReportsItsStatus) {
  EXPECT_EQ(RunAndWait("/bin/true", {"true"}), 0);
  int st = RunAndWait("/bin/false", {"false"});
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 1);
}

TEST(ExecTest, Errors) {
  EXPECT_EQ(RunAndWait("/no/such/file", {"x"}), 1000 + ENOENT);
  EXPECT_EQ(RunAndWait(Testdata("file.txt"), {"x"}), 1000 + EACCES);
  EXPECT_EQ(RunAndWait(Testdata("dir"), {"x"}), 1000 + EACCES);
  EXPECT_EQ(RunAndWait(Testdata("file.txt/x"), {"x"}), 1000 + ENOTDIR);
}

TEST(ExecTest, ShebangScriptGetsInterpreterAndArgs) {
  EXPECT_EQ(RunAndWait(Testdata("exec.sh"), {"exec.sh"}), 0);
  // "#!/bin/sh -e": the script sees its own two arguments.
  int st = RunAndWait(Testdata("exit_argc.sh"), {"exit_argc.sh", "a", "b"});
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 42);
}

TEST(ExecTest, InterpreterChainTooDeep) {
  EXPECT_EQ(RunAndWait(Testdata("chain1.sh"), {"chain1.sh"}), 1000 + ELOOP);
  // Three levels of scripts are fine.
  EXPECT_EQ(RunAndWait(Testdata("chain4.sh"), {"chain4.sh"}), 0);
}

// execveat(dirfd, path, ..., flags) in a forked child: its wait status, or
// 1000 + errno.
int ExecveatAndWait(int dirfd, const char* path, int flags) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    const char* argv[] = {"true", nullptr};
    char* const envp[] = {nullptr};
    syscall(SYS_execveat, dirfd, path, argv, envp, flags);
    int err = errno;
    (void)!write(p[1], &err, sizeof err);
    _exit(127);
  }
  close(p[1]);
  int err = 0;
  ssize_t n = read(p[0], &err, sizeof err);
  close(p[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return n == sizeof err ? 1000 + err : status;
}

TEST(ExecTest, Execveat) {
  int dir = open("/usr/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(ExecveatAndWait(dir, "true", 0), 0);
  EXPECT_EQ(ExecveatAndWait(AT_FDCWD, "/usr/bin/true", 0), 0);
  // fexecve: AT_EMPTY_PATH runs the file the fd refers to.
  int file = open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  EXPECT_EQ(ExecveatAndWait(file, "", AT_EMPTY_PATH), 0);
  EXPECT_EQ(ExecveatAndWait(file, "", 0), 1000 + ENOENT);
  EXPECT_EQ(ExecveatAndWait(file, "true", 0), 1000 + ENOTDIR);
  EXPECT_EQ(ExecveatAndWait(dir, "true", 0x40000), 1000 + EINVAL);
  EXPECT_EQ(ExecveatAndWait(-1, "true", 0), 1000 + EBADF);
  // AT_SYMLINK_NOFOLLOW: a symlink as the last component is ELOOP.
  std::string link = "/dev/shm/cv-execveat-link";
  unlink(link.c_str());
  ASSERT_EQ(symlink("/usr/bin/true", link.c_str()), 0);
  EXPECT_EQ(ExecveatAndWait(AT_FDCWD, link.c_str(), AT_SYMLINK_NOFOLLOW),
            1000 + ELOOP);
  EXPECT_EQ(ExecveatAndWait(AT_FDCWD, link.c_str(), 0), 0);
  unlink(link.c_str());
  close(file);
  close(dir);
}

TEST(CloneTest, BadFlagCombinations) {
  // CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
  EXPECT_ERRNO(syscall(SYS_clone, CLONE_THREAD | SIGCHLD, 0, 0, 0, 0), EINVAL);
  EXPECT_ERRNO(syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0), EINVAL);
}

TEST(SessionTest, SetsidAndPgid) {
  pid_t pid = fork();
  if (pid == 0) {
    pid_t sid = setsid();
    bool ok = sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid();
    // A session leader cannot start another session.
    ok = ok && setsid() == -1 && errno == EPERM;
    _exit(ok ? 0 : 1);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_ERRNO(setpgid(0, -1), EINVAL);
}

}  // namespace
