// Host-fd-backed files (the container's stdio) over real host pipes,
// regular files and a pseudo-terminal.
#include "sentry/fs/host_file.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace sentry::fs {
namespace {

// User memory for ioctl arguments: a plain buffer at a fake address.
class FakeMemory final : public vfs::UserMemory {
 public:
  static constexpr uint64_t kBase = 0x1000;
  int CopyIn(uint64_t addr, void* dst, size_t len) override {
    if (addr < kBase || addr + len > kBase + sizeof bytes) return -EFAULT;
    memcpy(dst, bytes + (addr - kBase), len);
    return 0;
  }
  int CopyOut(uint64_t addr, const void* src, size_t len) override {
    if (addr < kBase || addr + len > kBase + sizeof bytes) return -EFAULT;
    memcpy(bytes + (addr - kBase), src, len);
    return 0;
  }
  char bytes[256] = {};
};

vfs::FileRef Wrap(int fd) {
  auto f = NewHostFile(cv::UniqueFd(fd));
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : nullptr;
}

int64_t WriteStr(const vfs::FileRef& f, const std::string& s) {
  vfs::IoSequence io = vfs::IoSequence::Buffer(s.data(), s.size());
  return f->Write(io);
}

std::string ReadStr(const vfs::FileRef& f, size_t n, int64_t* result) {
  std::string out(n, '\0');
  vfs::IoSequence io = vfs::IoSequence::Buffer(out.data(), n);
  *result = f->Read(io);
  out.resize(*result < 0 ? 0 : *result);
  return out;
}

TEST(HostFileTest, Pipe) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  vfs::FileRef r = Wrap(p[0]);
  vfs::FileRef w = Wrap(p[1]);
  EXPECT_TRUE(r->stream());
  EXPECT_TRUE(r->readable());
  EXPECT_FALSE(r->writable());
  EXPECT_TRUE(w->writable());
  EXPECT_EQ(w->flags() & O_ACCMODE, O_WRONLY);
  EXPECT_EQ(WriteStr(w, "hello"), 5);
  int64_t n;
  // A stream read returns what is there, without waiting for more.
  EXPECT_EQ(ReadStr(r, 100, &n), "hello");
  EXPECT_EQ(n, 5);
  EXPECT_EQ(r->Seek(0, SEEK_SET), -ESPIPE);
  char c;
  vfs::IoSequence one = vfs::IoSequence::Buffer(&c, 1);
  EXPECT_EQ(r->PRead(one, 0), -ESPIPE);
  auto st = r->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISFIFO(st->st_mode));
  FakeMemory mem;
  EXPECT_EQ(r->Ioctl(TCGETS, FakeMemory::kBase, mem), -ENOTTY);
  EXPECT_EQ(r->Ioctl(TIOCGWINSZ, FakeMemory::kBase, mem), -ENOTTY);
  EXPECT_EQ(r->Ioctl(TCSETS, FakeMemory::kBase, mem), -ENOTTY);
  EXPECT_EQ(r->Ioctl(0x12345678, FakeMemory::kBase, mem), -ENOTTY);
  EXPECT_EQ(WriteStr(w, "abc"), 3);
  EXPECT_EQ(r->Ioctl(FIONREAD, FakeMemory::kBase, mem), 0);
  int avail;
  memcpy(&avail, mem.bytes, sizeof avail);
  EXPECT_EQ(avail, 3);
  // End of file once the writer is gone.
  w.reset();
  EXPECT_EQ(ReadStr(r, 100, &n), "abc");
  EXPECT_EQ(ReadStr(r, 100, &n), "");
  EXPECT_EQ(n, 0);
}

TEST(HostFileTest, NonBlockingIsEmulated) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  int host_read_fd = p[0];
  vfs::FileRef r = Wrap(p[0]);
  vfs::FileRef w = Wrap(p[1]);
  ASSERT_EQ(r->SetFlags(O_NONBLOCK), 0);
  EXPECT_TRUE(r->flags() & O_NONBLOCK);
  // The host fd, shared with whoever started the container, is untouched.
  EXPECT_FALSE(fcntl(host_read_fd, F_GETFL) & O_NONBLOCK);
  int64_t n;
  ReadStr(r, 10, &n);
  EXPECT_EQ(n, -EAGAIN);
  // And the other way round: a host fd someone made non-blocking still
  // blocks for a blocking reader.
  ASSERT_EQ(r->SetFlags(0), 0);
  ASSERT_EQ(fcntl(host_read_fd, F_SETFL, O_NONBLOCK), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    WriteStr(w, "late");
  });
  EXPECT_EQ(ReadStr(r, 10, &n), "late");
  writer.join();
  // A full pipe: non-blocking writes stop short, blocking ones wait.
  ASSERT_EQ(w->SetFlags(O_NONBLOCK), 0);
  std::string big(1 << 20, 'x');
  int64_t wrote = WriteStr(w, big);
  EXPECT_GT(wrote, 0);
  EXPECT_LT(wrote, static_cast<int64_t>(big.size()));
  EXPECT_EQ(WriteStr(w, "more"), -EAGAIN);
}

