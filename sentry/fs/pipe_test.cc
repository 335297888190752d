#include "sentry/fs/pipe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sentry::fs {
namespace {

int64_t WriteStr(vfs::FileDescription& f, const std::string& s) {
  vfs::IoSequence io = vfs::IoSequence::Buffer(s.data(), s.size());
  return f.Write(io);
}

int64_t WriteN(vfs::FileDescription& f, size_t n, char c = 'x') {
  std::vector<char> buf(n, c);
  vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
  return f.Write(io);
}

std::string ReadStr(vfs::FileDescription& f, size_t max, int64_t* ret) {
  std::string s(max, '\0');
  vfs::IoSequence io = vfs::IoSequence::Buffer(s.data(), s.size());
  *ret = f.Read(io);
  s.resize(*ret > 0 ? *ret : 0);
  return s;
}

// Memory for Ioctl: a plain sentry address space.
class LocalMemory final : public vfs::UserMemory {
 public:
  int CopyIn(uint64_t addr, void* dst, size_t len) override {
    memcpy(dst, reinterpret_cast<void*>(addr), len);
    return 0;
  }
  int CopyOut(uint64_t addr, const void* src, size_t len) override {
    memcpy(reinterpret_cast<void*>(addr), src, len);
    return 0;
  }
};

TEST(PipeTest, WriteThenRead) {
  auto [r, w] = NewPipe(0);
  EXPECT_EQ(WriteStr(*w, "hello"), 5);
  int64_t n;
  EXPECT_EQ(ReadStr(*r, 100, &n), "hello");
  EXPECT_EQ(n, 5);
}

TEST(PipeTest, EndsHaveAccessModesAndAreStreams) {
  auto [r, w] = NewPipe(O_NONBLOCK | O_CLOEXEC);
  EXPECT_EQ(r->flags(), O_RDONLY | O_NONBLOCK);
  EXPECT_EQ(w->flags(), O_WRONLY | O_NONBLOCK);
  EXPECT_TRUE(r->stream());
  char c;
  vfs::IoSequence io = vfs::IoSequence::Buffer(&c, 1);
  EXPECT_EQ(r->PRead(io, 0), -ESPIPE);
  EXPECT_EQ(r->Seek(0, SEEK_SET), -ESPIPE);
  absl::StatusOr<struct stat> rs = r->Stat();
  absl::StatusOr<struct stat> ws = w->Stat();
  ASSERT_TRUE(rs.ok());
  ASSERT_TRUE(ws.ok());
  EXPECT_TRUE(S_ISFIFO(rs->st_mode));
  EXPECT_EQ(rs->st_mode & 07777, 0600u);
  EXPECT_EQ(rs->st_blksize, 4096);
  EXPECT_EQ(rs->st_ino, ws->st_ino);
  auto [r2, w2] = NewPipe(0);
  EXPECT_NE(r2->Stat()->st_ino, rs->st_ino);
}

TEST(PipeTest, BlockingReadWokenByWriter) {
  auto [r, w] = NewPipe(0);
  std::atomic<bool> wrote{false};
  std::thread writer([&, w = w] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    wrote = true;
    EXPECT_EQ(WriteStr(*w, "late"), 4);
  });
  int64_t n;
  EXPECT_EQ(ReadStr(*r, 10, &n), "late");
  EXPECT_TRUE(wrote);
  writer.join();
}

TEST(PipeTest, EofWhenLastWriterCloses) {
  auto [r, w] = NewPipe(0);
  vfs::FileRef w2 = w;  // a dup: one description, still one writer
  EXPECT_EQ(WriteStr(*w, "ab"), 2);
  w.reset();
  w2.reset();
  int64_t n;
  EXPECT_EQ(ReadStr(*r, 10, &n), "ab");
  ReadStr(*r, 10, &n);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(r->Readiness(POLLIN | POLLHUP), POLLHUP);
}

TEST(PipeTest, BlockedReaderSeesEof) {
  auto [r, w] = NewPipe(0);
  std::thread closer([w = std::move(w)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    w.reset();
  });
  int64_t n;
  ReadStr(*r, 10, &n);
  EXPECT_EQ(n, 0);
  closer.join();
}

TEST(PipeTest, EpipeWithoutReaders) {
  auto [r, w] = NewPipe(0);
  r.reset();
  EXPECT_EQ(WriteStr(*w, "x"), -EPIPE);
  EXPECT_EQ(WriteStr(*w, ""), 0);
  EXPECT_EQ(w->Readiness(POLLOUT | POLLERR), POLLOUT | POLLERR);
}

