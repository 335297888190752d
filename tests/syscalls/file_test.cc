// Conformance: open/openat path resolution and errors, read/pread64/readv/
// preadv/lseek, close, and writes to a read-only descriptor.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[1000];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

std::string ExpectedFileContent() {
  std::string s;
  for (size_t i = 0; i < kFileSize; ++i) s.push_back(FileByte(i));
  return s;
}

// ---- open / openat -------------------------------------------------------

TEST(OpenTest, ReadOnlyFileReadsItsContent) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  EXPECT_EQ(ReadAll(fd.get()), ExpectedFileContent());
}

TEST(OpenTest, ReturnsLowestFreeDescriptor) {
  CV_OPEN_OR_DIE(a, Testdata("file.txt"), O_RDONLY);
  CV_OPEN_OR_DIE(b, Testdata("file.txt"), O_RDONLY);
  const int a_num = a.get();
  ASSERT_EQ(close(a.release()), 0);
  CV_OPEN_OR_DIE(c, Testdata("small.txt"), O_RDONLY);
  EXPECT_EQ(c.get(), a_num);
}

TEST(OpenTest, DirectoryFlagOnFileIsENOTDIR) {
  EXPECT_ERRNO(open(Testdata("file.txt").c_str(), O_RDONLY | O_DIRECTORY),
               ENOTDIR);
}

