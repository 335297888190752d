#include "sentry/fs/host_io.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace sentry::fs {
namespace {

// One host call moves at most this much; the sentry thread keeps one
// buffer of this size for its lifetime.
constexpr size_t kChunk = 128 * 1024;

char* Bounce() {
  static thread_local std::unique_ptr<char[]> buf;
  if (buf == nullptr) buf.reset(new char[kChunk]);
  return buf.get();
}

ssize_t ReadOnce(int fd, char* buf, size_t len, int64_t offset, int rwf) {
  ssize_t n;
  do {
    if (rwf != 0) {
      iovec iov{buf, len};
      n = preadv2(fd, &iov, 1, offset >= 0 ? offset : -1, rwf);
    } else {
      n = offset >= 0 ? pread(fd, buf, len, offset) : read(fd, buf, len);
    }
  } while (n < 0 && errno == EINTR);
  return n;
}

ssize_t WriteOnce(int fd, const char* buf, size_t len, int64_t offset,
                  int rwf) {
  ssize_t n;
  do {
    if (rwf != 0) {
      iovec iov{const_cast<char*>(buf), len};
      n = pwritev2(fd, &iov, 1, offset >= 0 ? offset : -1, rwf);
    } else {
      n = offset >= 0 ? pwrite(fd, buf, len, offset) : write(fd, buf, len);
    }
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace

int64_t HostRead(int fd, vfs::IoSequence& dst, int64_t offset, bool single,
                 int rwf) {
  char* buf = Bounce();
  const size_t total = std::min(dst.size(), vfs::kMaxRwCount);
  if (total == 0) {
    // Still ask the host: a zero-length read reports EISDIR, EBADF, ...
    ssize_t n = ReadOnce(fd, buf, 0, offset, rwf);
    return n < 0 ? -errno : 0;
  }
  size_t done = 0;
  while (done < total) {
    size_t want = std::min(kChunk, total - done);
    int64_t at = offset >= 0 ? offset + static_cast<int64_t>(done) : -1;
    ssize_t n = ReadOnce(fd, buf, want, at, rwf);
    if (n < 0) return done > 0 ? static_cast<int64_t>(done) : -errno;
    if (n == 0) break;
    if (dst.CopyOut(done, buf, n) != 0) {
      // The bytes were taken from the host fd but could not be delivered;
      // give them back where the offset allows it.
      if (offset < 0) lseek(fd, -n, SEEK_CUR);
      return done > 0 ? static_cast<int64_t>(done) : -EFAULT;
    }
    done += n;
    if (single || static_cast<size_t>(n) < want) break;
  }
  return static_cast<int64_t>(done);
}

int64_t HostWrite(int fd, vfs::IoSequence& src, int64_t offset, size_t skip,
                  int rwf) {
  char* buf = Bounce();
  const size_t total =
      skip >= src.size() ? 0 : std::min(src.size() - skip, vfs::kMaxRwCount);
  if (total == 0) {
    ssize_t n = WriteOnce(fd, buf, 0, offset, rwf);
    return n < 0 ? -errno : 0;
  }
  size_t done = 0;
  while (done < total) {
    size_t want = std::min(kChunk, total - done);
    if (src.CopyIn(skip + done, buf, want) != 0) {
      return done > 0 ? static_cast<int64_t>(done) : -EFAULT;
    }
    int64_t at = offset >= 0 ? offset + static_cast<int64_t>(done) : -1;
    ssize_t n = WriteOnce(fd, buf, want, at, rwf);
    if (n < 0) return done > 0 ? static_cast<int64_t>(done) : -errno;
    done += n;
    if (static_cast<size_t>(n) < want) break;
  }
  return static_cast<int64_t>(done);
}

int64_t HostSeekTarget(int fd, int64_t cur, int64_t offset, int whence) {
  int64_t target;
  switch (whence) {
    case SEEK_SET:
      target = offset;
      break;
    case SEEK_CUR:
      if (__builtin_add_overflow(cur, offset, &target)) return -EINVAL;
      break;
    case SEEK_END: {
      struct stat st;
      if (fstat(fd, &st) != 0) return -errno;
      if (__builtin_add_overflow(static_cast<int64_t>(st.st_size), offset,
                                 &target)) {
        return -EINVAL;
      }
      break;
    }
    case SEEK_DATA:
    case SEEK_HOLE: {
      off_t r = lseek(fd, offset, whence);
      if (r < 0) return -errno;
      target = r;
      break;
    }
    default:
      return -EINVAL;
  }
  return target < 0 ? -EINVAL : target;
}

}  // namespace sentry::fs