TEST(PipeTest, BlockedWriterSeesEpipe) {
  auto [r, w] = NewPipe(0);
  ASSERT_EQ(WriteN(*w, kPipeDefaultSize), int64_t(kPipeDefaultSize));
  std::thread closer([r = std::move(r)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    r.reset();
  });
  EXPECT_EQ(WriteStr(*w, "x"), -EPIPE);
  closer.join();
}

TEST(PipeTest, CapacityAndNonblocking) {
  auto [r, w] = NewPipe(O_NONBLOCK);
  int64_t n;
  ReadStr(*r, 10, &n);
  EXPECT_EQ(n, -EAGAIN);
  // A big nonblocking write is cut at the capacity.
  EXPECT_EQ(WriteN(*w, 100000), 65536);
  EXPECT_EQ(WriteN(*w, 1), -EAGAIN);
  EXPECT_EQ(w->Readiness(POLLOUT), 0);
  EXPECT_EQ(r->Readiness(POLLIN), POLLIN);
  LocalMemory mem;
  int avail = 0;
  EXPECT_EQ(r->Ioctl(FIONREAD, reinterpret_cast<uint64_t>(&avail), mem), 0);
  EXPECT_EQ(avail, 65536);
  // Room for one byte is not room for an atomic 2-byte write.
  ReadStr(*r, 1, &n);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(WriteN(*w, 2), -EAGAIN);
  EXPECT_EQ(WriteN(*w, 1), 1);
}

TEST(PipeTest, BlockingBigWriteWaitsForReader) {
  auto [r, w] = NewPipe(0);
  const size_t total = 300000;
  std::thread writer([&, w = w] {
    std::vector<char> buf(total);
    for (size_t i = 0; i < total; i++) buf[i] = static_cast<char>(i % 251);
    vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
    EXPECT_EQ(w->Write(io), int64_t(total));
  });
  size_t got = 0;
  bool ok = true;
  while (got < total) {
    std::vector<char> buf(7000);
    vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
    int64_t n = r->Read(io);
    ASSERT_GT(n, 0);
    for (int64_t i = 0; i < n; i++) {
      ok &= buf[i] == static_cast<char>((got + i) % 251);
    }
    got += n;
  }
  EXPECT_TRUE(ok);
  writer.join();
}

TEST(PipeTest, SmallWritesAreAtomicUnderConcurrentWriters) {
  auto [r, w] = NewPipe(0);
  constexpr int kWrites = 200;
  constexpr size_t kLen = 3000;  // <= PIPE_BUF; 21 of them overflow 64 KiB
  vfs::FileDescription* wp = w.get();
  auto writer = [wp](char c) {
    for (int i = 0; i < kWrites; i++) {
      ASSERT_EQ(WriteN(*wp, kLen, c), int64_t(kLen));
    }
  };
  std::thread a(writer, 'a');
  std::thread b(writer, 'b');
  // Each write must come out as kLen bytes of one letter, contiguous.
  std::string all;
  while (all.size() < 2 * kWrites * kLen) {
    int64_t n;
    std::string s = ReadStr(*r, 5000, &n);
    ASSERT_GT(n, 0);
    all += s;
  }
  a.join();
  b.join();
  ASSERT_EQ(all.size(), 2 * kWrites * kLen);
  for (size_t i = 0; i < all.size(); i += kLen) {
    ASSERT_EQ(std::string(kLen, all[i]), all.substr(i, kLen)) << "at " << i;
  }
}

TEST(PipeTest, SetPipeSize) {
  auto [r, w] = NewPipe(O_NONBLOCK);
  EXPECT_EQ(PipeFcntl(*r, F_GETPIPE_SZ, 0), 65536);
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, 1), 4096);
  EXPECT_EQ(PipeFcntl(*r, F_GETPIPE_SZ, 0), 4096);
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, 5000), 8192);
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, 0), 4096);
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, kPipeMaxSize), int64_t(kPipeMaxSize));
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, kPipeMaxSize + 1), -EPERM);
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, 8192), 8192);
  // Data survives a resize, in order, even when wrapped in the ring.
  EXPECT_EQ(WriteN(*w, 8000, 'a'), 8000);
  int64_t n;
  ReadStr(*r, 7000, &n);
  EXPECT_EQ(n, 7000);
  EXPECT_EQ(WriteStr(*w, std::string(3500, 'b')), 3500);  // wraps
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, 4096), -EBUSY);   // 4500 held
  EXPECT_EQ(PipeFcntl(*w, F_SETPIPE_SZ, 16384), 16384);
  std::string s = ReadStr(*r, 10000, &n);
  EXPECT_EQ(s, std::string(1000, 'a') + std::string(3500, 'b'));
  EXPECT_EQ(WriteN(*w, 20000), 16384);
  // Not a pipe / not a pipe command.
  EXPECT_EQ(PipeFcntl(*w, F_GETFL, 0), -EINVAL);
}

