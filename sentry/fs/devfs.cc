#include "sentry/fs/devfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/random.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "common/errno_status.h"

namespace sentry::fs {
namespace {

constexpr blksize_t kBlockSize = 4096;
// tmpfs counts this many bytes of directory size per entry, starting at two
// (for "." and ".."): Linux's BOGO_DIRENT_SIZE.
constexpr off_t kBogoDirentSize = 20;
// What one copy to or from application memory moves at most.
constexpr size_t kChunk = 64 * 1024;
constexpr size_t kPageSize = 4096;
// What RNDGETENTCNT reports once the pool is initialised (POOL_READY_BITS).
constexpr int kPoolReadyBits = 256;

// Each devfs gets its own anonymous device number. The minors start far
// above those a host hands out, so st_dev never equals one the gofer passes
// through from the host (which would make `find -xdev` or `du -x` treat
// /dev as part of the root file system).
std::atomic<unsigned> next_devfs_minor{0xf0000};

const std::array<char, kChunk> kZeros{};

enum class Device { kNull, kZero, kFull, kRandom, kURandom, kTty };

struct DeviceSpec {
  const char* name;
  Device device;
  unsigned major;
  unsigned minor;
};

// Linux's numbers (Documentation/admin-guide/devices.txt), in the order
// runc creates them.
constexpr DeviceSpec kDevices[] = {
    {"null", Device::kNull, 1, 3},       {"zero", Device::kZero, 1, 5},
    {"full", Device::kFull, 1, 7},       {"random", Device::kRandom, 1, 8},
    {"urandom", Device::kURandom, 1, 9}, {"tty", Device::kTty, 5, 0},
};

struct SymlinkSpec {
  const char* name;
  const char* target;
};

constexpr SymlinkSpec kSymlinks[] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
    {"ptmx", "pts/ptmx"},
};

class DevfsFileSystem final : public vfs::FileSystem {
 public:
  std::string_view type() const override { return "tmpfs"; }
};

// Every devfs inode is fixed when the tree is built, attributes included,
// so none needs a lock.
class DevfsInode : public vfs::Inode {
 public:
  explicit DevfsInode(const struct stat& st) : Inode(st.st_mode), st_(st) {}

  absl::StatusOr<struct stat> Stat() override { return st_; }
  // As the tmpfs runtimes mount on /dev, with nothing to count.
  absl::StatusOr<struct statfs> StatFs() override {
    struct statfs s = {};
    s.f_type = 0x01021994;  // TMPFS_MAGIC
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_namelen = 255;
    s.f_flags = ST_NOSUID;
    return s;
  }

  uint64_t ino() const { return st_.st_ino; }
  uint8_t dirent_type() const { return IFTODT(st_.st_mode); }

 protected:
  struct stat st_;
};

class DevfsDir final : public DevfsInode {
 public:
  // `parent_ino` is what ".." lists: the directory itself for the root, as
  // for any file system root on Linux.
  DevfsDir(const struct stat& st, uint64_t parent_ino)
      : DevfsInode(st), parent_ino_(parent_ino) {
    st_.st_nlink = 2;
    st_.st_size = 2 * kBogoDirentSize;
  }

  // While building the tree only.
  void Add(std::string name, std::shared_ptr<DevfsInode> child) {
    st_.st_size += kBogoDirentSize;
    if (child->IsDir()) st_.st_nlink++;
    children_.emplace_back(std::move(name), std::move(child));
  }

  absl::StatusOr<vfs::InodeRef> Lookup(const std::string& name) override {
    for (const auto& [n, child] : children_) {
      if (n == name) return vfs::InodeRef(child);
    }
    return cv::ErrnoStatus(ENOENT);
  }

  // ".", "..", then the entries in creation order; entry i ends at offset
  // i + 1.
  absl::StatusOr<vfs::DirBatch> ReadDir(uint64_t offset) override {
    vfs::DirBatch b;
    const uint64_t total = children_.size() + 2;
    for (uint64_t i = offset; i < total; ++i) {
      if (i == 0) {
        b.entries.push_back({".", ino(), DT_DIR, 1});
      } else if (i == 1) {
        b.entries.push_back({"..", parent_ino_, DT_DIR, 2});
      } else {
        const auto& [name, child] = children_[i - 2];
        b.entries.push_back({name, child->ino(), child->dirent_type(), i + 1});
      }
    }
    b.eof = true;
    return b;
  }

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override {
    return vfs::NewDirectoryFile(path, flags);
  }

 private:
  const uint64_t parent_ino_;
  std::vector<std::pair<std::string, std::shared_ptr<DevfsInode>>> children_;
};

class DevfsSymlink final : public DevfsInode {
 public:
  DevfsSymlink(const struct stat& st, std::string target)
      : DevfsInode(st), target_(std::move(target)) {
    st_.st_size = static_cast<off_t>(target_.size());
  }

  absl::StatusOr<std::string> Readlink() override { return target_; }

