// Conformance: descriptor table operations (dup/dup2/dup3, fcntl) and the
// working directory (getcwd/chdir/fchdir).
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

// O_LARGEFILE as the kernel reports it on x86-64 (glibc defines it as 0 for
// 64-bit programs, but the kernel forces the bit on every open there).
constexpr int kKernelOLargefile = 0100000;

ino_t InoOf(int fd) {
  struct stat st;
  EXPECT_EQ(fstat(fd, &st), 0) << ErrnoName(errno);
  return st.st_ino;
}

ino_t InoOfPath(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// A descriptor number inside the valid range that is not open: the lowest
// free slot, observed by opening and closing a file.
int UnusedFd() {
  const int fd = open(Testdata("small.txt").c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  close(fd);
  return fd;
}

#define ASSERT_FD_FREE(fd) \
  ASSERT_EQ(fcntl((fd), F_GETFD), -1) << "fd " << (fd) << " is already open"

// ---- dup / dup2 / dup3 ---------------------------------------------------

TEST(DupTest, ReturnsLowestFreeDescriptor) {
  CV_OPEN_OR_DIE(a, Testdata("file.txt"), O_RDONLY);
  CV_OPEN_OR_DIE(b, Testdata("small.txt"), O_RDONLY);
  CV_OPEN_OR_DIE(c, Testdata("empty.txt"), O_RDONLY);
  const int b_num = b.get();
  ASSERT_EQ(close(b.release()), 0);
  const int d = dup(c.get());
  ASSERT_EQ(d, b_num);
  ScopedFd dd(d);
  EXPECT_EQ(InoOf(d), InoOf(c.get()));
  const int e = dup(a.get());
  ASSERT_GT(e, c.get());
  ScopedFd ee(e);
  EXPECT_EQ(InoOf(e), InoOf(a.get()));
}

TEST(DupTest, SharesTheFileOffset) {
  CV_OPEN_OR_DIE(a, Testdata("file.txt"), O_RDONLY);
  const int b = dup(a.get());
  ASSERT_GE(b, 0);
  ScopedFd bb(b);
  char buf[5];
  ASSERT_EQ(read(a.get(), buf, 5), 5);
  EXPECT_EQ(lseek(b, 0, SEEK_CUR), 5);
  ASSERT_EQ(read(b, buf, 5), 5);
  EXPECT_EQ(std::string(buf, 5), "fghij");
  EXPECT_EQ(lseek(a.get(), 0, SEEK_CUR), 10);
  // A second open has its own offset.
  CV_OPEN_OR_DIE(c, Testdata("file.txt"), O_RDONLY);
  EXPECT_EQ(lseek(c.get(), 0, SEEK_CUR), 0);
}

TEST(DupTest, DoesNotCopyCloexec) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
  const int b = dup(a.get());
  ASSERT_GE(b, 0);
  ScopedFd bb(b);
  EXPECT_EQ(fcntl(b, F_GETFD), 0);
}

TEST(DupTest, BadFdIsEBADF) {
  EXPECT_ERRNO(dup(-1), EBADF);
  EXPECT_ERRNO(dup(UnusedFd()), EBADF);
}

TEST(Dup2Test, SameFdReturnsItWhenValid) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(dup2(a.get(), a.get()), a.get());
  // Nothing changed: still open, flag untouched.
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
  const int bad = UnusedFd();
  EXPECT_ERRNO(dup2(bad, bad), EBADF);
}

TEST(Dup2Test, ReplacesAnOpenTarget) {
  CV_OPEN_OR_DIE(a, Testdata("file.txt"), O_RDONLY);
  CV_OPEN_OR_DIE(b, Testdata("small.txt"), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(dup2(a.get(), b.get()), b.get());
  EXPECT_EQ(InoOf(b.get()), InoOfPath(Testdata("file.txt")));
  // The new descriptor never inherits close-on-exec.
  EXPECT_EQ(fcntl(b.get(), F_GETFD), 0);
  // And shares the offset with the original.
  ASSERT_EQ(lseek(a.get(), 123, SEEK_SET), 123);
  EXPECT_EQ(lseek(b.get(), 0, SEEK_CUR), 123);
}

TEST(Dup2Test, ToAFreeHighNumber) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  const int target = 500;
  ASSERT_FD_FREE(target);
  ASSERT_EQ(dup2(a.get(), target), target);
  ScopedFd t(target);
  EXPECT_EQ(InoOf(target), InoOf(a.get()));
}