TEST(PipeTest, PipeOfKnowsTheEnds) {
  auto [r, w] = NewPipe(0);
  ASSERT_NE(PipeOf(*r), nullptr);
  EXPECT_EQ(PipeOf(*r), PipeOf(*w));
  auto [r2, w2] = NewPipe(0);
  EXPECT_NE(PipeOf(*r2), PipeOf(*r));
}

TEST(PipeTest, TeeCopiesWithoutConsuming) {
  auto [ar, aw] = NewPipe(O_NONBLOCK);
  auto [br, bw] = NewPipe(O_NONBLOCK);
  Pipe& a = *PipeOf(*ar);
  Pipe& b = *PipeOf(*br);
  EXPECT_EQ(a.TeeTo(a, 10, true), -EINVAL);
  EXPECT_EQ(a.TeeTo(b, 10, true), -EAGAIN);  // empty, writers left
  // Wrap the source's data around the end of its ring.
  EXPECT_EQ(PipeFcntl(*aw, F_SETPIPE_SZ, 4096), 4096);
  EXPECT_EQ(WriteN(*aw, 4000), 4000);
  int64_t n;
  ReadStr(*ar, 4000, &n);
  EXPECT_EQ(WriteStr(*aw, std::string(200, 'w')), 200);
  EXPECT_EQ(a.TeeTo(b, 150, true), 150);
  EXPECT_EQ(a.TeeTo(b, 1000, true), 200);
  EXPECT_EQ(a.size(), 200u);
  EXPECT_EQ(ReadStr(*br, 1000, &n), std::string(350, 'w'));
  // The output's room bounds the copy; a full output is EAGAIN.
  EXPECT_EQ(PipeFcntl(*bw, F_SETPIPE_SZ, 4096), 4096);
  EXPECT_EQ(WriteN(*bw, 4000), 4000);
  EXPECT_EQ(a.TeeTo(b, 1000, true), 96);
  EXPECT_EQ(a.TeeTo(b, 1000, true), -EAGAIN);
  // No readers on the output.
  br.reset();
  EXPECT_EQ(a.TeeTo(b, 1000, true), -EPIPE);
  // Empty with no writers: 0.
  auto [cr, cw] = NewPipe(0);
  cw.reset();
  auto [dr, dw] = NewPipe(0);
  EXPECT_EQ(PipeOf(*cr)->TeeTo(*PipeOf(*dr), 10, false), 0);
}

TEST(PipeTest, BlockingTeeWokenByWriter) {
  auto [ar, aw] = NewPipe(0);
  auto [br, bw] = NewPipe(0);
  std::thread writer([&, aw = aw] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(WriteStr(*aw, "late"), 4);
  });
  EXPECT_EQ(PipeOf(*ar)->TeeTo(*PipeOf(*br), 10, false), 4);
  writer.join();
  int64_t n;
  EXPECT_EQ(ReadStr(*br, 10, &n), "late");
  EXPECT_EQ(ReadStr(*ar, 10, &n), "late");
}

// A waiter registered on a pipe hears about writes and closes.
TEST(PipeTest, WaiterNotified) {
  struct Counter final : vfs::Waiter {
    std::atomic<int> n{0};
    void Notify() override { n++; }
  } c;
  auto [r, w] = NewPipe(0);
  r->AddWaiter(&c);
  EXPECT_EQ(WriteStr(*w, "x"), 1);
  EXPECT_GE(c.n.load(), 1);
  int before = c.n;
  w.reset();
  EXPECT_GT(c.n.load(), before);
  r->RemoveWaiter(&c);
  before = c.n;
  int64_t n;
  ReadStr(*r, 10, &n);
  EXPECT_EQ(c.n.load(), before);
}

}  // namespace
}  // namespace sentry::fs
