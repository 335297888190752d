#include "sentry/fs/host_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include "common/errno_status.h"
#include "sentry/fs/host_io.h"

namespace sentry::fs {
namespace {

// The kernel's struct termios (TCGETS/TCSETS), not glibc's larger one.
struct KernelTermios {
  uint32_t c_iflag;
  uint32_t c_oflag;
  uint32_t c_cflag;
  uint32_t c_lflag;
  uint8_t c_line;
  uint8_t c_cc[19];
};
static_assert(sizeof(KernelTermios) == 36);

// Waits until `fd` is ready for `events`; with timeout 0 only checks.
bool PollReady(int fd, short events, int timeout) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, timeout);
  } while (n < 0 && errno == EINTR);
  // An error or hang-up counts as ready: the read or write reports it.
  return n != 0;
}

class HostFile final : public vfs::FileDescription {
 public:
  HostFile(cv::UniqueFd fd, int flags, bool seekable)
      : FileDescription(vfs::Path{}, flags),
        fd_(std::move(fd)),
        seekable_(seekable) {}

  bool stream() const override { return !seekable_; }
  int host_fd() const override { return fd_.get(); }

  int64_t Read(vfs::IoSequence& dst) override {
    if (seekable_) {
      std::lock_guard<std::mutex> lock(offset_mu_);
      return HostRead(fd_.get(), dst, -1, /*single=*/false);
    }
    if (nonblocking()) {
      // RWF_NOWAIT gives a non-blocking read without touching the shared
      // host description's O_NONBLOCK; terminals lack it, and get a poll.
      if (nowait_works_.load(std::memory_order_relaxed)) {
        int64_t n = HostRead(fd_.get(), dst, -1, /*single=*/true, RWF_NOWAIT);
        if (n != -EOPNOTSUPP) return n;
        nowait_works_.store(false, std::memory_order_relaxed);
      }
      if (!PollReady(fd_.get(), POLLIN, 0)) return -EAGAIN;
      return HostRead(fd_.get(), dst, -1, /*single=*/true);
    }
    for (;;) {
      // Wait in an interruptible host poll rather than in read(), so that
      // a signal to the task ends the wait; the host fd may also be
      // non-blocking for someone else's sake.
      if (int rc = WaitReady(POLLIN); rc != 0) return rc;
      int64_t n = HostRead(fd_.get(), dst, -1, /*single=*/true, RWF_NOWAIT);
      if (n == -EOPNOTSUPP) {
        n = HostRead(fd_.get(), dst, -1, /*single=*/true);
      }
      if (n != -EAGAIN) return n;
    }
  }

  int64_t Write(vfs::IoSequence& src) override {
    if (seekable_) {
      std::lock_guard<std::mutex> lock(offset_mu_);
      return HostWrite(fd_.get(), src, -1);
    }
    if (nonblocking()) {
      if (nowait_works_.load(std::memory_order_relaxed)) {
        int64_t n = HostWrite(fd_.get(), src, -1, 0, RWF_NOWAIT);
        if (n != -EOPNOTSUPP) return n;
        nowait_works_.store(false, std::memory_order_relaxed);
      }
      if (!PollReady(fd_.get(), POLLOUT, 0)) return -EAGAIN;
      return HostWrite(fd_.get(), src, -1);
    }
    // A blocking write to a stream finishes, however long that takes, even
    // when the host fd is non-blocking.
    size_t done = 0;
    const size_t total = std::min(src.size(), vfs::kMaxRwCount);
    while (done < total) {
      int64_t n = HostWrite(fd_.get(), src, -1, done);
      if (n == -EAGAIN) {
        if (int rc = WaitReady(POLLOUT); rc != 0) {
          return done > 0 ? static_cast<int64_t>(done) : rc;
        }
        continue;
      }
      if (n < 0) return done > 0 ? static_cast<int64_t>(done) : n;
      if (n == 0) break;
      done += n;
      if (done < total) {
        if (int rc = WaitReady(POLLOUT); rc != 0) {
          return static_cast<int64_t>(done);
        }
      }
    }
    return static_cast<int64_t>(done);
  }

