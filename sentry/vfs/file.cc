#include "sentry/vfs/file.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/errno_status.h"
#include "sentry/vfs/notify.h"

namespace sentry::vfs {

// ---- IoSequence ----

IoSequence IoSequence::Buffer(void* buf, size_t len) {
  IoSequence io;
  io.buf_ = static_cast<char*>(buf);
  io.size_ = len;
  return io;
}

IoSequence IoSequence::Buffer(const void* buf, size_t len) {
  // Only CopyIn reads from it; a write never stores into its source.
  return Buffer(const_cast<void*>(buf), len);
}

IoSequence IoSequence::User(UserMemory& mem, uint64_t addr, size_t len) {
  IoSequence io;
  io.mem_ = &mem;
  io.single_ = Range{addr, len};
  io.size_ = len;
  return io;
}

IoSequence IoSequence::User(UserMemory& mem, std::vector<Range> ranges) {
  if (ranges.size() == 1) return User(mem, ranges[0].addr, ranges[0].len);
  IoSequence io;
  io.mem_ = &mem;
  io.ranges_ = std::move(ranges);
  for (const Range& r : io.ranges_) io.size_ += r.len;
  return io;
}

int IoSequence::CopyOut(size_t at, const void* src, size_t len) {
  if (len == 0) return 0;
  if (at > size_ || len > size_ - at) return -EFAULT;
  if (mem_ == nullptr) {
    memcpy(buf_ + at, src, len);
    return 0;
  }
  const char* p = static_cast<const char*>(src);
  size_t skip = at;
  const Range* rs = ranges();
  for (size_t i = 0; i < range_count(); ++i) {
    const Range& r = rs[i];
    if (len == 0) break;
    if (skip >= r.len) {
      skip -= r.len;
      continue;
    }
    size_t n = std::min(r.len - skip, len);
    if (int err = mem_->CopyOut(r.addr + skip, p, n); err != 0) return err;
    p += n;
    len -= n;
    skip = 0;
  }
  return 0;
}

int IoSequence::CopyIn(size_t at, void* dst, size_t len) {
  if (len == 0) return 0;
  if (at > size_ || len > size_ - at) return -EFAULT;
  if (mem_ == nullptr) {
    memcpy(dst, buf_ + at, len);
    return 0;
  }
  char* p = static_cast<char*>(dst);
  size_t skip = at;
  const Range* rs = ranges();
  for (size_t i = 0; i < range_count(); ++i) {
    const Range& r = rs[i];
    if (len == 0) break;
    if (skip >= r.len) {
      skip -= r.len;
      continue;
    }
    size_t n = std::min(r.len - skip, len);
    if (int err = mem_->CopyIn(r.addr + skip, p, n); err != 0) return err;
    p += n;
    len -= n;
    skip = 0;
  }
  return 0;
}

// ---- FileDescription ----

FileDescription::FileDescription(Path path, int flags)
    : path_(std::move(path)),
      // Linux drops the open-time-only flags from f_flags.
      flags_(flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) {}

FileDescription::~FileDescription() {
  NotifyClosed(*this);
  for (auto& fn : on_release_) fn();
}

void FileDescription::OnRelease(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(release_mu_);
  on_release_.push_back(std::move(fn));
}

int64_t FileDescription::Fallocate(int mode, int64_t offset, int64_t len) {
  int fd = host_fd();
  if (fd < 0) return -EOPNOTSUPP;
  if (::fallocate(fd, mode, offset, len) != 0) return -errno;
  return 0;
}

int FileDescription::SetFlags(int flags) {
  std::lock_guard<std::mutex> lock(set_flags_mu_);
  int old_flags = flags_.load(std::memory_order_relaxed);
  int new_flags =
      (old_flags & ~kSettableStatusFlags) | (flags & kSettableStatusFlags);
  if (new_flags == old_flags) return 0;
  if (int err = OnSetFlags(old_flags, new_flags); err != 0) return err;
  flags_.store(new_flags, std::memory_order_relaxed);
  return 0;
}

int FileDescription::OnSetFlags(int, int) { return 0; }

bool FileDescription::readable() const {
  int f = flags();
  if (f & O_PATH) return false;
  int acc = f & O_ACCMODE;
  return acc == O_RDONLY || acc == O_RDWR;
}

bool FileDescription::writable() const {
  int f = flags();
  if (f & O_PATH) return false;
  int acc = f & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR;
}

// A file type without read/write support: Linux's missing FMODE_CAN_READ /
// FMODE_CAN_WRITE.
int64_t FileDescription::Read(IoSequence&) { return -EINVAL; }
int64_t FileDescription::Write(IoSequence&) { return -EINVAL; }
int64_t FileDescription::PRead(IoSequence&, int64_t) {
  return stream() ? -ESPIPE : -EINVAL;
}
int64_t FileDescription::PWrite(IoSequence&, int64_t) {
  return stream() ? -ESPIPE : -EINVAL;
}
int64_t FileDescription::Seek(int64_t, int) { return -ESPIPE; }

absl::StatusOr<struct stat> FileDescription::Stat() {
  if (Inode* in = inode()) return in->Stat();
  return cv::ErrnoStatus(EBADF, "fstat of an anonymous file");
}

int64_t FileDescription::GetDents(IoSequence&, DirentFormat) {
  return -ENOTDIR;
}

int64_t FileDescription::Ioctl(uint32_t, uint64_t, UserMemory&) {
  return -ENOTTY;
}

int64_t FileDescription::ReadAt(void* buf, size_t len, int64_t offset) {
  IoSequence io = IoSequence::Buffer(buf, len);
  return PRead(io, offset);
}

PReadFn MakePReadFn(FileRef file) {
  return [file = std::move(file)](void* buf, size_t len, int64_t offset) {
    return file->ReadAt(buf, len, offset);
  };
}

// ---- directory records ----

bool AppendDirent(std::vector<char>& out, size_t limit, const DirEntry& e,
                  DirentFormat format) {
  // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen;
  //                         u8 d_type; char d_name[]; }
  // struct linux_dirent { unsigned long d_ino, d_off; u16 d_reclen;
  //                       char d_name[]; ... u8 d_type at the end }
  // Both 8-byte aligned.
  const bool is64 = format == DirentFormat::kDirent64;
  const size_t name_at = is64 ? 19 : 18;
  const size_t tail = is64 ? 1 : 2;  // the NUL, and the old format's type
  size_t reclen = (name_at + e.name.size() + tail + 7) & ~size_t{7};
  if (out.size() + reclen > limit) return false;
  size_t at = out.size();
  out.resize(at + reclen, '\0');
  char* p = out.data() + at;
  uint64_t ino = e.ino;
  int64_t off = static_cast<int64_t>(e.next_offset);
  uint16_t len16 = static_cast<uint16_t>(reclen);
  memcpy(p, &ino, 8);
  memcpy(p + 8, &off, 8);
  memcpy(p + 16, &len16, 2);
  memcpy(p + name_at, e.name.data(), e.name.size());
  if (is64) {
    p[18] = static_cast<char>(e.type);
  } else {
    p[reclen - 1] = static_cast<char>(e.type);
  }
  return true;
}

namespace {

// getdents64 fills at most this much per call: fewer entries than the
// buffer could hold is a valid answer, and it bounds the sentry's copy.
constexpr size_t kMaxDentsBytes = 64 * 1024;

class DirectoryFile final : public FileDescription {
 public:
  using FileDescription::FileDescription;