  // The VFS follows symlinks or refuses them before asking to open one.
  absl::StatusOr<vfs::FileRef> Open(const vfs::Path&, int) override {
    return cv::ErrnoStatus(ELOOP);
  }

 private:
  const std::string target_;
};

// ---- copying to and from application memory ----

// Copies `len` bytes from `src` into `dst` at `at` and returns how many
// landed: on a fault, the range is retried a page at a time, so that a read
// faulting part way reports the bytes delivered before the fault, as Linux
// does.
size_t CopyOutPartial(vfs::IoSequence& dst, size_t at, const char* src,
                      size_t len) {
  if (dst.CopyOut(at, src, len) == 0) return len;
  size_t done = 0;
  while (done < len) {
    size_t n = std::min(kPageSize, len - done);
    if (dst.CopyOut(at + done, src + done, n) != 0) break;
    done += n;
  }
  return done;
}

// The same for taking data from `src` at `at` into `dst`.
size_t CopyInPartial(vfs::IoSequence& src, size_t at, char* dst, size_t len) {
  if (src.CopyIn(at, dst, len) == 0) return len;
  size_t done = 0;
  while (done < len) {
    size_t n = std::min(kPageSize, len - done);
    if (src.CopyIn(at + done, dst + done, n) != 0) break;
    done += n;
  }
  return done;
}

// Linux's answer for an I/O that stopped at a fault after `done` bytes.
int64_t FaultResult(size_t done) {
  return done > 0 ? static_cast<int64_t>(done) : -EFAULT;
}

int64_t ReadZeros(vfs::IoSequence& dst) {
  size_t done = 0;
  while (done < dst.size()) {
    size_t n = std::min(kChunk, dst.size() - done);
    size_t landed = CopyOutPartial(dst, done, kZeros.data(), n);
    done += landed;
    if (landed < n) return FaultResult(done);
  }
  return static_cast<int64_t>(done);
}

// getrandom(2) for /dev/random and /dev/urandom, which since Linux 5.18
// read the same generator and differ only in whether they wait for it to be
// initialised.
int64_t ReadRandom(vfs::IoSequence& dst, unsigned int flags) {
  if (dst.size() == 0) return 0;
  std::vector<char> buf(std::min(kChunk, dst.size()));
  size_t done = 0;
  while (done < dst.size()) {
    size_t n = std::min(buf.size(), dst.size() - done);
    ssize_t got = getrandom(buf.data(), n, flags);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && (flags & GRND_INSECURE)) {
        flags &= ~GRND_INSECURE;  // a host older than 5.6
        continue;
      }
      int err = errno;
      return done > 0 ? static_cast<int64_t>(done) : -err;
    }
    size_t landed =
        CopyOutPartial(dst, done, buf.data(), static_cast<size_t>(got));
    done += landed;
    if (landed < static_cast<size_t>(got)) return FaultResult(done);
  }
  return static_cast<int64_t>(done);
}

// A write to /dev/random or /dev/urandom: Linux mixes the bytes into its
// input pool, so it reads them (and faults on bad memory). The sentry has
// no pool of its own and must not stir the host's: it reads and drops them.
int64_t ConsumeWrite(vfs::IoSequence& src) {
  if (src.size() == 0) return 0;
  std::vector<char> buf(std::min(kChunk, src.size()));
  size_t done = 0;
  while (done < src.size()) {
    size_t n = std::min(buf.size(), src.size() - done);
    size_t taken = CopyInPartial(src, done, buf.data(), n);
    done += taken;
    if (taken < n) return FaultResult(done);
  }
  return static_cast<int64_t>(done);
}

// ---- the devices ----

// An open memory device (Linux's drivers/char/mem.c and random.c). None of
// them has a position: reads and writes leave the offset at 0, pread and
// pwrite ignore theirs, and lseek returns 0 whatever it is asked.
class DeviceFile final : public vfs::FileDescription {
 public:
  DeviceFile(const vfs::Path& path, int flags, Device device)
      : FileDescription(path, flags), device_(device) {}

  int64_t Read(vfs::IoSequence& dst) override {
    switch (device_) {
      case Device::kNull:
        return 0;
      case Device::kZero:
      case Device::kFull:
        return ReadZeros(dst);
      case Device::kRandom:
        // Blocks only until the host's generator is initialised, which it
        // is long before a container starts.
        return ReadRandom(dst, nonblocking() ? GRND_NONBLOCK : 0);
      case Device::kURandom:
        return ReadRandom(dst, GRND_INSECURE);
      case Device::kTty:
        break;
    }
    return -EIO;
  }

  int64_t Write(vfs::IoSequence& src) override {
    switch (device_) {
      case Device::kNull:
      case Device::kZero:
        // Never looks at the data: even a bad buffer "succeeds".
        return static_cast<int64_t>(src.size());
      case Device::kFull:
        // Even for a count of 0, as Linux's write_full.
        return -ENOSPC;
      case Device::kRandom:
      case Device::kURandom:
        return ConsumeWrite(src);
      case Device::kTty:
        break;
    }
    return -EIO;
  }