TEST(Dup2Test, Errors) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(dup2(UnusedFd(), a.get()), EBADF);
  // The failed dup2 left the target open.
  EXPECT_EQ(fcntl(a.get(), F_GETFD), 0);
  EXPECT_ERRNO(dup2(a.get(), -1), EBADF);
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_LT(rl.rlim_cur, static_cast<rlim_t>(INT_MAX));
  EXPECT_ERRNO(dup2(a.get(), static_cast<int>(rl.rlim_cur)), EBADF);
}

TEST(Dup3Test, CloexecFlag) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  const int target = 501;
  ASSERT_FD_FREE(target);
  ASSERT_EQ(dup3(a.get(), target, O_CLOEXEC), target);
  ScopedFd t(target);
  EXPECT_EQ(fcntl(target, F_GETFD), FD_CLOEXEC);
  ASSERT_EQ(dup3(a.get(), target, 0), target);
  EXPECT_EQ(fcntl(target, F_GETFD), 0);
}

TEST(Dup3Test, SameFdIsEINVAL) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(dup3(a.get(), a.get(), 0), EINVAL);
  EXPECT_ERRNO(dup3(a.get(), a.get(), O_CLOEXEC), EINVAL);
}

TEST(Dup3Test, BadFlagsAreEINVAL) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  const int target = 502;
  ASSERT_FD_FREE(target);
  EXPECT_ERRNO(dup3(a.get(), target, O_NONBLOCK), EINVAL);
  EXPECT_ERRNO(dup3(a.get(), target, 1), EINVAL);
  // Nothing was installed.
  EXPECT_ERRNO(fcntl(target, F_GETFD), EBADF);
}

TEST(Dup3Test, BadFdIsEBADF) { EXPECT_ERRNO(dup3(UnusedFd(), 503, 0), EBADF); }

// ---- fcntl ---------------------------------------------------------------

TEST(FcntlTest, DupfdHonoursTheMinimum) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  const int b = fcntl(a.get(), F_DUPFD, 600);
  ASSERT_EQ(b, 600) << ErrnoName(errno);
  ScopedFd bb(b);
  // 600 is taken now, so the next one goes above it.
  const int c = fcntl(a.get(), F_DUPFD, 600);
  ASSERT_EQ(c, 601);
  ScopedFd cc(c);
  // A minimum below the lowest free slot still returns the lowest free slot.
  const int d = fcntl(a.get(), F_DUPFD, 0);
  ASSERT_GE(d, 0);
  ScopedFd dd(d);
  EXPECT_LT(d, 600);
  EXPECT_EQ(fcntl(b, F_GETFD), 0);
  EXPECT_EQ(InoOf(b), InoOf(a.get()));
}

TEST(FcntlTest, DupfdCloexec) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  const int b = fcntl(a.get(), F_DUPFD_CLOEXEC, 610);
  ASSERT_EQ(b, 610);
  ScopedFd bb(b);
  EXPECT_EQ(fcntl(b, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), 0);
}

TEST(FcntlTest, DupfdLimits) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_LT(rl.rlim_cur, static_cast<rlim_t>(INT_MAX));
  EXPECT_ERRNO(fcntl(a.get(), F_DUPFD, static_cast<int>(rl.rlim_cur)), EINVAL);
  EXPECT_ERRNO(fcntl(a.get(), F_DUPFD, -1), EINVAL);
  EXPECT_ERRNO(fcntl(a.get(), F_DUPFD_CLOEXEC, -1), EINVAL);
}

TEST(FcntlTest, GetfdSetfd) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), 0);
  ASSERT_EQ(fcntl(a.get(), F_SETFD, FD_CLOEXEC), 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
  // Only FD_CLOEXEC is kept; other bits are dropped silently.
  ASSERT_EQ(fcntl(a.get(), F_SETFD, 0xfe), 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), 0);
  ASSERT_EQ(fcntl(a.get(), F_SETFD, 0xff), 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
}