  // Sleeps until the host fd is ready for `events`: 0, or -kERestartSys
  // when the task is interrupted.
  int WaitReady(short events) {
    std::vector<pollfd> fds = {{fd_.get(), events, 0}};
    for (;;) {
      int n = vfs::HostPoll(fds, std::nullopt);
      if (n == -EINTR) return -kERestartSys;
      if (n != 0) return 0;  // ready, or an error the I/O call will report
    }
  }

  int64_t PRead(vfs::IoSequence& dst, int64_t offset) override {
    if (!seekable_) return -ESPIPE;
    return HostRead(fd_.get(), dst, offset, /*single=*/false);
  }

  int64_t PWrite(vfs::IoSequence& src, int64_t offset) override {
    if (!seekable_) return -ESPIPE;
    return HostWrite(fd_.get(), src, offset);
  }

  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    off_t r = lseek(fd_.get(), offset, whence);
    return r < 0 ? -errno : r;
  }

  absl::StatusOr<struct stat> Stat() override {
    struct stat st;
    if (fstat(fd_.get(), &st) != 0) return cv::ErrnoStatus(errno, "fstat");
    return st;
  }

  int64_t Ioctl(uint32_t cmd, uint64_t arg, vfs::UserMemory& mem) override {
    const int fd = fd_.get();
    switch (cmd) {
      case TCGETS: {
        KernelTermios t;
        if (ioctl(fd, TCGETS, &t) != 0) return -errno;
        return mem.CopyOut(arg, &t, sizeof t);
      }
      case TCSETS:
      case TCSETSW:
      case TCSETSF: {
        KernelTermios t;
        if (int err = mem.CopyIn(arg, &t, sizeof t); err != 0) {
          // Linux looks at the file before the argument: ENOTTY first.
          return isatty(fd) ? err : -ENOTTY;
        }
        return ioctl(fd, cmd, &t) != 0 ? -errno : 0;
      }
      case TIOCGWINSZ: {
        struct winsize ws;
        if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -errno;
        return mem.CopyOut(arg, &ws, sizeof ws);
      }
      case TIOCSWINSZ: {
        struct winsize ws;
        if (int err = mem.CopyIn(arg, &ws, sizeof ws); err != 0) {
          return isatty(fd) ? err : -ENOTTY;
        }
        return ioctl(fd, TIOCSWINSZ, &ws) != 0 ? -errno : 0;
      }
      case FIONREAD: {
        int n;
        if (ioctl(fd, FIONREAD, &n) != 0) return -errno;
        return mem.CopyOut(arg, &n, sizeof n);
      }
      case TCFLSH:
      case TCXONC:
        return ioctl(fd, cmd, static_cast<int>(arg)) != 0 ? -errno : 0;
      default:
        // Job control (TIOCGPGRP, TIOCSPGRP, TIOCSCTTY) names sandbox
        // process groups the host terminal knows nothing about; it needs a
        // sentry-side terminal, not forwarding.
        return -ENOTTY;
    }
  }

 protected:
  int OnSetFlags(int old_flags, int new_flags) override {
    // O_APPEND belongs to the host file description and is forwarded, as
    // an application in an ordinary container changes it on the same
    // description. O_NONBLOCK is emulated: setting it on the host would
    // change it for the terminal's other users too.
    if (((old_flags ^ new_flags) & O_APPEND) == 0) return 0;
    int host = fcntl(fd_.get(), F_GETFL);
    if (host < 0) return -errno;
    host = (host & ~O_APPEND) | (new_flags & O_APPEND);
    return fcntl(fd_.get(), F_SETFL, host) != 0 ? -errno : 0;
  }

 private:
  const cv::UniqueFd fd_;
  const bool seekable_;
  std::atomic<bool> nowait_works_{true};
};

}  // namespace

absl::StatusOr<vfs::FileRef> NewHostFile(cv::UniqueFd host_fd) {
  int flags = fcntl(host_fd.get(), F_GETFL);
  if (flags < 0) return cv::ErrnoStatus(errno, "host file F_GETFL");
  // Pipes, sockets and terminals have no offset; /dev/null and files do.
  bool seekable = lseek(host_fd.get(), 0, SEEK_CUR) >= 0 || errno != ESPIPE;
  return vfs::FileRef(
      std::make_shared<HostFile>(std::move(host_fd), flags, seekable));
}

}  // namespace sentry::fs