TEST(OpenTest, DirectoryFlagOnDirectorySucceeds) {
  CV_OPEN_OR_DIE(fd, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(OpenTest, MissingFileIsENOENT) {
  EXPECT_ERRNO(open(Testdata("no_such_file").c_str(), O_RDONLY), ENOENT);
  EXPECT_ERRNO(open(Testdata("no_such_dir/x").c_str(), O_RDONLY), ENOENT);
}

TEST(OpenTest, ComponentThroughFileIsENOTDIR) {
  EXPECT_ERRNO(open(Testdata("file.txt/x").c_str(), O_RDONLY), ENOTDIR);
  EXPECT_ERRNO(open(Testdata("file.txt/..").c_str(), O_RDONLY), ENOTDIR);
}

TEST(OpenTest, TrailingSlashOnFileIsENOTDIR) {
  EXPECT_ERRNO(open(Testdata("file.txt/").c_str(), O_RDONLY), ENOTDIR);
  // A symlink to a file with a trailing slash is followed, then rejected.
  EXPECT_ERRNO(open(Testdata("rel_link/").c_str(), O_RDONLY), ENOTDIR);
}

TEST(OpenTest, TrailingSlashOnDirectoryIsFine) {
  CV_OPEN_OR_DIE(fd, Testdata("dir/"), O_RDONLY);
  CV_OPEN_OR_DIE(fd2, Testdata("dir_link/"), O_RDONLY);
  struct stat a, b;
  ASSERT_EQ(fstat(fd.get(), &a), 0);
  ASSERT_EQ(fstat(fd2.get(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST(OpenTest, SymlinksAreFollowed) {
  struct stat target, rel, abs;
  ASSERT_EQ(stat(Testdata("file.txt").c_str(), &target), 0);
  CV_OPEN_OR_DIE(r, Testdata("rel_link"), O_RDONLY);
  CV_OPEN_OR_DIE(a, Testdata("abs_link"), O_RDONLY);
  ASSERT_EQ(fstat(r.get(), &rel), 0);
  ASSERT_EQ(fstat(a.get(), &abs), 0);
  EXPECT_EQ(rel.st_ino, target.st_ino);
  EXPECT_EQ(abs.st_ino, target.st_ino);
  EXPECT_EQ(ReadAll(r.get()), ExpectedFileContent());
}

TEST(OpenTest, NoFollowOnSymlinkIsELOOP) {
  EXPECT_ERRNO(open(Testdata("rel_link").c_str(), O_RDONLY | O_NOFOLLOW),
               ELOOP);
  EXPECT_ERRNO(open(Testdata("dangling").c_str(), O_RDONLY | O_NOFOLLOW),
               ELOOP);
}

TEST(OpenTest, NoFollowAppliesOnlyToTheLastComponent) {
  CV_OPEN_OR_DIE(fd, Testdata("dir_link/a"), O_RDONLY | O_NOFOLLOW);
  EXPECT_EQ(ReadAll(fd.get()), "a\n");
}

TEST(OpenTest, NoFollowWithPathOpensTheLinkItself) {
  CV_OPEN_OR_DIE(fd, Testdata("rel_link"), O_PATH | O_NOFOLLOW);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  // An O_PATH descriptor cannot be read.
  char c;
  EXPECT_ERRNO(read(fd.get(), &c, 1), EBADF);
}

TEST(OpenTest, SymlinkLoopIsELOOP) {
  EXPECT_ERRNO(open(Testdata("loop1").c_str(), O_RDONLY), ELOOP);
  EXPECT_ERRNO(open(Testdata("self_loop").c_str(), O_RDONLY), ELOOP);
  EXPECT_ERRNO(open(Testdata("loop1/x").c_str(), O_RDONLY), ELOOP);
}

TEST(OpenTest, DanglingSymlinkIsENOENT) {
  EXPECT_ERRNO(open(Testdata("dangling").c_str(), O_RDONLY), ENOENT);
}

TEST(OpenTest, EmptyPathIsENOENT) {
  EXPECT_ERRNO(open("", O_RDONLY), ENOENT);
  EXPECT_ERRNO(openat(AT_FDCWD, "", O_RDONLY), ENOENT);
}

TEST(OpenTest, ComponentTooLongIsENAMETOOLONG) {
  const std::string name(NAME_MAX + 1, 'x');
  EXPECT_ERRNO(open(Testdata(name).c_str(), O_RDONLY), ENAMETOOLONG);
}

TEST(OpenTest, PathTooLongIsENAMETOOLONG) {
  // PATH_MAX counts the terminating NUL, so PATH_MAX bytes of path is too
  // long even though every component is short.
  std::string path;
  while (path.size() < PATH_MAX) path += "/.";
  path.resize(PATH_MAX);
  EXPECT_ERRNO(open(path.c_str(), O_RDONLY), ENAMETOOLONG);
}

TEST(OpenTest, BadPathPointerIsEFAULT) {
  EXPECT_ERRNO(syscall(SYS_open, kBadPtr, O_RDONLY, 0), EFAULT);
  EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, kBadPtr, O_RDONLY, 0), EFAULT);
}

TEST(OpenTest, CreateExclusiveOnExistingFileIsEEXIST) {
  EXPECT_ERRNO(
      open(Testdata("file.txt").c_str(), O_RDONLY | O_CREAT | O_EXCL, 0644),
      EEXIST);
}

TEST(OpenTest, WriteAccessToDirectoryIsEISDIR) {
  EXPECT_ERRNO(open(Testdata("dir").c_str(), O_WRONLY), EISDIR);
  EXPECT_ERRNO(open(Testdata("dir").c_str(), O_RDWR), EISDIR);
}

TEST(OpenatTest, RelativeToDirfd) {
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  const int fd = openat(dir.get(), "b", O_RDONLY);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ScopedFd f(fd);
  EXPECT_EQ(ReadAll(fd), "bb\n");
  // ".." from the dirfd leads back to the fixture root.
  const int up = openat(dir.get(), "../small.txt", O_RDONLY);
  ASSERT_GE(up, 0) << ErrnoName(errno);
  ScopedFd u(up);
  EXPECT_EQ(ReadAll(up), kSmallContent);
}

TEST(OpenatTest, RelativeToPathDirfd) {
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_PATH | O_DIRECTORY);
  const int fd = openat(dir.get(), "a", O_RDONLY);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ScopedFd f(fd);
  EXPECT_EQ(ReadAll(fd), "a\n");
}

TEST(OpenatTest, AbsolutePathIgnoresDirfd) {
  const int fd = openat(-1, Testdata("small.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ScopedFd f(fd);
  EXPECT_EQ(ReadAll(fd), kSmallContent);
}

TEST(OpenatTest, DirfdThatIsAFileIsENOTDIR) {
  CV_OPEN_OR_DIE(file, Testdata("file.txt"), O_RDONLY);
  EXPECT_ERRNO(openat(file.get(), "x", O_RDONLY), ENOTDIR);
}

TEST(OpenatTest, BadDirfdIsEBADF) {
  EXPECT_ERRNO(openat(-5, "x", O_RDONLY), EBADF);
  EXPECT_ERRNO(openat(9999, "x", O_RDONLY), EBADF);
}

TEST(OpenatTest, DotDotAtRootStaysAtRoot) {
  struct stat root;
  ASSERT_EQ(stat("/", &root), 0);
  for (const char* p : {"/..", "/../..", "/../../../.", "/./../"}) {
    const int fd = open(p, O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0) << p << ": " << ErrnoName(errno);
    ScopedFd f(fd);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_ino, root.st_ino) << p;
    EXPECT_EQ(st.st_dev, root.st_dev) << p;
  }
  CV_OPEN_OR_DIE(rootfd, std::string("/"), O_RDONLY | O_DIRECTORY);
  const int fd = openat(rootfd.get(), "..", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ScopedFd f(fd);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_ino, root.st_ino);
}

TEST(OpenatTest, DotDotWalksUpFromTheFixture) {
  // <testdata>/dir/sub/../../small.txt names <testdata>/small.txt.
  CV_OPEN_OR_DIE(fd, Testdata("dir/sub/../../small.txt"), O_RDONLY);
  EXPECT_EQ(ReadAll(fd.get()), kSmallContent);
}

TEST(OpenatTest, UnknownFlagsAreIgnored) {
  // open(2): unknown flag bits are silently ignored by open and openat.
  const int fd = syscall(SYS_openat, AT_FDCWD, Testdata("small.txt").c_str(),
                         O_RDONLY | 0x40000000, 0);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  close(fd);
}

// ---- read / pread64 / readv / lseek --------------------------------------

TEST(ReadTest, SequentialReadsAdvanceTheOffset) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  char buf[30];
  ASSERT_EQ(read(fd.get(), buf, 10), 10);
  EXPECT_EQ(std::string(buf, 10), "abcdefghij");
  ASSERT_EQ(read(fd.get(), buf, 20), 20);
  EXPECT_EQ(std::string(buf, 20), "klmnopqrstuvwxyzabcd");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 30);
}

TEST(ReadTest, ShortReadAtEndThenZero) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  char buf[100];
  EXPECT_EQ(read(fd.get(), buf, sizeof(buf)), 13);
  EXPECT_EQ(read(fd.get(), buf, sizeof(buf)), 0);
  EXPECT_EQ(read(fd.get(), buf, sizeof(buf)), 0);
}

TEST(ReadTest, EmptyFileReadsZero) {
  CV_OPEN_OR_DIE(fd, Testdata("empty.txt"), O_RDONLY);
  char buf[8];
  EXPECT_EQ(read(fd.get(), buf, sizeof(buf)), 0);
}

TEST(ReadTest, ZeroCountReadsZero) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  char buf[1];
  EXPECT_EQ(read(fd.get(), buf, 0), 0);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
}