TEST(FcntlTest, GetflReportsAccessModeAndLargefile) {
  CV_OPEN_OR_DIE(r, Testdata("small.txt"), O_RDONLY);
  EXPECT_EQ(fcntl(r.get(), F_GETFL), O_RDONLY | kKernelOLargefile);
  CV_OPEN_OR_DIE(d, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(fcntl(d.get(), F_GETFL),
            O_RDONLY | O_DIRECTORY | kKernelOLargefile);
  CV_OPEN_OR_DIE(n, Testdata("small.txt"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  // O_CLOEXEC is a descriptor flag, not a status flag.
  EXPECT_EQ(fcntl(n.get(), F_GETFL), O_RDONLY | O_NONBLOCK | kKernelOLargefile);
  // O_PATH keeps only O_PATH (and O_DIRECTORY/O_NOFOLLOW): no O_LARGEFILE.
  CV_OPEN_OR_DIE(p, Testdata("small.txt"), O_PATH);
  EXPECT_EQ(fcntl(p.get(), F_GETFL), O_PATH);
}

TEST(FcntlTest, SetflChangesAppendAndNonblockOnly) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  ASSERT_EQ(fcntl(a.get(), F_SETFL, O_NONBLOCK | O_APPEND), 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFL),
            O_RDONLY | O_NONBLOCK | O_APPEND | kKernelOLargefile);
  // The access mode and creation flags are ignored.
  ASSERT_EQ(fcntl(a.get(), F_SETFL, O_RDWR | O_CREAT | O_TRUNC | O_EXCL), 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFL), O_RDONLY | kKernelOLargefile);
  // The file is still read-only.
  EXPECT_ERRNO(write(a.get(), "x", 1), EBADF);
}

TEST(FcntlTest, StatusFlagsAreSharedByDups) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  const int b = dup(a.get());
  ASSERT_GE(b, 0);
  ScopedFd bb(b);
  ASSERT_EQ(fcntl(a.get(), F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(fcntl(b, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  // Descriptor flags are not shared.
  ASSERT_EQ(fcntl(a.get(), F_SETFD, FD_CLOEXEC), 0);
  EXPECT_EQ(fcntl(b, F_GETFD), 0);
}

TEST(FcntlTest, BadCmdIsEINVAL) {
  CV_OPEN_OR_DIE(a, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(syscall(SYS_fcntl, a.get(), 9999, 0), EINVAL);
  EXPECT_ERRNO(syscall(SYS_fcntl, a.get(), -1, 0), EINVAL);
}

TEST(FcntlTest, ClosedFdIsEBADF) {
  const int fd = UnusedFd();
  EXPECT_ERRNO(fcntl(fd, F_GETFD), EBADF);
  EXPECT_ERRNO(fcntl(fd, F_SETFD, FD_CLOEXEC), EBADF);
  EXPECT_ERRNO(fcntl(fd, F_GETFL), EBADF);
  EXPECT_ERRNO(fcntl(fd, F_SETFL, O_NONBLOCK), EBADF);
  EXPECT_ERRNO(fcntl(fd, F_DUPFD, 0), EBADF);
  EXPECT_ERRNO(fcntl(-1, F_GETFD), EBADF);
}

TEST(FcntlTest, PathFdAllowsOnlyDescriptorOperations) {
  CV_OPEN_OR_DIE(p, Testdata("small.txt"), O_PATH);
  EXPECT_EQ(fcntl(p.get(), F_GETFD), 0);
  const int d = fcntl(p.get(), F_DUPFD, 0);
  ASSERT_GE(d, 0);
  ScopedFd dd(d);
  EXPECT_EQ(fcntl(d, F_GETFL), O_PATH);
}

// ---- getcwd / chdir / fchdir ---------------------------------------------

// Restores the working directory after each test.
class CwdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = open(".", O_RDONLY | O_DIRECTORY);
    ASSERT_GE(saved_, 0) << ErrnoName(errno);
  }
  void TearDown() override {
    EXPECT_EQ(fchdir(saved_), 0);
    close(saved_);
  }
  static std::string Cwd() {
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof(buf)) == nullptr)
      return "<" + ErrnoName(errno) + ">";
    return buf;
  }
  int saved_ = -1;
};

