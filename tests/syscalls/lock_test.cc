// Conformance: advisory locks — flock(2) (per open file description) and
// fcntl(2) record locks: classic POSIX locks (per process, dropped on any
// close of the file and at exit), OFD locks (per description), F_GETLK
// reporting, F_SETLKW sleeping and EDEADLK, plus leases/notify/seals
// answers. Works in a fresh directory under /dev/shm.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cvisor-lock-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << ErrnoName(errno);
    dir_ = tmpl;
    path_ = dir_ + "/f";
    int fd = open(path_.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 4096), 0);
    close(fd);
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  int Open(int flags = O_RDWR) { return open(path_.c_str(), flags); }

  std::string dir_, path_;
};

struct flock Range(short type, off_t start, off_t len,
                   short whence = SEEK_SET) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = whence;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

// Runs `fn` in a child process and returns its exit status (fn's return).
template <typename Fn>
int InChild(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The errno of a failed fcntl F_SETLK in a child (0 if it succeeded).
int ChildSetlkErrno(const std::string& path, struct flock fl) {
  return InChild([&] {
    int fd = open(path.c_str(), O_RDWR);
    if (fd < 0) return 100;
    return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : errno;
  });
}

// ---- flock ----

TEST_F(LockTest, FlockExclusiveConflictsAcrossDescriptions) {
  ScopedFd a(Open()), b(Open());
  ASSERT_EQ(flock(a.get(), LOCK_EX), 0);
  EXPECT_ERRNO(flock(b.get(), LOCK_EX | LOCK_NB), EWOULDBLOCK);
  EXPECT_ERRNO(flock(b.get(), LOCK_SH | LOCK_NB), EWOULDBLOCK);
  ASSERT_EQ(flock(a.get(), LOCK_UN), 0);
  EXPECT_EQ(flock(b.get(), LOCK_EX | LOCK_NB), 0);
}

TEST_F(LockTest, FlockSharedLocksCoexist) {
  ScopedFd a(Open()), b(Open());
  ASSERT_EQ(flock(a.get(), LOCK_SH), 0);
  EXPECT_EQ(flock(b.get(), LOCK_SH | LOCK_NB), 0);
  ScopedFd c(Open());
  EXPECT_ERRNO(flock(c.get(), LOCK_EX | LOCK_NB), EWOULDBLOCK);
}

TEST_F(LockTest, FlockBelongsToTheDescription) {
  int a = Open();
  ASSERT_GE(a, 0);
  int dup_a = dup(a);
  ScopedFd b(Open());
  ASSERT_EQ(flock(a, LOCK_EX), 0);
  // The dup is the same description: the same lock, no conflict.
  EXPECT_EQ(flock(dup_a, LOCK_EX | LOCK_NB), 0);
  close(a);  // one fd left: the lock stays
  EXPECT_ERRNO(flock(b.get(), LOCK_EX | LOCK_NB), EWOULDBLOCK);
  close(dup_a);  // the last fd: released
  EXPECT_EQ(flock(b.get(), LOCK_EX | LOCK_NB), 0);
}

TEST_F(LockTest, FlockConversionDropsTheOldLockOnFailure) {
  ScopedFd a(Open()), b(Open());
  ASSERT_EQ(flock(a.get(), LOCK_SH), 0);
  ASSERT_EQ(flock(b.get(), LOCK_SH), 0);
  // a cannot upgrade while b shares, and loses its shared lock trying.
  EXPECT_ERRNO(flock(a.get(), LOCK_EX | LOCK_NB), EWOULDBLOCK);
  EXPECT_EQ(flock(b.get(), LOCK_EX | LOCK_NB), 0);
  // Downgrade in place.
  EXPECT_EQ(flock(b.get(), LOCK_SH), 0);
  EXPECT_EQ(flock(a.get(), LOCK_SH | LOCK_NB), 0);
}

TEST_F(LockTest, FlockErrors) {
  ScopedFd a(Open());
  EXPECT_ERRNO(flock(a.get(), 0), EINVAL);
  EXPECT_ERRNO(flock(a.get(), LOCK_SH | LOCK_EX), EINVAL);
  EXPECT_ERRNO(flock(-1, LOCK_SH), EBADF);
  ScopedFd p(open(path_.c_str(), O_PATH));
  EXPECT_ERRNO(flock(p.get(), LOCK_SH), EBADF);
  // Any access mode may take either kind of flock.
  ScopedFd ro(Open(O_RDONLY));
  EXPECT_EQ(flock(ro.get(), LOCK_EX), 0);
}

TEST_F(LockTest, FlockWaitsForRelease) {
  ScopedFd a(Open()), b(Open());
  ASSERT_EQ(flock(a.get(), LOCK_EX), 0);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    if (flock(b.get(), LOCK_EX) == 0) got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(got.load());
  ASSERT_EQ(flock(a.get(), LOCK_UN), 0);
  waiter.join();
  EXPECT_TRUE(got.load());
}

void NoteAlarm(int) {}

// A blocked lock request is an interruptible sleep: a signal whose handler
// lacks SA_RESTART ends it with EINTR.
TEST_F(LockTest, BlockedLocksAreInterruptible) {
  ScopedFd a(Open()), b(Open());
  ASSERT_EQ(flock(a.get(), LOCK_EX), 0);
  struct flock fl = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a.get(), F_OFD_SETLK, &fl), 0);
  struct sigaction sa = {}, old;
  sa.sa_handler = NoteAlarm;
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
  struct itimerval it = {};
  it.it_value.tv_usec = 100 * 1000;
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  EXPECT_ERRNO(flock(b.get(), LOCK_EX), EINTR);
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  struct flock want = Range(F_RDLCK, 0, 0);
  EXPECT_ERRNO(fcntl(b.get(), F_OFD_SETLKW, &want), EINTR);
  sigaction(SIGALRM, &old, nullptr);
}

