// Conformance: openat2(2) — struct open_how size and flag checks and the
// RESOLVE_* restrictions — and the /proc magic links (fd/N, cwd, root,
// exe, /dev/stdin) that open the file they refer to, not a path named by
// their text. Works in a directory under /dev/shm.
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace cvisor::syscall_test {
namespace {

long Openat2Raw(int dirfd, const char* path, const void* how, size_t size) {
  return syscall(SYS_openat2, dirfd, path, how, size);
}

long Openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve,
             uint64_t mode = 0) {
  struct open_how how = {};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return Openat2Raw(dirfd, path, &how, sizeof how);
}

class Openat2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cvisor-openat2-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << ErrnoName(errno);
    dir_ = tmpl;
    ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
    int fd = open((dir_ + "/f").c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "data", 4), 4);
    close(fd);
    ASSERT_EQ(symlink("f", (dir_ + "/rel").c_str()), 0);
    ASSERT_EQ(symlink("/f", (dir_ + "/abs").c_str()), 0);
    ASSERT_EQ(symlink("../f", (dir_ + "/sub/up").c_str()), 0);
    ASSERT_EQ(symlink("../../etc", (dir_ + "/sub/out").c_str()), 0);
    dirfd_ = open(dir_.c_str(), O_PATH | O_DIRECTORY);
    ASSERT_GE(dirfd_, 0);
  }
  void TearDown() override {
    close(dirfd_);
    for (const char* n : {"sub/up", "sub/out", "rel", "abs", "f", "g", "h"}) {
      unlink((dir_ + "/" + n).c_str());
    }
    rmdir((dir_ + "/sub").c_str());
    rmdir(dir_.c_str());
  }
  ino_t Ino(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
  }
  ino_t PathIno(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
  }

  std::string dir_;
  int dirfd_ = -1;
};

TEST_F(Openat2Test, OpensLikeOpenat) {
  long fd = Openat2(dirfd_, "f", O_RDONLY, 0);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  char buf[4];
  EXPECT_EQ(read(fd, buf, 4), 4);
  close(fd);
  mode_t old_umask = umask(022);
  fd = Openat2(dirfd_, "g", O_CREAT | O_WRONLY | O_CLOEXEC, 0, 0666);
  umask(old_umask);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  close(fd);
}

TEST_F(Openat2Test, HowSizeChecks) {
  struct {
    struct open_how how;
    uint64_t extra;
  } big = {};
  big.how.flags = O_RDONLY;
  EXPECT_ERRNO(Openat2Raw(dirfd_, "f", &big, 16), EINVAL);
  EXPECT_ERRNO(Openat2Raw(dirfd_, "f", &big, 8192), E2BIG);
  long fd = Openat2Raw(dirfd_, "f", &big, sizeof big);  // zero tail: fine
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  if (fd >= 0) close(fd);
  big.extra = 1;
  EXPECT_ERRNO(Openat2Raw(dirfd_, "f", &big, sizeof big), E2BIG);
  EXPECT_ERRNO(Openat2Raw(dirfd_, "f", kBadPtr, sizeof(struct open_how)),
               EFAULT);
}