TEST_F(CwdTest, ChdirAndGetcwd) {
  ASSERT_EQ(chdir(TestdataDir().c_str()), 0) << ErrnoName(errno);
  const std::string base = Cwd();
  ASSERT_EQ(base[0], '/');
  ASSERT_EQ(chdir("dir"), 0);
  EXPECT_EQ(Cwd(), base + "/dir");
  ASSERT_EQ(chdir("sub"), 0);
  EXPECT_EQ(Cwd(), base + "/dir/sub");
  ASSERT_EQ(chdir("../.."), 0);
  EXPECT_EQ(Cwd(), base);
  // Relative opens resolve against the new directory.
  CV_OPEN_OR_DIE(fd, std::string("small.txt"), O_RDONLY);
  char buf[16];
  EXPECT_EQ(read(fd.get(), buf, sizeof(buf)), 13);
}

TEST_F(CwdTest, ChdirThroughSymlinkGivesTheResolvedPath) {
  ASSERT_EQ(chdir(TestdataDir().c_str()), 0);
  const std::string base = Cwd();
  ASSERT_EQ(chdir("dir_link"), 0);
  EXPECT_EQ(Cwd(), base + "/dir");
}

TEST_F(CwdTest, ChdirToRootAndAbove) {
  ASSERT_EQ(chdir("/"), 0);
  EXPECT_EQ(Cwd(), "/");
  ASSERT_EQ(chdir(".."), 0);
  EXPECT_EQ(Cwd(), "/");
}

TEST_F(CwdTest, Fchdir) {
  CV_OPEN_OR_DIE(d, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  ASSERT_EQ(fchdir(d.get()), 0);
  CV_OPEN_OR_DIE(fd, std::string("b"), O_RDONLY);
  char buf[8];
  EXPECT_EQ(read(fd.get(), buf, sizeof(buf)), 3);
  // O_PATH directory descriptors work too.
  CV_OPEN_OR_DIE(p, Testdata("dir/sub"), O_PATH | O_DIRECTORY);
  ASSERT_EQ(fchdir(p.get()), 0);
  EXPECT_EQ(Cwd().substr(Cwd().size() - 8), "/dir/sub");
}

TEST_F(CwdTest, Errors) {
  EXPECT_ERRNO(chdir(Testdata("file.txt").c_str()), ENOTDIR);
  EXPECT_ERRNO(chdir(Testdata("missing").c_str()), ENOENT);
  EXPECT_ERRNO(chdir(Testdata("dangling").c_str()), ENOENT);
  EXPECT_ERRNO(chdir(Testdata("loop1").c_str()), ELOOP);
  EXPECT_ERRNO(chdir(""), ENOENT);
  EXPECT_ERRNO(syscall(SYS_chdir, kBadPtr), EFAULT);
  CV_OPEN_OR_DIE(f, Testdata("file.txt"), O_RDONLY);
  EXPECT_ERRNO(fchdir(f.get()), ENOTDIR);
  EXPECT_ERRNO(fchdir(UnusedFd()), EBADF);
  // Failed calls left the directory alone.
  struct stat a, b;
  ASSERT_EQ(stat(".", &a), 0);
  ASSERT_EQ(fstat(saved_, &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(CwdTest, GetcwdSizes) {
  ASSERT_EQ(chdir(Testdata("dir").c_str()), 0);
  const std::string cwd = Cwd();
  char buf[PATH_MAX];
  // The raw syscall returns the length including the NUL.
  EXPECT_EQ(syscall(SYS_getcwd, buf, sizeof(buf)),
            static_cast<long>(cwd.size() + 1));
  EXPECT_EQ(std::string(buf), cwd);
  // Exactly big enough works; one byte less is ERANGE.
  EXPECT_EQ(syscall(SYS_getcwd, buf, cwd.size() + 1),
            static_cast<long>(cwd.size() + 1));
  EXPECT_ERRNO(syscall(SYS_getcwd, buf, cwd.size()), ERANGE);
  EXPECT_ERRNO(syscall(SYS_getcwd, buf, 1), ERANGE);
  EXPECT_ERRNO(syscall(SYS_getcwd, buf, 0), ERANGE);
  EXPECT_ERRNO(syscall(SYS_getcwd, kBadPtr, sizeof(buf)), EFAULT);
}

}  // namespace
}  // namespace cvisor::syscall_test