// ---- POSIX record locks ----

TEST_F(LockTest, PosixLocksConflictBetweenProcesses) {
  ScopedFd a(Open());
  struct flock fl = Range(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(a.get(), F_SETLK, &fl), 0);
  EXPECT_EQ(ChildSetlkErrno(path_, Range(F_RDLCK, 5, 10)), EAGAIN);
  EXPECT_EQ(ChildSetlkErrno(path_, Range(F_WRLCK, 10, 10)), 0);
  // The same process never conflicts with itself.
  ScopedFd b(Open());
  struct flock again = Range(F_WRLCK, 0, 20);
  EXPECT_EQ(fcntl(b.get(), F_SETLK, &again), 0);
}

TEST_F(LockTest, GetlkReportsTheConflictingLock) {
  ScopedFd a(Open());
  struct flock fl = Range(F_WRLCK, 100, 0);  // to EOF
  ASSERT_EQ(fcntl(a.get(), F_SETLK, &fl), 0);
  pid_t me = getpid();
  int rc = InChild([&] {
    int fd = open(path_.c_str(), O_RDWR);
    struct flock q = Range(F_RDLCK, 0, 200);
    if (fcntl(fd, F_GETLK, &q) != 0) return 1;
    if (q.l_type != F_WRLCK || q.l_whence != SEEK_SET) return 2;
    if (q.l_start != 100 || q.l_len != 0) return 3;
    if (q.l_pid != me) return 4;
    struct flock free_range = Range(F_WRLCK, 0, 100);
    if (fcntl(fd, F_GETLK, &free_range) != 0) return 5;
    if (free_range.l_type != F_UNLCK) return 6;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  // The owner itself sees no conflict.
  struct flock q = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a.get(), F_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_UNLCK);
}

TEST_F(LockTest, UnlockingPartOfARangeSplitsIt) {
  ScopedFd a(Open());
  struct flock fl = Range(F_WRLCK, 0, 100);
  ASSERT_EQ(fcntl(a.get(), F_SETLK, &fl), 0);
  struct flock un = Range(F_UNLCK, 40, 20);
  ASSERT_EQ(fcntl(a.get(), F_SETLK, &un), 0);
  int rc = InChild([&] {
    int fd = open(path_.c_str(), O_RDWR);
    struct flock hole = Range(F_WRLCK, 45, 5);
    if (fcntl(fd, F_GETLK, &hole) != 0 || hole.l_type != F_UNLCK) return 1;
    struct flock left = Range(F_WRLCK, 30, 20);
    if (fcntl(fd, F_GETLK, &left) != 0) return 2;
    if (left.l_type != F_WRLCK || left.l_start != 0 || left.l_len != 40) {
      return 3;
    }
    struct flock right = Range(F_WRLCK, 50, 30);
    if (fcntl(fd, F_GETLK, &right) != 0) return 4;
    if (right.l_start != 60 || right.l_len != 40) return 5;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST_F(LockTest, ClosingAnyFdOfTheFileDropsPosixLocks) {
  ScopedFd a(Open());
  struct flock fl = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a.get(), F_SETLK, &fl), 0);
  EXPECT_EQ(ChildSetlkErrno(path_, Range(F_WRLCK, 0, 1)), EAGAIN);
  int other = Open(O_RDONLY);
  ASSERT_GE(other, 0);
  close(other);  // a different description, same file: the lock goes
  EXPECT_EQ(ChildSetlkErrno(path_, Range(F_WRLCK, 0, 1)), 0);
}

TEST_F(LockTest, ExitDropsPosixLocks) {
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(path_.c_str(), O_RDWR);
    struct flock fl = Range(F_WRLCK, 0, 0);
    char c = fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(done[0], &c, 1);
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  ScopedFd a(Open());
  struct flock fl = Range(F_WRLCK, 0, 0);
  EXPECT_ERRNO(fcntl(a.get(), F_SETLK, &fl), EAGAIN);
  ASSERT_EQ(write(done[1], "x", 1), 1);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(fcntl(a.get(), F_SETLK, &fl), 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
}

TEST_F(LockTest, SetlkwWaitsForTheHolder) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(path_.c_str(), O_RDWR);
    struct flock fl = Range(F_WRLCK, 0, 0);
    if (fcntl(fd, F_SETLK, &fl) != 0) _exit(1);
    (void)!write(ready[1], "x", 1);
    usleep(200 * 1000);
    struct flock un = Range(F_UNLCK, 0, 0);
    fcntl(fd, F_SETLK, &un);
    usleep(200 * 1000);
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ScopedFd a(Open());
  struct flock fl = Range(F_WRLCK, 0, 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(fcntl(a.get(), F_SETLKW, &fl), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(100));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  close(ready[0]);
  close(ready[1]);
}

TEST_F(LockTest, SetlkwDetectsDeadlock) {
  ScopedFd a(Open());
  struct flock mine = Range(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(a.get(), F_SETLK, &mine), 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(path_.c_str(), O_RDWR);
    struct flock theirs = Range(F_WRLCK, 100, 10);
    if (fcntl(fd, F_SETLK, &theirs) != 0) _exit(1);
    (void)!write(ready[1], "x", 1);
    // Waits for the parent's range; the parent then asks for ours.
    struct flock want = Range(F_WRLCK, 0, 10);
    _exit(fcntl(fd, F_SETLKW, &want) == 0 ? 0 : 2);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  usleep(200 * 1000);  // let the child block
  struct flock want = Range(F_WRLCK, 100, 10);
  EXPECT_ERRNO(fcntl(a.get(), F_SETLKW, &want), EDEADLK);
  struct flock un = Range(F_UNLCK, 0, 0);
  ASSERT_EQ(fcntl(a.get(), F_SETLK, &un), 0);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(ready[0]);
  close(ready[1]);
}

TEST_F(LockTest, SetlkArgumentErrors) {
  ScopedFd ro(Open(O_RDONLY)), wo(Open(O_WRONLY)), rw(Open());
  struct flock w = Range(F_WRLCK, 0, 1);
  EXPECT_ERRNO(fcntl(ro.get(), F_SETLK, &w), EBADF);
  struct flock r = Range(F_RDLCK, 0, 1);
  EXPECT_ERRNO(fcntl(wo.get(), F_SETLK, &r), EBADF);
  struct flock bad_type = Range(42, 0, 1);
  EXPECT_ERRNO(fcntl(rw.get(), F_SETLK, &bad_type), EINVAL);
  struct flock bad_whence = Range(F_WRLCK, 0, 1, 7);
  EXPECT_ERRNO(fcntl(rw.get(), F_SETLK, &bad_whence), EINVAL);
  struct flock negative = Range(F_WRLCK, -5, 1);
  EXPECT_ERRNO(fcntl(rw.get(), F_SETLK, &negative), EINVAL);
  struct flock before_zero = Range(F_WRLCK, 2, -5);
  EXPECT_ERRNO(fcntl(rw.get(), F_SETLK, &before_zero), EINVAL);
  struct flock unlck_query = Range(F_UNLCK, 0, 1);
  EXPECT_ERRNO(fcntl(rw.get(), F_GETLK, &unlck_query), EINVAL);
  EXPECT_ERRNO(fcntl(rw.get(), F_SETLK, kBadPtr), EFAULT);
  // A negative length locks the bytes before l_start.
  struct flock back = Range(F_WRLCK, 10, -4);
  EXPECT_EQ(fcntl(rw.get(), F_SETLK, &back), 0);
  int rc = InChild([&] {
    int fd = open(path_.c_str(), O_RDWR);
    struct flock q = Range(F_WRLCK, 0, 0);
    if (fcntl(fd, F_GETLK, &q) != 0) return 1;
    return q.l_start == 6 && q.l_len == 4 ? 0 : 2;
  });
  EXPECT_EQ(rc, 0);
}

// ---- OFD locks ----

TEST_F(LockTest, OfdLocksBelongToTheDescription) {
  ScopedFd a(Open()), b(Open());
  struct flock fl = Range(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(a.get(), F_OFD_SETLK, &fl), 0);
  // Same process, another description: a conflict, unlike POSIX locks.
  struct flock other = Range(F_RDLCK, 5, 1);
  EXPECT_ERRNO(fcntl(b.get(), F_OFD_SETLK, &other), EAGAIN);
  struct flock q = Range(F_RDLCK, 0, 0);
  ASSERT_EQ(fcntl(b.get(), F_OFD_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_start, 0);
  EXPECT_EQ(q.l_len, 10);
  EXPECT_EQ(q.l_pid, -1);
  // A POSIX lock of this process conflicts with it too.
  struct flock posix = Range(F_WRLCK, 0, 1);
  EXPECT_ERRNO(fcntl(b.get(), F_SETLK, &posix), EAGAIN);
  // Closing another fd of the file does not drop OFD locks.
  close(Open());
  EXPECT_ERRNO(fcntl(b.get(), F_OFD_SETLK, &other), EAGAIN);
}

TEST_F(LockTest, OfdLockGoesWithTheLastFd) {
  int a = Open();
  ASSERT_GE(a, 0);
  ScopedFd b(Open());
  struct flock fl = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a, F_OFD_SETLK, &fl), 0);
  struct flock want = Range(F_WRLCK, 0, 0);
  EXPECT_ERRNO(fcntl(b.get(), F_OFD_SETLK, &want), EAGAIN);
  close(a);
  EXPECT_EQ(fcntl(b.get(), F_OFD_SETLK, &want), 0);
}

TEST_F(LockTest, OfdLockNeedsZeroPid) {
  ScopedFd a(Open());
  struct flock fl = Range(F_WRLCK, 0, 1);
  fl.l_pid = 1;
  EXPECT_ERRNO(fcntl(a.get(), F_OFD_SETLK, &fl), EINVAL);
  EXPECT_ERRNO(fcntl(a.get(), F_OFD_GETLK, &fl), EINVAL);
}

TEST_F(LockTest, OfdSetlkwWaits) {
  ScopedFd a(Open()), b(Open());
  struct flock fl = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a.get(), F_OFD_SETLK, &fl), 0);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    struct flock w = Range(F_WRLCK, 0, 0);
    if (fcntl(b.get(), F_OFD_SETLKW, &w) == 0) got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(got.load());
  struct flock un = Range(F_UNLCK, 0, 0);
  ASSERT_EQ(fcntl(a.get(), F_OFD_SETLK, &un), 0);
  waiter.join();
  EXPECT_TRUE(got.load());
}

// ---- leases, notify, seals ----

TEST_F(LockTest, LeasesNotifyAndSeals) {
  ScopedFd a(Open());
  EXPECT_EQ(fcntl(a.get(), F_GETLEASE), F_UNLCK);
  // No lease held: removing one is EAGAIN.
  EXPECT_ERRNO(fcntl(a.get(), F_SETLEASE, F_UNLCK), EAGAIN);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_ERRNO(fcntl(p[0], F_SETLEASE, F_RDLCK), EINVAL);
  EXPECT_ERRNO(fcntl(a.get(), F_NOTIFY, DN_MODIFY), ENOTDIR);
  EXPECT_ERRNO(fcntl(p[0], F_GET_SEALS), EINVAL);
  EXPECT_ERRNO(fcntl(p[1], F_ADD_SEALS, F_SEAL_WRITE), EINVAL);
  close(p[0]);
  close(p[1]);
  int m = memfd_create("seals", MFD_ALLOW_SEALING);
  ASSERT_GE(m, 0) << ErrnoName(errno);
  EXPECT_EQ(fcntl(m, F_GET_SEALS), 0);
  EXPECT_EQ(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_EQ(fcntl(m, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
  EXPECT_ERRNO(ftruncate(m, 100), EPERM);
  close(m);
}

}  // namespace
}  // namespace cvisor::syscall_test
