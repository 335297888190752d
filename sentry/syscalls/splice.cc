// Moving data between files without the application's buffers: sendfile,
// splice, tee and copy_file_range. Data moves through a sentry buffer with the
// descriptions' own Read/Write/PRead/PWrite, so every file system works;
// argument checks follow Linux's order (fs/read_write.c, fs/splice.c).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/errno_status.h"
#include "sentry/fs/pipe.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

#ifndef SPLICE_F_MOVE
#define SPLICE_F_MOVE 1
#define SPLICE_F_NONBLOCK 2
#define SPLICE_F_MORE 4
#define SPLICE_F_GIFT 8
#endif

namespace sentry {
namespace {

using A = ArgKind;

constexpr unsigned kSpliceFlags =
    SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;
// The chunk one round of copying moves through the sentry.
constexpr size_t kChunk = 64 * 1024;
constexpr int64_t kMaxOffset = std::numeric_limits<int64_t>::max();

// Lets the kernel ask a file's ioctl for a value in sentry memory.
class LocalMemory final : public vfs::UserMemory {
 public:
  int CopyIn(uint64_t addr, void* dst, size_t len) override {
    std::memcpy(dst, reinterpret_cast<const void*>(addr), len);
    return 0;
  }
  int CopyOut(uint64_t addr, const void* src, size_t len) override {
    std::memcpy(reinterpret_cast<void*>(addr), src, len);
    return 0;
  }
};

// A pipe (or FIFO) end: its capacity, or -1 for other files.
int64_t PipeCapacity(vfs::FileDescription& f) {
  int64_t cap = fs::PipeFcntl(f, F_GETPIPE_SZ, 0);
  return cap < 0 ? -1 : cap;
}

// Bytes held by a pipe.
int64_t PipeHeld(vfs::FileDescription& f) {
  int n = 0;
  LocalMemory mem;
  if (f.Ioctl(FIONREAD, reinterpret_cast<uint64_t>(&n), mem) < 0) return 0;
  return n;
}

bool IsPipe(vfs::FileDescription& f) { return fs::PipeOf(f) != nullptr; }

// Reads up to `len` bytes of `in` at `*pos` (or its file offset when pos is
// null) into buf.
int64_t ReadIn(vfs::FileDescription& in, int64_t* pos, char* buf, size_t len) {
  vfs::IoSequence seq = vfs::IoSequence::Buffer(buf, len);
  return pos != nullptr ? in.PRead(seq, *pos) : in.Read(seq);
}

int64_t WriteOut(vfs::FileDescription& out, int64_t* pos, const char* buf,
                 size_t len) {
  vfs::IoSequence seq = vfs::IoSequence::Buffer(buf, len);
  return pos != nullptr ? out.PWrite(seq, *pos) : out.Write(seq);
}

// Copies up to `count` bytes from `in` (at *in_pos, or its offset) to `out`
// (at *out_pos, or its offset), advancing the positions by what was
// written. A short write gives back the unwritten bytes by rewinding the
// input's offset, so nothing read from a seekable file is lost. Returns the
// count, or an errno if nothing moved.
int64_t CopyData(vfs::FileDescription& in, int64_t* in_pos,
                 vfs::FileDescription& out, int64_t* out_pos, size_t count,
                 bool stop_after_one_read) {
  std::vector<char> buf(std::min(count, kChunk));
  size_t done = 0;
  while (done < count) {
    size_t want = std::min(count - done, buf.size());
    int64_t n = ReadIn(in, in_pos, buf.data(), want);
    if (n <= 0) {
      if (done > 0 || n == 0) break;
      return n;
    }
    if (in_pos != nullptr) *in_pos += n;
    size_t written = 0;
    while (written < static_cast<size_t>(n)) {
      int64_t w = WriteOut(out, out_pos, buf.data() + written, n - written);
      if (w <= 0) {
        if (done + written == 0) {
          if (in_pos != nullptr) {
            *in_pos -= n;
          } else if (!in.stream()) {
            in.Seek(-n, SEEK_CUR);
          }
          return w == 0 ? -EIO : w;
        }
        break;
      }
      if (out_pos != nullptr) *out_pos += w;
      written += w;
    }
    done += written;
    if (written < static_cast<size_t>(n)) {
      int64_t unwritten = n - static_cast<int64_t>(written);
      if (in_pos != nullptr) {
        *in_pos -= unwritten;
      } else if (!in.stream()) {
        in.Seek(-unwritten, SEEK_CUR);
      }
      break;
    }
    if (static_cast<size_t>(n) < want || stop_after_one_read) break;
  }
  return static_cast<int64_t>(done);
}

// ---- sendfile ----

int64_t Sendfile(Task& t, const SyscallArgs& a) {
  int out_fd = static_cast<int>(a[0]);
  int in_fd = static_cast<int>(a[1]);
  uint64_t offset_addr = a[2];
  size_t count = std::min<uint64_t>(a[3], vfs::kMaxRwCount);
  vfs::FileRef in = t.fd_table().Get(in_fd);
  if (in == nullptr || in->is_path() || !in->readable()) return -EBADF;
  int64_t pos = 0;
  if (offset_addr != 0) {
    if (in->stream()) return -ESPIPE;
    if (int err = t.CopyInObj(offset_addr, &pos); err != 0) return err;
    if (pos < 0) return -EINVAL;
  }
  vfs::FileRef out = t.fd_table().Get(out_fd);
  if (out == nullptr || out->is_path() || !out->writable()) return -EBADF;
  // Pipes have no splice_read: they cannot be the source.
  if (IsPipe(*in)) return -EINVAL;
  if (!IsPipe(*out) && (out->flags() & O_APPEND)) return -EINVAL;
  if (count == 0) return 0;
  int64_t start = offset_addr != 0 ? pos : in->Seek(0, SEEK_CUR);
  if (start >= 0 && static_cast<uint64_t>(kMaxOffset - start) < count) {
    if (start >= kMaxOffset) return -EOVERFLOW;
    count = kMaxOffset - start;
  }
  if (IsPipe(*out)) {
    // Fill at most the room the pipe has, waiting for some when full.
    int64_t room = PipeCapacity(*out) - PipeHeld(*out);
    if (room <= 0) {
      if (out->nonblocking()) return -EAGAIN;
      room = fs::kPipeBuf;
    }
    count = std::min<size_t>(count, room);
  }
  int64_t n = CopyData(*in, offset_addr != 0 ? &pos : nullptr, *out, nullptr,
                       count, false);
  if (offset_addr != 0 && n >= 0) {
    if (int err = t.CopyOutObj(offset_addr, pos); err != 0) return err;
  }
  return n;
}

// ---- splice ----

int64_t Splice(Task& t, const SyscallArgs& a) {
  int in_fd = static_cast<int>(a[0]);
  uint64_t off_in_addr = a[1];
  int out_fd = static_cast<int>(a[2]);
  uint64_t off_out_addr = a[3];
  size_t len = std::min<uint64_t>(a[4], vfs::kMaxRwCount);
  unsigned flags = static_cast<unsigned>(a[5]);
  if (a[4] == 0) return 0;
  if (flags & ~kSpliceFlags) return -EINVAL;
  vfs::FileRef in = t.fd_table().Get(in_fd);
  if (in == nullptr || in->is_path()) return -EBADF;
  vfs::FileRef out = t.fd_table().Get(out_fd);
  if (out == nullptr || out->is_path()) return -EBADF;
  bool in_pipe = IsPipe(*in);
  bool out_pipe = IsPipe(*out);
  if (in_pipe && off_in_addr != 0) return -ESPIPE;
  if (out_pipe && off_out_addr != 0) return -ESPIPE;
  if (!in->readable() || !out->writable()) return -EBADF;
  if (!in_pipe && !out_pipe) return -EINVAL;
  bool nonblock = flags & SPLICE_F_NONBLOCK;

  int64_t in_pos = 0, out_pos = 0;
  int64_t* in_pp = nullptr;
  int64_t* out_pp = nullptr;
  if (off_in_addr != 0) {
    if (in->stream()) return -EINVAL;  // no pread on the source
    if (int err = t.CopyInObj(off_in_addr, &in_pos); err != 0) return err;
    if (in_pos < 0) return -EINVAL;
    in_pp = &in_pos;
  }
  if (off_out_addr != 0) {
    if (out->stream()) return -EINVAL;
    if (int err = t.CopyInObj(off_out_addr, &out_pos); err != 0) return err;
    if (out_pos < 0) return -EINVAL;
    out_pp = &out_pos;
  }
  if (!out_pipe && (out->flags() & O_APPEND)) return -EINVAL;
  if (in_pipe && out_pipe && fs::PipeOf(*in) == fs::PipeOf(*out)) {
    return -EINVAL;  // both ends of one pipe
  }

  if (in_pipe) {
    // Take what the pipe holds now (or wait for something, unless
    // non-blocking), as one pipe read.
    if (PipeHeld(*in) == 0 && (nonblock || in->nonblocking())) {
      // An empty pipe with no writers is EOF, not EAGAIN.
      if (in->Readiness(POLLIN | POLLHUP) & POLLHUP) return 0;
      return -EAGAIN;
    }
  }
  if (out_pipe) {
    int64_t room = PipeCapacity(*out) - PipeHeld(*out);
    if (room <= 0) {
      if (nonblock || out->nonblocking()) return -EAGAIN;
      room = fs::kPipeBuf;
    }
    len = std::min<size_t>(len, room);
  }
  int64_t n = CopyData(*in, in_pp, *out, out_pp, len, in_pipe);
  if (n < 0) return n;
  if (in_pp != nullptr) {
    if (int err = t.CopyOutObj(off_in_addr, in_pos); err != 0) return err;
  }
  if (out_pp != nullptr) {
    if (int err = t.CopyOutObj(off_out_addr, out_pos); err != 0) return err;
  }
  return n;
}

// ---- tee ----

// Duplicates pipe data into another pipe without consuming it (Linux's
// do_tee): EBADF for the access modes first, then EINVAL unless both are
// pipes and distinct.
int64_t Tee(Task& t, const SyscallArgs& a) {
  int in_fd = static_cast<int>(a[0]);
  int out_fd = static_cast<int>(a[1]);
  size_t len = a[2];
  unsigned flags = static_cast<unsigned>(a[3]);
  if (flags & ~kSpliceFlags) return -EINVAL;
  if (len == 0) return 0;
  vfs::FileRef in = t.fd_table().Get(in_fd);
  if (in == nullptr || in->is_path()) return -EBADF;
  vfs::FileRef out = t.fd_table().Get(out_fd);
  if (out == nullptr || out->is_path()) return -EBADF;
  if (!in->readable() || !out->writable()) return -EBADF;
  fs::Pipe* in_pipe = fs::PipeOf(*in);
  fs::Pipe* out_pipe = fs::PipeOf(*out);
  if (in_pipe == nullptr || out_pipe == nullptr || in_pipe == out_pipe) {
    return -EINVAL;
  }
  // Either end's O_NONBLOCK makes the whole call non-blocking.
  bool nonblock =
      (flags & SPLICE_F_NONBLOCK) || in->nonblocking() || out->nonblocking();
  int64_t n = in_pipe->TeeTo(*out_pipe, len, nonblock);
  if (n == -EPIPE) {
    // As a write to a pipe without readers.
    t.kernel().SignalThread(
        t.tid(),
        MakeSigInfo(SIGPIPE, SI_USER, t.thread_group().tgid(), t.creds().ruid));
  }
  return n;
}

// ---- copy_file_range ----

int64_t CopyFileRange(Task& t, const SyscallArgs& a) {
  int in_fd = static_cast<int>(a[0]);
  uint64_t off_in_addr = a[1];
  int out_fd = static_cast<int>(a[2]);
  uint64_t off_out_addr = a[3];
  size_t len = a[4];
  unsigned flags = static_cast<unsigned>(a[5]);
  if (flags != 0) return -EINVAL;
  vfs::FileRef in = t.fd_table().Get(in_fd);
  if (in == nullptr || in->is_path()) return -EBADF;
  vfs::FileRef out = t.fd_table().Get(out_fd);
  if (out == nullptr || out->is_path()) return -EBADF;
  int64_t in_pos = 0, out_pos = 0;
  if (off_in_addr != 0) {
    if (int err = t.CopyInObj(off_in_addr, &in_pos); err != 0) return err;
  } else {
    in_pos = in->stream() ? 0 : in->Seek(0, SEEK_CUR);
  }
  if (off_out_addr != 0) {
    if (int err = t.CopyInObj(off_out_addr, &out_pos); err != 0) return err;
  } else {
    out_pos = out->stream() ? 0 : out->Seek(0, SEEK_CUR);
  }
  // generic_file_rw_checks.
  absl::StatusOr<struct stat> in_st = in->Stat();
  absl::StatusOr<struct stat> out_st = out->Stat();
  if (!in_st.ok() || !out_st.ok()) return -EIO;
  if (S_ISDIR(in_st->st_mode) || S_ISDIR(out_st->st_mode)) return -EISDIR;
  if (!S_ISREG(in_st->st_mode) || !S_ISREG(out_st->st_mode)) return -EINVAL;
  if (!in->readable() || !out->writable() || (out->flags() & O_APPEND)) {
    return -EBADF;
  }
  // Without a file system's own copy method, Linux copies only within one
  // super block.
  if (!in->path().valid() || !out->path().valid() ||
      in->path().mount->fs() != out->path().mount->fs()) {
    return -EXDEV;
  }
  // generic_copy_file_checks: offsets that wrap (negative ones included).
  if (in_pos < 0 || out_pos < 0) return -EOVERFLOW;
  len = std::min<size_t>(len, vfs::kMaxRwCount);
  if (static_cast<uint64_t>(kMaxOffset - in_pos) < len ||
      static_cast<uint64_t>(kMaxOffset - out_pos) < len) {
    return -EOVERFLOW;
  }
  bool same =
      in_st->st_dev == out_st->st_dev && in_st->st_ino == out_st->st_ino;
  if (same &&
      static_cast<uint64_t>(out_pos) + len > static_cast<uint64_t>(in_pos) &&
      static_cast<uint64_t>(out_pos) < static_cast<uint64_t>(in_pos) + len) {
    return -EINVAL;
  }
  if (in_pos >= in_st->st_size) {
    len = 0;
  } else {
    len = std::min<uint64_t>(len, in_st->st_size - in_pos);
  }
  if (len == 0) return 0;
  int64_t n = CopyData(*in, &in_pos, *out, &out_pos, len, false);
  if (n < 0) return n;
  if (off_in_addr != 0) {
    if (int err = t.CopyOutObj(off_in_addr, in_pos); err != 0) return err;
  } else {
    in->Seek(in_pos, SEEK_SET);
  }
  if (off_out_addr != 0) {
    if (int err = t.CopyOutObj(off_out_addr, out_pos); err != 0) return err;
  } else {
    out->Seek(out_pos, SEEK_SET);
  }
  return n;
}

}  // namespace

void RegisterSpliceSyscalls(SyscallTable& table) {
  table.Register(SYS_sendfile, Sendfile, {A::kFd, A::kFd, A::kHex, A::kInt});
  table.Register(SYS_splice, Splice,
                 {A::kFd, A::kHex, A::kFd, A::kHex, A::kInt, A::kHex});
  table.Register(SYS_tee, Tee, {A::kFd, A::kFd, A::kInt, A::kHex});
  table.Register(SYS_copy_file_range, CopyFileRange,
                 {A::kFd, A::kHex, A::kFd, A::kHex, A::kInt, A::kHex});
}

}  // namespace sentry
