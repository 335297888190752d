#include "sentry/fs/pipe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/errno_status.h"

namespace sentry::fs {

// ---- Pipe ----

Pipe::Pipe() : buf_(kPipeDefaultSize) {}

size_t Pipe::capacity() {
  std::lock_guard<std::mutex> lock(mu_);
  return buf_.size();
}

size_t Pipe::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

int Pipe::CopyOutLocked(vfs::IoSequence& dst, size_t at, size_t n) {
  size_t cap = buf_.size();
  size_t first = std::min(n, cap - head_);
  if (int err = dst.CopyOut(at, buf_.data() + head_, first); err) return err;
  return dst.CopyOut(at + first, buf_.data(), n - first);
}

int Pipe::CopyInLocked(vfs::IoSequence& src, size_t at, size_t n) {
  size_t cap = buf_.size();
  size_t tail = (head_ + size_) % cap;
  size_t first = std::min(n, cap - tail);
  if (int err = src.CopyIn(at, buf_.data() + tail, first); err) return err;
  return src.CopyIn(at + first, buf_.data(), n - first);
}

int64_t Pipe::Read(vfs::IoSequence& dst, bool nonblock) {
  size_t want = std::min(dst.size(), vfs::kMaxRwCount);
  if (want == 0) return 0;
  // Registered on the pipe only while this thread sleeps; removed before
  // returning on every path (it lives on this stack).
  vfs::SyncWaiter w;
  bool registered = false;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    int64_t result;
    if (size_ > 0) {
      // Like Linux, return what is there rather than waiting for `want`.
      size_t n = std::min(want, size_);
      result = CopyOutLocked(dst, 0, n);
      if (result == 0) {
        head_ = (head_ + n) % buf_.size();
        size_ -= n;
        if (size_ == 0) head_ = 0;
        result = static_cast<int64_t>(n);
      }
    } else if (writers_ == 0) {
      result = 0;  // EOF
    } else if (nonblock) {
      result = -EAGAIN;
    } else {
      if (!registered) {
        waiters_.Add(&w);
        registered = true;
      }
      lock.unlock();
      int rc = w.WaitInterruptible();
      lock.lock();
      if (rc != -EINTR) continue;
      result = -kERestartSys;
    }
    if (registered) waiters_.Remove(&w);
    if (result > 0) Changed();  // room for writers
    return result;
  }
}

int64_t Pipe::Write(vfs::IoSequence& src, bool nonblock) {
  const size_t total = std::min(src.size(), vfs::kMaxRwCount);
  // A null write succeeds even without readers, as on Linux.
  if (total == 0) return 0;
  vfs::SyncWaiter w;
  bool registered = false;
  size_t written = 0;
  int64_t result;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (readers_ == 0) {
      // The write syscall sends the writer SIGPIPE on EPIPE.
      result = written > 0 ? static_cast<int64_t>(written) : -EPIPE;
      break;
    }
    size_t room = buf_.size() - size_;
    size_t n;
    if (total <= kPipeBuf) {
      // Atomic: all at once or not at all, so concurrent small writes never
      // interleave.
      n = room >= total ? total : 0;
    } else {
      n = std::min(room, total - written);
    }
    if (n > 0) {
      if (int err = CopyInLocked(src, written, n); err) {
        result = written > 0 ? static_cast<int64_t>(written) : err;
        break;
      }
      size_ += n;
      written += n;
      Changed();
      if (written == total) {
        result = static_cast<int64_t>(written);
        break;
      }
      continue;
    }
    if (nonblock) {
      result = written > 0 ? static_cast<int64_t>(written) : -EAGAIN;
      break;
    }
    if (!registered) {
      waiters_.Add(&w);
      registered = true;
    }
    lock.unlock();
    int rc = w.WaitInterruptible();
    lock.lock();
    if (rc == -EINTR) {
      // What was written stays written; with nothing written the write
      // restarts or fails with EINTR.
      result = written > 0 ? static_cast<int64_t>(written) : -kERestartSys;
      break;
    }
  }
  if (registered) waiters_.Remove(&w);
  return result;
}

