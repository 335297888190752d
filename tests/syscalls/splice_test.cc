// Conformance: sendfile(2), splice(2) and copy_file_range(2) — data moved,
// offsets used and updated, and the argument errors in Linux's order.
// Works under /dev/shm.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

class SpliceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cvisor-splice-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << ErrnoName(errno);
    dir_ = tmpl;
    src_ = dir_ + "/src";
    dst_ = dir_ + "/dst";
    int fd = open(src_.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    data_.clear();
    for (int i = 0; i < 10000; ++i) data_.push_back('a' + i % 26);
    ASSERT_EQ(write(fd, data_.data(), data_.size()),
              static_cast<ssize_t>(data_.size()));
    close(fd);
  }
  void TearDown() override {
    unlink(src_.c_str());
    unlink(dst_.c_str());
    rmdir(dir_.c_str());
  }
  std::string ReadAll(const std::string& path) {
    std::string out;
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
    close(fd);
    return out;
  }

  std::string dir_, src_, dst_, data_;
};

// ---- sendfile ----

TEST_F(SpliceTest, SendfileUsesAndAdvancesTheFileOffset) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  ASSERT_EQ(lseek(in.get(), 100, SEEK_SET), 100);
  EXPECT_EQ(sendfile(out.get(), in.get(), nullptr, 500), 500);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 600);
  EXPECT_EQ(ReadAll(dst_), data_.substr(100, 500));
}

TEST_F(SpliceTest, SendfileWithOffsetLeavesTheFileOffset) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  off_t off = 9000;
  // Stops at EOF.
  EXPECT_EQ(sendfile(out.get(), in.get(), &off, 5000), 1000);
  EXPECT_EQ(off, 10000);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(sendfile(out.get(), in.get(), &off, 10), 0);
  EXPECT_EQ(ReadAll(dst_), data_.substr(9000));
}

TEST_F(SpliceTest, SendfileToAPipe) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ScopedFd r(p[0]), w(p[1]);
  EXPECT_EQ(sendfile(w.get(), in.get(), nullptr, 100), 100);
  char buf[100];
  ASSERT_EQ(read(r.get(), buf, sizeof buf), 100);
  EXPECT_EQ(std::string(buf, 100), data_.substr(0, 100));
}

TEST_F(SpliceTest, SendfileErrors) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  ScopedFd wronly(open(src_.c_str(), O_WRONLY));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ScopedFd r(p[0]), w(p[1]);
  EXPECT_ERRNO(sendfile(out.get(), -1, nullptr, 10), EBADF);
  EXPECT_ERRNO(sendfile(-1, in.get(), nullptr, 10), EBADF);
  EXPECT_ERRNO(sendfile(out.get(), wronly.get(), nullptr, 10), EBADF);
  EXPECT_ERRNO(sendfile(in.get(), in.get(), nullptr, 10), EBADF);
  // A pipe cannot be the source.
  ASSERT_EQ(write(w.get(), "x", 1), 1);
  EXPECT_ERRNO(sendfile(out.get(), r.get(), nullptr, 1), EINVAL);
  off_t off = 0;
  EXPECT_ERRNO(sendfile(out.get(), r.get(), &off, 1), ESPIPE);
  off = -1;
  EXPECT_ERRNO(sendfile(out.get(), in.get(), &off, 1), EINVAL);
  EXPECT_ERRNO(
      sendfile(out.get(), in.get(), reinterpret_cast<off_t*>(kBadPtr), 1),
      EFAULT);
  ScopedFd append(open(dst_.c_str(), O_WRONLY | O_APPEND));
  EXPECT_ERRNO(sendfile(append.get(), in.get(), nullptr, 1), EINVAL);
  EXPECT_EQ(sendfile(out.get(), in.get(), nullptr, 0), 0);
}

// ---- splice ----

TEST_F(SpliceTest, SpliceFileToPipeAndBack) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ScopedFd r(p[0]), w(p[1]);
  loff_t off_in = 26;
  EXPECT_EQ(splice(in.get(), &off_in, w.get(), nullptr, 300, 0), 300);
  EXPECT_EQ(off_in, 326);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 0);
  loff_t off_out = 1000;
  EXPECT_EQ(splice(r.get(), nullptr, out.get(), &off_out, 300, 0), 300);
  EXPECT_EQ(off_out, 1300);
  std::string got = ReadAll(dst_);
  ASSERT_EQ(got.size(), 1300u);
  EXPECT_EQ(got.substr(1000), data_.substr(26, 300));
  // Without offsets, the file offsets move.
  EXPECT_EQ(splice(in.get(), nullptr, w.get(), nullptr, 50, 0), 50);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 50);
}