  int64_t PRead(vfs::IoSequence& dst, int64_t) override { return Read(dst); }
  int64_t PWrite(vfs::IoSequence& src, int64_t) override { return Write(src); }
  int64_t Seek(int64_t, int) override { return 0; }

  int64_t Ioctl(uint32_t cmd, uint64_t arg, vfs::UserMemory& mem) override {
    if (device_ != Device::kRandom && device_ != Device::kURandom) {
      return -ENOTTY;
    }
    switch (cmd) {
      case RNDGETENTCNT: {
        int bits = kPoolReadyBits;
        return mem.CopyOut(arg, &bits, sizeof bits);
      }
      case RNDADDTOENTCNT:
      case RNDADDENTROPY:
      case RNDZAPENTCNT:
      case RNDCLEARPOOL:
      case RNDRESEEDCRNG:
        // Linux wants CAP_SYS_ADMIN for these; the sandbox never lets a
        // container credit or clear the host's pool.
        return -EPERM;
      default:
        return -EINVAL;  // random.c's answer to an unknown command
    }
  }

 private:
  const Device device_;
};

class DevfsCharDevice final : public DevfsInode {
 public:
  DevfsCharDevice(const struct stat& st, Device device)
      : DevfsInode(st), device_(device) {}

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override {
    if (device_ == Device::kTty) {
      // /dev/tty names the caller's controlling terminal; without one
      // Linux's tty_open fails with ENXIO.
      return cv::ErrnoStatus(ENXIO, "open /dev/tty: no controlling terminal");
    }
    return vfs::FileRef(std::make_shared<DeviceFile>(path, flags, device_));
  }

 private:
  const Device device_;
};

// Builds the stat every devfs inode starts from: root-owned, every time set
// to when the file system was made.
class StatMaker {
 public:
  StatMaker() : dev_(makedev(0, next_devfs_minor.fetch_add(1))) {
    clock_gettime(CLOCK_REALTIME, &now_);
  }

  struct stat Make(mode_t mode, dev_t rdev = 0) {
    struct stat st = {};
    st.st_dev = dev_;
    st.st_ino = next_ino_++;
    st.st_mode = mode;
    st.st_nlink = 1;
    st.st_rdev = rdev;
    st.st_blksize = kBlockSize;
    st.st_atim = st.st_mtim = st.st_ctim = now_;
    return st;
  }

 private:
  const dev_t dev_;
  struct timespec now_;
  uint64_t next_ino_ = 1;
};

}  // namespace

DevfsMount NewDevfs() {
  StatMaker stats;
  struct stat root_st = stats.Make(S_IFDIR | 0755);
  auto root = std::make_shared<DevfsDir>(root_st, root_st.st_ino);
  for (const DeviceSpec& d : kDevices) {
    root->Add(d.name, std::make_shared<DevfsCharDevice>(
                          stats.Make(S_IFCHR | 0666, makedev(d.major, d.minor)),
                          d.device));
  }
  for (const SymlinkSpec& l : kSymlinks) {
    root->Add(l.name, std::make_shared<DevfsSymlink>(stats.Make(S_IFLNK | 0777),
                                                     l.target));
  }
  // Docker mounts a tmpfs on shm and a devpts on pts; until then they are
  // plain directories with those mounts' root modes.
  root->Add("pts", std::make_shared<DevfsDir>(stats.Make(S_IFDIR | 0755),
                                              root_st.st_ino));
  root->Add("shm", std::make_shared<DevfsDir>(
                       stats.Make(S_IFDIR | S_ISVTX | 0777), root_st.st_ino));

  DevfsMount m;
  m.fs = std::make_shared<DevfsFileSystem>();
  m.root = vfs::Dentry::NewRoot(std::move(root));
  return m;
}

absl::Status MountDevfs(const vfs::FsContext& fs) {
  // The kernel's own lookup: no permission checks.
  vfs::ResolveContext ctx = vfs::MakeResolveContext(fs, nullptr, fs.root());
  absl::StatusOr<vfs::Path> dev =
      vfs::ResolvePath(ctx, "/dev", vfs::kFollowFinal);
  if (!dev.ok()) {
    int err = cv::StatusToErrno(dev.status());
    if (err == ENOENT) {
      return absl::NotFoundError(
          "/dev does not exist in the container's root file system");
    }
    return cv::ErrnoStatus(err, "looking up /dev in the container's root");
  }
  if (!dev->dentry->IsDir()) {
    return absl::NotFoundError(
        "/dev in the container's root file system is not a directory");
  }
  DevfsMount m = NewDevfs();
  return fs.mount_namespace()
      ->AddMount(*dev, std::move(m.fs), std::move(m.root), kDevfsMountFlags)
      .status();
}

}  // namespace sentry::fs
