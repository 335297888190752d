// Anonymous pipes (pipe(2)): a byte buffer shared by a read-end and a
// write-end file description, with Linux's semantics — blocking reads and
// writes, EOF once the last writer is gone, EPIPE once the last reader is,
// PIPE_BUF-sized writes that are never interleaved, and a resizable
// capacity (F_SETPIPE_SZ).
#ifndef CVISOR_SENTRY_FS_PIPE_H_
#define CVISOR_SENTRY_FS_PIPE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "sentry/vfs/file.h"

namespace sentry::fs {

inline constexpr size_t kPipeBuf = 4096;  // PIPE_BUF
inline constexpr size_t kPipePageSize = 4096;
inline constexpr size_t kPipeDefaultSize = 65536;  // 16 pages
inline constexpr size_t kPipeMaxSize =
    1024 * 1024;  // /proc/sys/fs/pipe-max-size

// The buffer both ends share. The ends (PipeFile) count readers and writers
// for it; everything is guarded by one mutex.
class Pipe {
 public:
  Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  // Reads up to dst.size() bytes: the count, 0 at EOF (empty, no writers),
  // -EAGAIN when empty and `nonblock`, -EFAULT if nothing could be copied.
  // Blocks otherwise until data or EOF.
  int64_t Read(vfs::IoSequence& dst, bool nonblock);
  // Writes src: the count (possibly partial when `nonblock`, or when the
  // last reader goes away mid-write), -EPIPE with no readers, -EAGAIN.
  int64_t Write(vfs::IoSequence& src, bool nonblock);

  // poll events for an end that reads (`reader`) and/or writes.
  short Readiness(short mask, bool reader, bool writer);
  void AddWaiter(vfs::Waiter* w);
  void RemoveWaiter(vfs::Waiter* w);

  size_t capacity();
  size_t size();  // bytes held (FIONREAD)
  // F_SETPIPE_SZ: the new capacity, -EINVAL, -EPERM (over kPipeMaxSize) or
  // -EBUSY (smaller than the bytes held).
  int64_t SetCapacity(uint64_t bytes);

  // Called by the ends when they are created and destroyed.
  void AddEnd(bool reader, bool writer);
  void RemoveEnd(bool reader, bool writer);

  // tee(2): copies up to `len` bytes from the front of this pipe to the
  // back of `out` without consuming them. `out` must be another pipe. As
  // Linux's do_tee, waits for data here (unless `nonblock`: -EAGAIN), then
  // for room in `out` (-EAGAIN likewise); returns 0 when this pipe is empty
  // with no writers, -EPIPE when `out` has no readers (the caller sends
  // SIGPIPE), -kERestartSys when interrupted. Copies what fits at once
  // rather than waiting for all of `len`.
  int64_t TeeTo(Pipe& out, size_t len, bool nonblock);

 private:
  // Waits (mu_ held via `lock`) until `ready()` or an interrupt: 0, or
  // -kERestartSys.
  template <typename Ready>
  int WaitLocked(std::unique_lock<std::mutex>& lock, Ready ready);
  // Moves bytes between the ring buffer and an IoSequence; mu_ held.
  int CopyOutLocked(vfs::IoSequence& dst, size_t at, size_t n);
  int CopyInLocked(vfs::IoSequence& src, size_t at, size_t n);
  void Changed() { waiters_.NotifyAll(); }

  std::mutex mu_;
  std::vector<char> buf_;  // the ring; its size is the capacity
  size_t head_ = 0;        // index of the first byte held
  size_t size_ = 0;        // bytes held
  int readers_ = 0;
  int writers_ = 0;
  vfs::WaiterList waiters_;
};

// A file description that is one end of a Pipe: pipe(2)'s ends and FIFOs
// opened by name (tmpfs). Pipe-only operations (F_GETPIPE_SZ, splice, tee)
// recognise pipes by this base.
class PipeEnd : public vfs::FileDescription {
 public:
  PipeEnd(vfs::Path path, int flags, std::shared_ptr<Pipe> pipe);
  ~PipeEnd() override;

  Pipe& pipe() { return *pipe_; }
  bool reader() const { return reader_; }
  bool writer() const { return writer_; }

  bool stream() const override { return true; }
  int64_t Read(vfs::IoSequence& dst) override;
  int64_t Write(vfs::IoSequence& src) override;
  int64_t Ioctl(uint32_t cmd, uint64_t arg, vfs::UserMemory& mem) override;
  short Readiness(short mask) override;
  void AddWaiter(vfs::Waiter* w) override;
  void RemoveWaiter(vfs::Waiter* w) override;

 private:
  const std::shared_ptr<Pipe> pipe_;
  const bool reader_;
  const bool writer_;
};

// The pipe `file` is an end of, or null.
Pipe* PipeOf(vfs::FileDescription& file);

// Creates a pipe: {read end, write end}. `flags` may hold O_NONBLOCK and
// O_DIRECT (accepted; packet mode is not implemented). The inode is owned
// by `uid`/`gid`, as Linux's pipefs gives it the creator's fsuid/fsgid.
std::pair<vfs::FileRef, vfs::FileRef> NewPipe(int flags, uid_t uid = 0,
                                              gid_t gid = 0);

// fcntl F_GETPIPE_SZ / F_SETPIPE_SZ on `file` (a pipe(2) end or a FIFO):
// -EBADF if it is not a pipe, as Linux.
int64_t PipeFcntl(vfs::FileDescription& file, unsigned cmd, uint64_t arg);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_PIPE_H_