TEST_F(Openat2Test, FlagChecks) {
  EXPECT_ERRNO(Openat2(dirfd_, "f", 1ULL << 40, 0), EINVAL);
  EXPECT_ERRNO(Openat2(dirfd_, "f", O_RDONLY, 1ULL << 20), EINVAL);
  EXPECT_ERRNO(
      Openat2(dirfd_, "f", O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT),
      EINVAL);
  // A mode without O_CREAT, or with bits beyond 07777.
  EXPECT_ERRNO(Openat2(dirfd_, "f", O_RDONLY, 0, 0644), EINVAL);
  EXPECT_ERRNO(Openat2(dirfd_, "g", O_CREAT | O_WRONLY, 0, 010644), EINVAL);
  // O_PATH takes only O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
  EXPECT_ERRNO(Openat2(dirfd_, "f", O_PATH | O_RDWR, 0), EINVAL);
  long fd = Openat2(dirfd_, "f", O_PATH | O_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  // RESOLVE_CACHED cannot create.
  EXPECT_ERRNO(Openat2(dirfd_, "g", O_CREAT | O_WRONLY, RESOLVE_CACHED, 0644),
               EAGAIN);
  EXPECT_ERRNO(Openat2(-1, "f", O_RDONLY, 0), EBADF);
}

TEST_F(Openat2Test, NoSymlinks) {
  EXPECT_ERRNO(Openat2(dirfd_, "rel", O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP);
  EXPECT_ERRNO(Openat2(dirfd_, "sub/up", O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP);
  // The link itself may still be named without following it.
  long fd = Openat2(dirfd_, "rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  if (fd >= 0) close(fd);
  fd = Openat2(dirfd_, "f", O_RDONLY, RESOLVE_NO_SYMLINKS);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
}

TEST_F(Openat2Test, Beneath) {
  long fd = Openat2(dirfd_, "sub/../f", O_RDONLY, RESOLVE_BENEATH);
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  if (fd >= 0) close(fd);
  fd = Openat2(dirfd_, "sub/up", O_RDONLY, RESOLVE_BENEATH);
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  if (fd >= 0) close(fd);
  EXPECT_ERRNO(Openat2(dirfd_, "../x", O_RDONLY, RESOLVE_BENEATH), EXDEV);
  EXPECT_ERRNO(Openat2(dirfd_, "/etc", O_RDONLY, RESOLVE_BENEATH), EXDEV);
  EXPECT_ERRNO(Openat2(dirfd_, "abs", O_RDONLY, RESOLVE_BENEATH), EXDEV);
  EXPECT_ERRNO(Openat2(dirfd_, "sub/out", O_RDONLY, RESOLVE_BENEATH), EXDEV);
}

TEST_F(Openat2Test, InRoot) {
  // "/" and absolute symlinks mean the dirfd.
  long fd = Openat2(dirfd_, "/f", O_RDONLY, RESOLVE_IN_ROOT);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(fd), PathIno(dir_ + "/f"));
  close(fd);
  fd = Openat2(dirfd_, "abs", O_RDONLY, RESOLVE_IN_ROOT);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(fd), PathIno(dir_ + "/f"));
  close(fd);
  // ".." stops at the dirfd.
  fd = Openat2(dirfd_, "../../../f", O_RDONLY, RESOLVE_IN_ROOT);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(fd), PathIno(dir_ + "/f"));
  close(fd);
}

TEST_F(Openat2Test, NoXdev) {
  long fd = Openat2(dirfd_, "sub", O_RDONLY | O_DIRECTORY, RESOLVE_NO_XDEV);
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  if (fd >= 0) close(fd);
  // /proc is not the root's mount: crossing into it or out of it by ".."
  // is EXDEV; an absolute path just starts on the root's mount.
  ScopedFd proc(open("/proc", O_PATH | O_DIRECTORY));
  ASSERT_GE(proc.get(), 0);
  ScopedFd root(open("/", O_PATH | O_DIRECTORY));
  EXPECT_ERRNO(
      Openat2(root.get(), "proc/self/status", O_RDONLY, RESOLVE_NO_XDEV),
      EXDEV);
  EXPECT_ERRNO(Openat2(proc.get(), "/proc/self", O_PATH, RESOLVE_NO_XDEV),
               EXDEV);
  EXPECT_ERRNO(Openat2(proc.get(), "..", O_PATH, RESOLVE_NO_XDEV), EXDEV);
  fd = Openat2(proc.get(), "self/status", O_RDONLY, RESOLVE_NO_XDEV);
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  if (fd >= 0) close(fd);
}

TEST_F(Openat2Test, NoMagiclinks) {
  ScopedFd f(open((dir_ + "/f").c_str(), O_RDONLY));
  std::string link = "/proc/self/fd/" + std::to_string(f.get());
  EXPECT_ERRNO(Openat2(AT_FDCWD, link.c_str(), O_RDONLY, RESOLVE_NO_MAGICLINKS),
               ELOOP);
  EXPECT_ERRNO(Openat2(AT_FDCWD, link.c_str(), O_RDONLY, RESOLVE_NO_SYMLINKS),
               ELOOP);
  long fd = Openat2(AT_FDCWD, link.c_str(), O_RDONLY, 0);
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  if (fd >= 0) close(fd);
}

// ---- magic links ----

TEST_F(Openat2Test, ProcFdReopensTheFileWithNewFlags) {
  std::string path = dir_ + "/f";
  ScopedFd ro(open(path.c_str(), O_RDONLY));
  std::string link = "/proc/self/fd/" + std::to_string(ro.get());
  ScopedFd rw(open(link.c_str(), O_RDWR));
  ASSERT_GE(rw.get(), 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(rw.get()), Ino(ro.get()));
  EXPECT_EQ(fcntl(rw.get(), F_GETFL) & O_ACCMODE, O_RDWR);
  // A new description: its own offset.
  ASSERT_EQ(lseek(rw.get(), 2, SEEK_SET), 2);
  EXPECT_EQ(lseek(ro.get(), 0, SEEK_CUR), 0);
  ASSERT_EQ(write(rw.get(), "XY", 2), 2);
  char buf[4];
  ASSERT_EQ(pread(ro.get(), buf, 4, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "daXY");
}

TEST_F(Openat2Test, ProcFdFollowsRenamedAndUnlinkedFiles) {
  std::string path = dir_ + "/f";
  ScopedFd fd(open(path.c_str(), O_RDONLY));
  std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  ASSERT_EQ(rename(path.c_str(), (dir_ + "/h").c_str()), 0);
  ScopedFd moved(open(link.c_str(), O_RDONLY));
  ASSERT_GE(moved.get(), 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(moved.get()), Ino(fd.get()));
  ASSERT_EQ(unlink((dir_ + "/h").c_str()), 0);
  ScopedFd gone(open(link.c_str(), O_RDONLY));
  ASSERT_GE(gone.get(), 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(gone.get()), Ino(fd.get()));
  char buf[4];
  EXPECT_EQ(read(gone.get(), buf, 4), 4);
}

TEST_F(Openat2Test, ProcFdOfAPipe) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::string wlink = "/proc/self/fd/" + std::to_string(p[1]);
  ScopedFd w(open(wlink.c_str(), O_WRONLY));
  ASSERT_GE(w.get(), 0) << ErrnoName(errno);
  ASSERT_EQ(write(w.get(), "pipe", 4), 4);
  char buf[4];
  ASSERT_EQ(read(p[0], buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "pipe");
  close(p[0]);
  close(p[1]);
}

TEST_F(Openat2Test, DevStdinIsFdZero) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[0], 0);
    int fd = open("/dev/stdin", O_RDONLY);
    if (fd < 0) _exit(1);
    char buf[5] = {};
    if (read(fd, buf, 5) != 5) _exit(2);
    _exit(std::string(buf, 5) == "stdin" ? 0 : 3);
  }
  ASSERT_EQ(write(p[1], "stdin", 5), 5);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  close(p[0]);
  close(p[1]);
}