TEST_F(SpliceTest, SplicePipeToPipe) {
  int a[2], b[2];
  ASSERT_EQ(pipe(a), 0);
  ASSERT_EQ(pipe(b), 0);
  ScopedFd ar(a[0]), br(b[0]), bw(b[1]);
  int aw = a[1];
  ASSERT_EQ(write(aw, "hello", 5), 5);
  EXPECT_EQ(splice(ar.get(), nullptr, bw.get(), nullptr, 100, 0), 5);
  char buf[8];
  ASSERT_EQ(read(br.get(), buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  // Empty pipe, non-blocking splice.
  EXPECT_ERRNO(
      splice(ar.get(), nullptr, bw.get(), nullptr, 100, SPLICE_F_NONBLOCK),
      EAGAIN);
  // Both ends of one pipe.
  EXPECT_ERRNO(splice(ar.get(), nullptr, aw, nullptr, 1, 0), EINVAL);
  // EOF: no writers left.
  close(aw);
  EXPECT_EQ(splice(ar.get(), nullptr, bw.get(), nullptr, 100, 0), 0);
}

TEST_F(SpliceTest, SpliceErrors) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ScopedFd r(p[0]), w(p[1]);
  // len 0 is checked before anything else.
  EXPECT_EQ(splice(-1, nullptr, -1, nullptr, 0, 0), 0);
  EXPECT_ERRNO(splice(in.get(), nullptr, w.get(), nullptr, 1, 0x100), EINVAL);
  EXPECT_ERRNO(splice(-1, nullptr, w.get(), nullptr, 1, 0), EBADF);
  EXPECT_ERRNO(splice(in.get(), nullptr, -1, nullptr, 1, 0), EBADF);
  // Neither side a pipe.
  EXPECT_ERRNO(splice(in.get(), nullptr, out.get(), nullptr, 1, 0), EINVAL);
  // An offset for the pipe side.
  loff_t off = 0;
  EXPECT_ERRNO(splice(in.get(), nullptr, w.get(), &off, 1, 0), ESPIPE);
  EXPECT_ERRNO(splice(r.get(), &off, out.get(), nullptr, 1, 0), ESPIPE);
  // Wrong access modes.
  EXPECT_ERRNO(splice(out.get(), nullptr, w.get(), nullptr, 1, 0), EBADF);
  EXPECT_ERRNO(splice(in.get(), nullptr, r.get(), nullptr, 1, 0), EBADF);
  off = -1;
  EXPECT_ERRNO(splice(in.get(), &off, w.get(), nullptr, 1, 0), EINVAL);
  ASSERT_EQ(write(w.get(), "x", 1), 1);
  ScopedFd append(open(dst_.c_str(), O_WRONLY | O_APPEND));
  EXPECT_ERRNO(splice(r.get(), nullptr, append.get(), nullptr, 1, 0), EINVAL);
}

// ---- copy_file_range ----

TEST_F(SpliceTest, CopyFileRangeCopies) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  loff_t off_in = 10, off_out = 0;
  EXPECT_EQ(copy_file_range(in.get(), &off_in, out.get(), &off_out, 100, 0),
            100);
  EXPECT_EQ(off_in, 110);
  EXPECT_EQ(off_out, 100);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(lseek(out.get(), 0, SEEK_CUR), 0);
  // With the file offsets.
  ASSERT_EQ(lseek(in.get(), 9990, SEEK_SET), 9990);
  ASSERT_EQ(lseek(out.get(), 100, SEEK_SET), 100);
  EXPECT_EQ(copy_file_range(in.get(), nullptr, out.get(), nullptr, 100, 0), 10);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 10000);
  EXPECT_EQ(lseek(out.get(), 0, SEEK_CUR), 110);
  // At EOF: nothing.
  EXPECT_EQ(copy_file_range(in.get(), nullptr, out.get(), nullptr, 100, 0), 0);
  EXPECT_EQ(ReadAll(dst_), data_.substr(10, 100) + data_.substr(9990));
}

TEST_F(SpliceTest, CopyFileRangeErrors) {
  ScopedFd in(open(src_.c_str(), O_RDONLY));
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  ScopedFd rw(open(src_.c_str(), O_RDWR));
  EXPECT_ERRNO(copy_file_range(in.get(), nullptr, out.get(), nullptr, 1, 1),
               EINVAL);
  EXPECT_ERRNO(copy_file_range(-1, nullptr, out.get(), nullptr, 1, 0), EBADF);
  EXPECT_ERRNO(copy_file_range(in.get(), nullptr, -1, nullptr, 1, 0), EBADF);
  // Wrong modes.
  EXPECT_ERRNO(copy_file_range(out.get(), nullptr, in.get(), nullptr, 1, 0),
               EBADF);
  ScopedFd append(open(dst_.c_str(), O_WRONLY | O_APPEND));
  EXPECT_ERRNO(copy_file_range(in.get(), nullptr, append.get(), nullptr, 1, 0),
               EBADF);
  // Directories and pipes.
  ScopedFd dir(open(dir_.c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_ERRNO(copy_file_range(dir.get(), nullptr, out.get(), nullptr, 1, 0),
               EISDIR);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ScopedFd r(p[0]), w(p[1]);
  EXPECT_ERRNO(copy_file_range(in.get(), nullptr, w.get(), nullptr, 1, 0),
               EINVAL);
  // Overlapping ranges of one file.
  loff_t a = 0, b = 50;
  EXPECT_ERRNO(copy_file_range(rw.get(), &a, rw.get(), &b, 100, 0), EINVAL);
  a = 0;
  b = 200;
  EXPECT_EQ(copy_file_range(rw.get(), &a, rw.get(), &b, 100, 0), 100);
  // A negative offset fails the wrap-around check.
  a = -1;
  EXPECT_ERRNO(copy_file_range(in.get(), &a, out.get(), nullptr, 1, 0),
               EOVERFLOW);
  EXPECT_ERRNO(copy_file_range(in.get(), reinterpret_cast<loff_t*>(kBadPtr),
                               out.get(), nullptr, 1, 0),
               EFAULT);
}

TEST_F(SpliceTest, CopyFileRangeAcrossFileSystemsIsExdev) {
  // /proc is never the same file system as /dev/shm.
  ScopedFd in(open("/proc/self/status", O_RDONLY));
  ASSERT_GE(in.get(), 0);
  ScopedFd out(open(dst_.c_str(), O_WRONLY | O_CREAT, 0644));
  EXPECT_ERRNO(copy_file_range(in.get(), nullptr, out.get(), nullptr, 10, 0),
               EXDEV);
}

}  // namespace
}  // namespace cvisor::syscall_test