  int64_t Read(IoSequence&) override { return -EISDIR; }
  int64_t PRead(IoSequence&, int64_t) override { return -EISDIR; }
  int64_t Write(IoSequence&) override { return -EISDIR; }
  int64_t PWrite(IoSequence&, int64_t) override { return -EISDIR; }

  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t target;
    switch (whence) {
      case SEEK_SET:
        target = offset;
        break;
      case SEEK_CUR:
        if (__builtin_add_overflow(offset_, offset, &target)) return -EINVAL;
        break;
      default:
        // Directory offsets are cookies: there is no end to seek from.
        return -EINVAL;
    }
    if (target < 0) return -EINVAL;
    if (target != offset_) {
      offset_ = target;
      batch_ = DirBatch{};
      have_batch_ = false;
      next_ = 0;
    }
    return target;
  }

  int64_t GetDents(IoSequence& dst, DirentFormat format) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    size_t limit = std::min(dst.size(), kMaxDentsBytes);
    std::vector<char> out;
    const int64_t start_offset = offset_;
    const size_t start_next = next_;
    bool too_small = false;
    bool fetched = false;
    for (;;) {
      if (!have_batch_ || next_ == batch_.entries.size()) {
        if (have_batch_ && batch_.eof) break;
        absl::StatusOr<DirBatch> b = inode()->ReadDir(offset_);
        fetched = true;
        if (!b.ok()) {
          if (out.empty()) return -cv::StatusToErrno(b.status());
          break;
        }
        batch_ = *std::move(b);
        have_batch_ = true;
        next_ = 0;
        // An empty batch that is not the end would make no progress.
        if (batch_.entries.empty()) {
          batch_.eof = true;
          break;
        }
      }
      const DirEntry& e = batch_.entries[next_];
      if (!AppendDirent(out, limit, e, format)) {
        too_small = out.empty();
        break;
      }
      offset_ = static_cast<int64_t>(e.next_offset);
      ++next_;
    }
    if (out.empty()) return too_small ? -EINVAL : 0;
    if (int err = dst.CopyOut(0, out.data(), out.size()); err != 0) {
      // Nothing was delivered: the entries are listed again next time.
      offset_ = start_offset;
      if (fetched) {
        have_batch_ = false;  // the batch no longer starts at offset_
      } else {
        next_ = start_next;
      }
      return err;
    }
    return static_cast<int64_t>(out.size());
  }

 private:
  // Entries fetched from the file system but not yet returned, so a small
  // getdents buffer does not cost a new listing request each call.
  DirBatch batch_;  // guarded by offset_mu_
  bool have_batch_ = false;
  size_t next_ = 0;  // next entry of batch_ to return
};

class PathFile final : public FileDescription {
 public:
  using FileDescription::FileDescription;
  int64_t Read(IoSequence&) override { return -EBADF; }
  int64_t Write(IoSequence&) override { return -EBADF; }
  int64_t PRead(IoSequence&, int64_t) override { return -EBADF; }
  int64_t PWrite(IoSequence&, int64_t) override { return -EBADF; }
  int64_t Seek(int64_t, int) override { return -EBADF; }
  int64_t GetDents(IoSequence&, DirentFormat) override { return -EBADF; }
  int64_t Ioctl(uint32_t, uint64_t, UserMemory&) override { return -EBADF; }
};

}  // namespace

FileRef NewDirectoryFile(const Path& path, int flags) {
  return std::make_shared<DirectoryFile>(path, flags);
}

FileRef NewPathFile(const Path& path, int flags) {
  return std::make_shared<PathFile>(path, flags);
}

}  // namespace sentry::vfs
