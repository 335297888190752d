// Conformance: sendfile(2), splice(2), tee(2) and copy_file_range(2) — data
// moved, offsets used and updated, and the argument errors in Linux's order.
// Works under /dev/shm.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

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

// ---- tee ----

// Two pipes: a (the source) and b (the destination).
class TeeTest : public SpliceTest {
 protected:
  void SetUp() override {
    SpliceTest::SetUp();
    int a[2], b[2];
    ASSERT_EQ(pipe(a), 0);
    ASSERT_EQ(pipe(b), 0);
    ar_ = a[0];
    aw_ = a[1];
    br_ = b[0];
    bw_ = b[1];
  }
  void TearDown() override {
    for (int fd : {ar_, aw_, br_, bw_}) {
      if (fd >= 0) close(fd);
    }
    SpliceTest::TearDown();
  }
  static void CloseFd(int& fd) {
    close(fd);
    fd = -1;
  }
  // Reads what `fd` holds now (it is made non-blocking).
  static std::string Drain(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
    return out;
  }

  int ar_ = -1, aw_ = -1, br_ = -1, bw_ = -1;
};

TEST_F(TeeTest, DuplicatesWithoutConsuming) {
  ASSERT_EQ(write(aw_, "hello, world", 12), 12);
  EXPECT_EQ(tee(ar_, bw_, 100, 0), 12);
  // A second tee sees the same bytes again: nothing was consumed.
  EXPECT_EQ(tee(ar_, bw_, 5, 0), 5);
  EXPECT_EQ(Drain(br_), "hello, worldhello");
  EXPECT_EQ(Drain(ar_), "hello, world");
}

TEST_F(TeeTest, CopiesAcrossTheRingsWrap) {
  // Move the source's start near the end of its buffer so the data wraps.
  std::vector<char> fill(65536 - 10, 'f');
  ASSERT_EQ(write(aw_, fill.data(), fill.size()),
            static_cast<ssize_t>(fill.size()));
  ASSERT_EQ(read(ar_, fill.data(), fill.size()),
            static_cast<ssize_t>(fill.size()));
  std::string msg = data_.substr(0, 100);
  ASSERT_EQ(write(aw_, msg.data(), msg.size()), 100);
  EXPECT_EQ(tee(ar_, bw_, 1000, 0), 100);
  EXPECT_EQ(Drain(br_), msg);
  EXPECT_EQ(Drain(ar_), msg);
}

TEST_F(TeeTest, EmptyPipe) {
  EXPECT_ERRNO(tee(ar_, bw_, 10, SPLICE_F_NONBLOCK), EAGAIN);
  // O_NONBLOCK on either end counts as SPLICE_F_NONBLOCK.
  ASSERT_EQ(fcntl(bw_, F_SETFL, O_NONBLOCK), 0);
  EXPECT_ERRNO(tee(ar_, bw_, 10, 0), EAGAIN);
  ASSERT_EQ(fcntl(bw_, F_SETFL, 0), 0);
  ASSERT_EQ(fcntl(ar_, F_SETFL, O_NONBLOCK), 0);
  EXPECT_ERRNO(tee(ar_, bw_, 10, 0), EAGAIN);
  ASSERT_EQ(fcntl(ar_, F_SETFL, 0), 0);
  // No writers left: 0, blocking or not.
  CloseFd(aw_);
  EXPECT_EQ(tee(ar_, bw_, 10, 0), 0);
  EXPECT_EQ(tee(ar_, bw_, 10, SPLICE_F_NONBLOCK), 0);
}

TEST_F(TeeTest, BlocksUntilDataArrives) {
  std::thread writer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(write(aw_, "late", 4), 4);
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(tee(ar_, bw_, 10, 0), 4);
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(50));
  writer.join();
  EXPECT_EQ(Drain(br_), "late");
  EXPECT_EQ(Drain(ar_), "late");
}