short Pipe::Readiness(short mask, bool reader, bool writer) {
  std::lock_guard<std::mutex> lock(mu_);
  short ev = 0;
  // Linux's pipe_poll: POLLHUP on the read side once every writer is gone
  // (with POLLIN too while data remains), POLLERR on the write side once
  // every reader is gone. "Writable" there means a free page slot; with a
  // byte buffer that is room for a PIPE_BUF write.
  if (reader) {
    if (size_ > 0) ev |= POLLIN | POLLRDNORM;
    if (writers_ == 0) ev |= POLLHUP;
  }
  if (writer) {
    if (buf_.size() - size_ >= kPipeBuf) ev |= POLLOUT | POLLWRNORM;
    if (readers_ == 0) ev |= POLLERR;
  }
  return ev & mask;
}

void Pipe::AddWaiter(vfs::Waiter* w) {
  std::lock_guard<std::mutex> lock(mu_);
  waiters_.Add(w);
}

void Pipe::RemoveWaiter(vfs::Waiter* w) {
  std::lock_guard<std::mutex> lock(mu_);
  waiters_.Remove(w);
}

int64_t Pipe::SetCapacity(uint64_t bytes) {
  // Linux's round_pipe_size: at least a page, a power of two, and sizes
  // over 2^31 do not round to anything.
  if (bytes > (uint64_t{1} << 31)) return -EINVAL;
  size_t cap = kPipePageSize;
  while (cap < bytes) cap <<= 1;
  std::lock_guard<std::mutex> lock(mu_);
  // Root may exceed pipe-max-size on Linux (CAP_SYS_RESOURCE); the sandbox
  // holds every pipe at or below it.
  if (cap > buf_.size() && cap > kPipeMaxSize) return -EPERM;
  if (cap < size_) return -EBUSY;
  if (cap != buf_.size()) {
    std::vector<char> next(cap);
    size_t first = std::min(size_, buf_.size() - head_);
    memcpy(next.data(), buf_.data() + head_, first);
    memcpy(next.data() + first, buf_.data(), size_ - first);
    buf_ = std::move(next);
    head_ = 0;
    Changed();  // growing makes room
  }
  return static_cast<int64_t>(cap);
}

void Pipe::AddEnd(bool reader, bool writer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reader) readers_++;
  if (writer) writers_++;
}

void Pipe::RemoveEnd(bool reader, bool writer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reader) readers_--;
  if (writer) writers_--;
  // Blocked writers see EPIPE, blocked readers EOF, pollers HUP/ERR.
  Changed();
}

template <typename Ready>
int Pipe::WaitLocked(std::unique_lock<std::mutex>& lock, Ready ready) {
  // Registered before `ready` is first checked, so a change made between
  // the check and the sleep still wakes this thread.
  vfs::SyncWaiter w;
  waiters_.Add(&w);
  int result = 0;
  while (!ready()) {
    lock.unlock();
    int rc = w.WaitInterruptible();
    lock.lock();
    if (rc == -EINTR) {
      result = -kERestartSys;
      break;
    }
  }
  waiters_.Remove(&w);
  return result;
}

int64_t Pipe::TeeTo(Pipe& out, size_t len, bool nonblock) {
  if (&out == this) return -EINVAL;
  len = std::min(len, vfs::kMaxRwCount);
  if (len == 0) return 0;
  // Linux's ipipe_prep: wait for data unless there are no writers (then
  // the copy below finds nothing and returns 0).
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (size_ == 0 && writers_ > 0) {
      if (nonblock) return -EAGAIN;
      if (int rc = WaitLocked(lock, [&] { return size_ > 0 || writers_ == 0; });
          rc != 0) {
        return rc;
      }
    }
  }
  // opipe_prep: wait for room in the output while it has readers.
  {
    std::unique_lock<std::mutex> lock(out.mu_);
    auto room_or_no_readers = [&] {
      return out.size_ < out.buf_.size() || out.readers_ == 0;
    };
    if (!room_or_no_readers()) {
      if (nonblock) return -EAGAIN;
      if (int rc = out.WaitLocked(lock, room_or_no_readers); rc != 0) {
        return rc;
      }
    }
  }
  // link_pipe: copy what is held now and fits now. Another reader may have
  // drained the input meanwhile; like Linux, that gives 0.
  std::scoped_lock both(mu_, out.mu_);
  if (out.readers_ == 0) return -EPIPE;
  size_t n = std::min({len, size_, out.buf_.size() - out.size_});
  const size_t in_cap = buf_.size();
  const size_t out_cap = out.buf_.size();
  size_t done = 0;
  while (done < n) {
    size_t from = (head_ + done) % in_cap;
    size_t to = (out.head_ + out.size_ + done) % out_cap;
    size_t chunk = std::min({n - done, in_cap - from, out_cap - to});
    memcpy(out.buf_.data() + to, buf_.data() + from, chunk);
    done += chunk;
  }
  if (n > 0) {
    out.size_ += n;
    out.Changed();
  }
  return static_cast<int64_t>(n);
}