TEST(ReadTest, BadBufferIsEFAULT) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(syscall(SYS_read, fd.get(), kBadPtr, 5), EFAULT);
}

TEST(ReadTest, DirectoryIsEISDIR) {
  CV_OPEN_OR_DIE(fd, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  char buf[16];
  EXPECT_ERRNO(read(fd.get(), buf, sizeof(buf)), EISDIR);
  EXPECT_ERRNO(pread(fd.get(), buf, sizeof(buf), 0), EISDIR);
}

TEST(ReadTest, BadFdIsEBADF) {
  char buf[4];
  EXPECT_ERRNO(read(-1, buf, sizeof(buf)), EBADF);
  EXPECT_ERRNO(read(9999, buf, sizeof(buf)), EBADF);
}

TEST(PreadTest, ReadsAtOffsetWithoutMovingIt) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  ASSERT_EQ(lseek(fd.get(), 5, SEEK_SET), 5);
  char buf[4];
  ASSERT_EQ(pread(fd.get(), buf, 4, 27), 4);
  EXPECT_EQ(std::string(buf, 4), "bcde");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 5);
  // Past the end: zero bytes, not an error.
  EXPECT_EQ(pread(fd.get(), buf, 4, kFileSize + 100), 0);
  // Straddling the end: short count.
  EXPECT_EQ(pread(fd.get(), buf, 4, kFileSize - 2), 2);
}