TEST_F(TeeTest, BlocksUntilTheOutputHasRoom) {
  ASSERT_EQ(write(aw_, "xyz", 3), 3);
  // Fill b completely.
  ASSERT_EQ(fcntl(bw_, F_SETFL, O_NONBLOCK), 0);
  std::vector<char> big(1 << 20, 'b');
  ssize_t held = write(bw_, big.data(), big.size());
  ASSERT_GT(held, 0);
  ASSERT_EQ(fcntl(bw_, F_SETFL, 0), 0);
  EXPECT_ERRNO(tee(ar_, bw_, 3, SPLICE_F_NONBLOCK), EAGAIN);
  std::thread reader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<char> buf(held);
    ssize_t got = 0;
    while (got < held) {
      ssize_t n = read(br_, buf.data() + got, held - got);
      if (n <= 0) break;
      got += n;
    }
    EXPECT_EQ(got, held);
  });
  EXPECT_EQ(tee(ar_, bw_, 3, 0), 3);
  reader.join();
  char buf[8];
  EXPECT_EQ(read(br_, buf, sizeof buf), 3);
  EXPECT_EQ(std::string(buf, 3), "xyz");
}

TEST_F(TeeTest, NoReadersIsEpipe) {
  signal(SIGPIPE, SIG_IGN);
  ASSERT_EQ(write(aw_, "x", 1), 1);
  CloseFd(br_);
  EXPECT_ERRNO(tee(ar_, bw_, 1, 0), EPIPE);
  signal(SIGPIPE, SIG_DFL);
  // Nothing was consumed.
  EXPECT_EQ(Drain(ar_), "x");
}

TEST_F(TeeTest, FifosArePipes) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << ErrnoName(errno);
  int f = open(fifo.c_str(), O_RDWR);
  ASSERT_GE(f, 0) << ErrnoName(errno);
  ASSERT_EQ(write(f, "fifo", 4), 4);
  EXPECT_EQ(tee(f, bw_, 10, 0), 4);
  EXPECT_EQ(Drain(br_), "fifo");
  // And into a FIFO, from a pipe.
  ASSERT_EQ(write(aw_, "pipe", 4), 4);
  EXPECT_EQ(tee(ar_, f, 10, 0), 4);
  EXPECT_EQ(Drain(f), "fifopipe");
  // One FIFO opened twice is still one pipe.
  int f2 = open(fifo.c_str(), O_RDWR);
  ASSERT_GE(f2, 0) << ErrnoName(errno);
  EXPECT_ERRNO(tee(f, f2, 1, 0), EINVAL);
  close(f2);
  close(f);
  EXPECT_EQ(unlink(fifo.c_str()), 0);
}

TEST_F(TeeTest, Errors) {
  ScopedFd file(open(src_.c_str(), O_RDWR));
  ASSERT_GE(file.get(), 0);
  ASSERT_EQ(write(aw_, "x", 1), 1);
  EXPECT_ERRNO(tee(ar_, bw_, 1, 0x100), EINVAL);
  // len 0 succeeds before the descriptors are looked at.
  EXPECT_EQ(tee(-1, -1, 0, 0), 0);
  EXPECT_ERRNO(tee(-1, bw_, 1, 0), EBADF);
  EXPECT_ERRNO(tee(ar_, -1, 1, 0), EBADF);
  // Access modes are checked before the pipe test.
  EXPECT_ERRNO(tee(aw_, bw_, 1, 0), EBADF);
  EXPECT_ERRNO(tee(ar_, br_, 1, 0), EBADF);
  EXPECT_ERRNO(tee(file.get(), bw_, 1, 0), EINVAL);
  EXPECT_ERRNO(tee(ar_, file.get(), 1, 0), EINVAL);
  // Both ends of one pipe.
  EXPECT_ERRNO(tee(ar_, aw_, 1, 0), EINVAL);
  ScopedFd path_fd(open(src_.c_str(), O_PATH));
  EXPECT_ERRNO(tee(path_fd.get(), bw_, 1, 0), EBADF);
  EXPECT_EQ(Drain(br_), "");
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