// ---- the ends ----

PipeEnd::PipeEnd(vfs::Path path, int flags, std::shared_ptr<Pipe> pipe)
    : FileDescription(std::move(path), flags),
      pipe_(std::move(pipe)),
      reader_(readable()),
      writer_(writable()) {
  pipe_->AddEnd(reader_, writer_);
}

// The last fd (dup'd or inherited) sharing this end is gone.
PipeEnd::~PipeEnd() { pipe_->RemoveEnd(reader_, writer_); }

int64_t PipeEnd::Read(vfs::IoSequence& dst) {
  return pipe_->Read(dst, nonblocking());
}

int64_t PipeEnd::Write(vfs::IoSequence& src) {
  return pipe_->Write(src, nonblocking());
}

int64_t PipeEnd::Ioctl(uint32_t cmd, uint64_t arg, vfs::UserMemory& mem) {
  if (cmd == FIONREAD) {
    int n = static_cast<int>(pipe_->size());
    return mem.CopyOut(arg, &n, sizeof n);
  }
  return -ENOTTY;
}

short PipeEnd::Readiness(short mask) {
  return pipe_->Readiness(mask, reader_, writer_);
}

void PipeEnd::AddWaiter(vfs::Waiter* w) { pipe_->AddWaiter(w); }
void PipeEnd::RemoveWaiter(vfs::Waiter* w) { pipe_->RemoveWaiter(w); }

Pipe* PipeOf(vfs::FileDescription& file) {
  auto* end = dynamic_cast<PipeEnd*>(&file);
  return end != nullptr ? &end->pipe() : nullptr;
}

namespace {

// pipefs is an anonymous (unnamed) file system on Linux; any dev_t with
// major 0 says as much.
const dev_t kPipeFsDev = makedev(0, 13);

std::atomic<ino_t> next_pipe_ino{1};

struct PipeInodeAttrs {
  ino_t ino;
  uid_t uid;
  gid_t gid;
  timespec created;
};

class PipeFile final : public PipeEnd {
 public:
  PipeFile(std::shared_ptr<Pipe> pipe, int flags, const PipeInodeAttrs& attrs)
      : PipeEnd(vfs::Path{}, flags, std::move(pipe)), attrs_(attrs) {}

  absl::StatusOr<struct stat> Stat() override {
    struct stat st = {};
    st.st_dev = kPipeFsDev;
    st.st_ino = attrs_.ino;
    st.st_mode = S_IFIFO | 0600;
    st.st_nlink = 1;
    st.st_uid = attrs_.uid;
    st.st_gid = attrs_.gid;
    st.st_blksize = kPipePageSize;
    st.st_atim = st.st_mtim = st.st_ctim = attrs_.created;
    return st;
  }

 private:
  const PipeInodeAttrs attrs_;
};

}  // namespace

std::pair<vfs::FileRef, vfs::FileRef> NewPipe(int flags, uid_t uid, gid_t gid) {
  auto pipe = std::make_shared<Pipe>();
  PipeInodeAttrs attrs{next_pipe_ino.fetch_add(1), uid, gid, {}};
  clock_gettime(CLOCK_REALTIME, &attrs.created);
  // As Linux's create_pipe_files: only O_NONBLOCK and O_DIRECT carry over,
  // and no O_LARGEFILE.
  int status = flags & (O_NONBLOCK | O_DIRECT);
  vfs::FileRef r = std::make_shared<PipeFile>(pipe, O_RDONLY | status, attrs);
  vfs::FileRef w = std::make_shared<PipeFile>(pipe, O_WRONLY | status, attrs);
  return {std::move(r), std::move(w)};
}

int64_t PipeFcntl(vfs::FileDescription& file, unsigned cmd, uint64_t arg) {
  Pipe* p = PipeOf(file);
  if (p == nullptr) return -EBADF;
  switch (cmd) {
    case F_GETPIPE_SZ:
      return static_cast<int64_t>(p->capacity());
    case F_SETPIPE_SZ:
      // The kernel takes the argument as an unsigned int.
      return p->SetCapacity(static_cast<uint32_t>(arg));
    default:
      return -EINVAL;
  }
}

}  // namespace sentry::fs