TEST(PreadTest, NegativeOffsetIsEINVAL) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  char buf[4];
  EXPECT_ERRNO(syscall(SYS_pread64, fd.get(), buf, 4, -1L), EINVAL);
}

TEST(PreadTest, DirectoryIsEISDIR) {
  CV_OPEN_OR_DIE(fd, Testdata("dir"), O_RDONLY);
  char buf[4];
  EXPECT_ERRNO(syscall(SYS_pread64, fd.get(), buf, 4, 0L), EISDIR);
}

TEST(LseekTest, Whence) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  EXPECT_EQ(lseek(fd.get(), 100, SEEK_SET), 100);
  EXPECT_EQ(lseek(fd.get(), 10, SEEK_CUR), 110);
  EXPECT_EQ(lseek(fd.get(), -20, SEEK_CUR), 90);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_END), static_cast<off_t>(kFileSize));
  EXPECT_EQ(lseek(fd.get(), -26, SEEK_END), static_cast<off_t>(kFileSize - 26));
  char buf[26];
  ASSERT_EQ(read(fd.get(), buf, sizeof(buf)), 26);
  EXPECT_EQ(std::string(buf, 26), kFilePattern);
}

TEST(LseekTest, PastEndIsAllowedAndReadsZero) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_EQ(lseek(fd.get(), 1000, SEEK_END), 1013);
  char buf[4];
  EXPECT_EQ(read(fd.get(), buf, sizeof(buf)), 0);
}

TEST(LseekTest, NegativeResultIsEINVAL) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  ASSERT_EQ(lseek(fd.get(), 5, SEEK_SET), 5);
  EXPECT_ERRNO(lseek(fd.get(), -1, SEEK_SET), EINVAL);
  EXPECT_ERRNO(lseek(fd.get(), -6, SEEK_CUR), EINVAL);
  EXPECT_ERRNO(lseek(fd.get(), -14, SEEK_END), EINVAL);
  // A failed seek leaves the offset alone.
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 5);
}

TEST(LseekTest, BadWhenceIsEINVAL) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(lseek(fd.get(), 0, 5), EINVAL);
  EXPECT_ERRNO(lseek(fd.get(), 0, -1), EINVAL);
  EXPECT_ERRNO(lseek(fd.get(), 0, 100), EINVAL);
}

TEST(LseekTest, DataAndHoleOnADenseFile) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_EQ(lseek(fd.get(), 3, SEEK_DATA), 3);
  EXPECT_EQ(lseek(fd.get(), 3, SEEK_HOLE), 13);
  EXPECT_ERRNO(lseek(fd.get(), 13, SEEK_DATA), ENXIO);
  EXPECT_ERRNO(lseek(fd.get(), 20, SEEK_HOLE), ENXIO);
}

TEST(LseekTest, BadFdIsEBADF) { EXPECT_ERRNO(lseek(9999, 0, SEEK_SET), EBADF); }