TEST_F(Openat2Test, ProcSelfCwdRootExe) {
  char old[4096];
  ASSERT_NE(getcwd(old, sizeof old), nullptr);
  ASSERT_EQ(chdir((dir_ + "/sub").c_str()), 0);
  // Even after the directory moves, cwd leads to it.
  ASSERT_EQ(rename((dir_ + "/sub").c_str(), (dir_ + "/g").c_str()), 0);
  ScopedFd cwd(open("/proc/self/cwd", O_RDONLY | O_DIRECTORY));
  EXPECT_GE(cwd.get(), 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(cwd.get()), PathIno(dir_ + "/g"));
  ASSERT_EQ(rename((dir_ + "/g").c_str(), (dir_ + "/sub").c_str()), 0);
  ASSERT_EQ(chdir(old), 0);

  ScopedFd root(open("/proc/self/root", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(root.get(), 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(root.get()), PathIno("/"));

  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  exe[n] = '\0';
  ScopedFd self(open("/proc/self/exe", O_RDONLY));
  ASSERT_GE(self.get(), 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(self.get()), PathIno(exe));
  std::string pid_exe = "/proc/" + std::to_string(getpid()) + "/exe";
  ScopedFd by_pid(open(pid_exe.c_str(), O_RDONLY));
  ASSERT_GE(by_pid.get(), 0) << ErrnoName(errno);
  EXPECT_EQ(Ino(by_pid.get()), PathIno(exe));
}

TEST_F(Openat2Test, TmpfileOnTmpfs) {
  // tmpfs makes unnamed files; file systems that cannot say EOPNOTSUPP.
  long fd = open(dir_.c_str(), O_TMPFILE | O_RDWR, 0600);
  if (fd < 0) {
    // The one failure Linux gives on a file system without ->tmpfile (the
    // sandbox's tmpfs, for now).
    EXPECT_EQ(errno, EOPNOTSUPP) << ErrnoName(errno);
    return;
  }
  ASSERT_EQ(write(fd, "tmp", 3), 3);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  close(fd);
}

TEST_F(Openat2Test, TmpfileErrors) {
  // Read-only O_TMPFILE, and O_TMPFILE on a non-directory.
  EXPECT_ERRNO(open(dir_.c_str(), O_TMPFILE | O_RDONLY, 0600), EINVAL);
  int fd = open((dir_ + "/f").c_str(), O_TMPFILE | O_RDWR, 0600);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, ENOTDIR);
}

}  // namespace
}  // namespace cvisor::syscall_test