TEST(HostFileTest, BlockingWriteFinishes) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);  // host side non-blocking
  vfs::FileRef r = Wrap(p[0]);
  vfs::FileRef w = Wrap(p[1]);
  ASSERT_EQ(w->SetFlags(0), 0);  // the application wants blocking writes
  std::string big(512 * 1024, 'y');
  size_t total = 0;
  std::thread reader([&] {
    std::vector<char> buf(65536);
    while (total < big.size()) {
      vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
      int64_t n = r->Read(io);
      if (n == -EAGAIN) continue;
      ASSERT_GT(n, 0);
      total += n;
    }
  });
  ASSERT_EQ(r->SetFlags(0), 0);
  EXPECT_EQ(WriteStr(w, big), static_cast<int64_t>(big.size()));
  reader.join();
  EXPECT_EQ(total, big.size());
}

TEST(HostFileTest, RegularFile) {
  char path[] = "/tmp/host_file_test.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(write(fd, "0123456789", 10), 10);
  vfs::FileRef f = Wrap(fd);
  EXPECT_FALSE(f->stream());
  // lseek is the host's: the offset is shared with the host description.
  EXPECT_EQ(f->Seek(0, SEEK_CUR), 10);
  EXPECT_EQ(f->Seek(2, SEEK_SET), 2);
  int64_t n;
  EXPECT_EQ(ReadStr(f, 3, &n), "234");
  EXPECT_EQ(lseek(f->host_fd(), 0, SEEK_CUR), 5);
  char buf[2];
  vfs::IoSequence io = vfs::IoSequence::Buffer(buf, 2);
  EXPECT_EQ(f->PRead(io, 8), 2);
  EXPECT_EQ(std::string(buf, 2), "89");
  EXPECT_EQ(f->Seek(0, SEEK_END), 10);
  EXPECT_EQ(f->Seek(-11, SEEK_END), -EINVAL);
  auto st = f->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 10);
  FakeMemory mem;
  EXPECT_EQ(f->Ioctl(TCGETS, FakeMemory::kBase, mem), -ENOTTY);
  // O_APPEND is the host description's.
  ASSERT_EQ(f->SetFlags(O_APPEND), 0);
  EXPECT_TRUE(fcntl(f->host_fd(), F_GETFL) & O_APPEND);
}

TEST(HostFileTest, DevNull) {
  vfs::FileRef f = Wrap(open("/dev/null", O_RDWR | O_CLOEXEC));
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->stream());  // /dev/null seeks
  EXPECT_EQ(WriteStr(f, "discarded"), 9);
  int64_t n;
  EXPECT_EQ(ReadStr(f, 10, &n), "");
  EXPECT_EQ(n, 0);
  EXPECT_EQ(f->Seek(100, SEEK_SET), 0);
  auto st = f->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISCHR(st->st_mode));
}

TEST(HostFileTest, Terminal) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0);
  struct winsize ws = {};
  ws.ws_row = 42;
  ws.ws_col = 132;
  ASSERT_EQ(ioctl(master, TIOCSWINSZ, &ws), 0);
  vfs::FileRef tty = Wrap(slave);
  EXPECT_TRUE(tty->stream());
  FakeMemory mem;
  ASSERT_EQ(tty->Ioctl(TIOCGWINSZ, FakeMemory::kBase, mem), 0);
  struct winsize got;
  memcpy(&got, mem.bytes, sizeof got);
  EXPECT_EQ(got.ws_row, 42);
  EXPECT_EQ(got.ws_col, 132);
  // TCGETS fills the kernel's 36-byte termios; TCSETS round-trips it.
  memset(mem.bytes, 0xff, sizeof mem.bytes);
  ASSERT_EQ(tty->Ioctl(TCGETS, FakeMemory::kBase, mem), 0);
  EXPECT_EQ(static_cast<unsigned char>(mem.bytes[36]), 0xff);  // untouched
  uint32_t lflag;
  memcpy(&lflag, mem.bytes + 12, 4);
  EXPECT_TRUE(lflag & 0000002);     // ICANON by default
  lflag &= ~(0000002u | 0000010u);  // raw: no ICANON, no ECHO
  memcpy(mem.bytes + 12, &lflag, 4);
  ASSERT_EQ(tty->Ioctl(TCSETS, FakeMemory::kBase, mem), 0);
  memset(mem.bytes, 0, sizeof mem.bytes);
  ASSERT_EQ(tty->Ioctl(TCGETS, FakeMemory::kBase, mem), 0);
  memcpy(&lflag, mem.bytes + 12, 4);
  EXPECT_FALSE(lflag & 0000002);
  EXPECT_EQ(tty->Ioctl(TCGETS, 0, mem), -EFAULT);
  // Data flows both ways.
  ASSERT_EQ(write(master, "typed", 5), 5);
  int64_t n;
  EXPECT_EQ(ReadStr(tty, 100, &n), "typed");
  EXPECT_EQ(WriteStr(tty, "shown"), 5);
  char buf[16];
  ssize_t r = read(master, buf, sizeof buf);
  EXPECT_GE(r, 5);
  EXPECT_EQ(std::string(buf, 5), "shown");
  EXPECT_EQ(tty->Seek(0, SEEK_CUR), -ESPIPE);
  close(master);
}

TEST(HostFileTest, BadFd) {
  auto f = NewHostFile(cv::UniqueFd(-1));
  EXPECT_FALSE(f.ok());
}

}  // namespace
}  // namespace sentry::fs