TEST(ReadvTest, SpansIovecs) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  char a[3], b[1], c[30];
  struct iovec iov[4] = {{a, sizeof(a)}, {nullptr, 0}, {b, 1}, {c, sizeof(c)}};
  ASSERT_EQ(readv(fd.get(), iov, 4), 34);
  EXPECT_EQ(std::string(a, 3), "abc");
  EXPECT_EQ(b[0], 'd');
  EXPECT_EQ(std::string(c, 30), "efghijklmnopqrstuvwxyzabcdefgh");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 34);
}

TEST(ReadvTest, StopsAtEndOfFile) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  char a[10], b[10];
  struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
  ASSERT_EQ(readv(fd.get(), iov, 2), 13);
  EXPECT_EQ(std::string(a, 10) + std::string(b, 3), kSmallContent);
  EXPECT_EQ(readv(fd.get(), iov, 2), 0);
}

TEST(ReadvTest, ZeroIovcntReadsZero) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_EQ(syscall(SYS_readv, fd.get(), nullptr, 0), 0);
}

TEST(ReadvTest, TooManyIovecsIsEINVAL) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  char byte;
  std::vector<struct iovec> iov(IOV_MAX + 1, {&byte, 1});
  EXPECT_ERRNO(syscall(SYS_readv, fd.get(), iov.data(), IOV_MAX + 1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_readv, fd.get(), iov.data(), -1), EINVAL);
  // Exactly IOV_MAX is accepted.
  EXPECT_EQ(syscall(SYS_readv, fd.get(), iov.data(), IOV_MAX), 13);
}

TEST(ReadvTest, BadIovecPointerIsEFAULT) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(syscall(SYS_readv, fd.get(), kBadPtr, 1), EFAULT);
  struct iovec iov = {kBadPtr, 4};
  EXPECT_ERRNO(syscall(SYS_readv, fd.get(), &iov, 1), EFAULT);
}

TEST(ReadvTest, NegativeLengthIsEINVAL) {
  // An iov_len that does not fit in ssize_t is rejected before any access.
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  char byte;
  struct iovec iov[2] = {{&byte, 1}, {&byte, static_cast<size_t>(-1)}};
  EXPECT_ERRNO(syscall(SYS_readv, fd.get(), iov, 2), EINVAL);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
}

TEST(PreadvTest, ReadsAtOffsetWithoutMovingIt) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  char a[2], b[2];
  struct iovec iov[2] = {{a, 2}, {b, 2}};
  ASSERT_EQ(preadv(fd.get(), iov, 2, 24), 4);
  EXPECT_EQ(std::string(a, 2) + std::string(b, 2), "yzab");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
  EXPECT_ERRNO(preadv(fd.get(), iov, 2, -1), EINVAL);
}

// ---- close / write -------------------------------------------------------

TEST(CloseTest, TwiceIsEBADF) {
  const int fd = open(Testdata("small.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(close(fd), 0);
  EXPECT_ERRNO(close(fd), EBADF);
  EXPECT_ERRNO(close(-1), EBADF);
}

TEST(CloseTest, ClosedFdCannotBeRead) {
  const int fd = open(Testdata("small.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close(fd), 0);
  char c;
  EXPECT_ERRNO(read(fd, &c, 1), EBADF);
}

TEST(WriteTest, ReadOnlyFdIsEBADF) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  EXPECT_ERRNO(write(fd.get(), "x", 1), EBADF);
  EXPECT_ERRNO(pwrite(fd.get(), "x", 1, 0), EBADF);
  struct iovec iov = {const_cast<char*>("x"), 1};
  EXPECT_ERRNO(writev(fd.get(), &iov, 1), EBADF);
  // Nothing was written.
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 13);
}

TEST(WriteTest, DirectoryFdIsEBADF) {
  CV_OPEN_OR_DIE(fd, Testdata("dir"), O_RDONLY);
  EXPECT_ERRNO(write(fd.get(), "x", 1), EBADF);
}

}  // namespace
}  // namespace cvisor::syscall_test
