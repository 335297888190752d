// devfs mounted on /dev of an in-memory root, used through the VFS as a
// task would: open, read/write/seek, stat, getdents, readlink, ioctl.
#include "sentry/fs/devfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/random.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/errno_status.h"
#include "gtest/gtest.h"
#include "sentry/vfs/test_fs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {
namespace {

using vfs::testing::MemFs;

// Application memory for tests: one mapped range; any copy touching a byte
// outside it faults as a whole.
class FakeMemory final : public vfs::UserMemory {
 public:
  static constexpr uint64_t kBase = 0x10000;
  explicit FakeMemory(size_t size, char fill = 0) : bytes(size, fill) {}
  int CopyIn(uint64_t addr, void* dst, size_t len) override {
    if (!Valid(addr, len)) return -EFAULT;
    memcpy(dst, bytes.data() + (addr - kBase), len);
    return 0;
  }
  int CopyOut(uint64_t addr, const void* src, size_t len) override {
    if (!Valid(addr, len)) return -EFAULT;
    memcpy(bytes.data() + (addr - kBase), src, len);
    return 0;
  }
  bool Valid(uint64_t addr, size_t len) const {
    return addr >= kBase && addr + len <= kBase + bytes.size();
  }
  std::vector<char> bytes;
};

bool AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

class DevfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_fs_ = std::make_shared<MemFs>();
    root_fs_->Dir("dev");
    root_fs_->File("etc/passwd", "root:x:0:0\n");
    ns_ = vfs::MountNamespace::New(root_fs_,
                                   vfs::Dentry::NewRoot(root_fs_->root), 0);
    ctx_ = vfs::FsContext::New(ns_);
    ASSERT_TRUE(MountDevfs(*ctx_).ok());
    user_.ruid = user_.euid = user_.suid = user_.fsuid = 1000;
    user_.rgid = user_.egid = user_.sgid = user_.fsgid = 1000;
  }

  absl::StatusOr<vfs::FileRef> Open(const std::string& path, int flags,
                                    const Credentials* creds = nullptr) {
    return vfs::OpenAt(*ctx_, creds ? *creds : root_, vfs::Path{}, path, flags,
                       0644);
  }
  vfs::FileRef MustOpen(const std::string& path, int flags) {
    absl::StatusOr<vfs::FileRef> f = Open(path, flags);
    EXPECT_TRUE(f.ok()) << path << ": " << f.status();
    return f.ok() ? *f : nullptr;
  }
  int OpenErr(const std::string& path, int flags) {
    return cv::StatusToErrno(Open(path, flags).status());
  }

  absl::StatusOr<vfs::Path> Resolve(const std::string& path, int flags) {
    vfs::ResolveContext ctx = vfs::MakeResolveContext(*ctx_, nullptr);
    return vfs::ResolvePath(ctx, path, flags);
  }
  struct stat Lstat(const std::string& path) {
    absl::StatusOr<vfs::Path> p = Resolve(path, 0);
    EXPECT_TRUE(p.ok()) << path << ": " << p.status();
    struct stat st = {};
    if (!p.ok()) return st;
    absl::StatusOr<struct stat> got = p->inode()->Stat();
    EXPECT_TRUE(got.ok()) << path;
    if (got.ok()) st = *got;
    return st;
  }

  static int64_t Read(vfs::FileDescription& f, std::vector<char>& buf) {
    vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
    return f.Read(io);
  }
  static int64_t Write(vfs::FileDescription& f, const std::string& s) {
    vfs::IoSequence io = vfs::IoSequence::Buffer(s.data(), s.size());
    return f.Write(io);
  }

  // Every record of a directory, by name: {ino, type}. Uses a small buffer
  // so that the listing takes several getdents calls.
  std::map<std::string, std::pair<uint64_t, uint8_t>> List(
      const std::string& path, size_t bufsize = 64) {
    std::map<std::string, std::pair<uint64_t, uint8_t>> out;
    vfs::FileRef d = MustOpen(path, O_RDONLY | O_DIRECTORY);
    if (d == nullptr) return out;
    std::vector<char> buf(bufsize);
    for (;;) {
      vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
      int64_t n = d->GetDents64(io);
      EXPECT_GE(n, 0);
      if (n <= 0) break;
      for (int64_t at = 0; at < n;) {
        uint64_t ino;
        uint16_t reclen;
        memcpy(&ino, buf.data() + at, 8);
        memcpy(&reclen, buf.data() + at + 16, 2);
        uint8_t type = static_cast<uint8_t>(buf[at + 18]);
        std::string name(buf.data() + at + 19);
        EXPECT_EQ(out.count(name), 0u) << name << " listed twice";
        out[name] = {ino, type};
        at += reclen;
      }
    }
    return out;
  }

  std::shared_ptr<MemFs> root_fs_;
  std::shared_ptr<vfs::MountNamespace> ns_;
  std::shared_ptr<vfs::FsContext> ctx_;
  Credentials root_;
  Credentials user_;
};

TEST_F(DevfsTest, MountedOnDevAsTmpfsNosuid) {
  vfs::MountRef dev_mount;
  for (const vfs::MountRef& m : ns_->Mounts()) {
    if (m->mountpoint() != nullptr && m->mountpoint()->name() == "dev") {
      dev_mount = m;
    }
  }
  ASSERT_NE(dev_mount, nullptr);
  EXPECT_EQ(dev_mount->fs()->type(), "tmpfs");
  EXPECT_EQ(dev_mount->flags(), MS_NOSUID);
  EXPECT_FALSE(dev_mount->readonly());

  absl::StatusOr<vfs::Path> dev = Resolve("/dev", vfs::kFollowFinal);
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ(dev->mount, dev_mount);
  EXPECT_EQ(dev->dentry, dev_mount->root());
  // ".." leaves the mount for the root's root.
  absl::StatusOr<vfs::Path> up = Resolve("/dev/..", vfs::kFollowFinal);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(*up, ns_->root());
}

TEST_F(DevfsTest, RootDirectoryAttributes) {
  struct stat st = Lstat("/dev");
  EXPECT_EQ(st.st_mode, S_IFDIR | 0755u);
  EXPECT_EQ(st.st_nlink, 4u);  // ".", the entry in its parent, pts/.., shm/..
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_EQ(st.st_size, 40 + 13 * 20);  // tmpfs's BOGO_DIRENT_SIZE count
  EXPECT_EQ(major(st.st_dev), 0u);
  EXPECT_NE(st.st_dev, 0u);

  struct stat shm = Lstat("/dev/shm");
  EXPECT_EQ(shm.st_mode, S_IFDIR | S_ISVTX | 0777u);
  EXPECT_EQ(shm.st_nlink, 2u);
  struct stat pts = Lstat("/dev/pts");
  EXPECT_EQ(pts.st_mode, S_IFDIR | 0755u);
  EXPECT_EQ(pts.st_nlink, 2u);
}

TEST_F(DevfsTest, CharacterDevicesStatAsLinux) {
  const std::map<std::string, dev_t> devices = {
      {"null", makedev(1, 3)},    {"zero", makedev(1, 5)},
      {"full", makedev(1, 7)},    {"random", makedev(1, 8)},
      {"urandom", makedev(1, 9)}, {"tty", makedev(5, 0)},
  };
  struct stat dir = Lstat("/dev");
  for (const auto& [name, rdev] : devices) {
    SCOPED_TRACE(name);
    struct stat st = Lstat("/dev/" + name);
    EXPECT_EQ(st.st_mode, S_IFCHR | 0666u);
    EXPECT_EQ(st.st_rdev, rdev);
    EXPECT_EQ(st.st_nlink, 1u);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, 0u);
    EXPECT_EQ(st.st_size, 0);
    EXPECT_EQ(st.st_blksize, 4096);
    EXPECT_EQ(st.st_dev, dir.st_dev);
    EXPECT_GT(st.st_mtim.tv_sec, 0);
    EXPECT_EQ(st.st_mtim.tv_sec, dir.st_mtim.tv_sec);
    EXPECT_EQ(st.st_ctim.tv_nsec, st.st_mtim.tv_nsec);
    EXPECT_EQ(st.st_atim.tv_sec, st.st_mtim.tv_sec);
  }
  // An open file reports the same.
  vfs::FileRef f = MustOpen("/dev/zero", O_RDONLY);
  ASSERT_NE(f, nullptr);
  absl::StatusOr<struct stat> fst = f->Stat();
  ASSERT_TRUE(fst.ok());
  EXPECT_EQ(fst->st_rdev, makedev(1, 5));
  EXPECT_EQ(fst->st_ino, Lstat("/dev/zero").st_ino);
}

TEST_F(DevfsTest, InodeNumbersAreUniqueAndMatchTheListing) {
  auto entries = List("/dev");
  std::set<uint64_t> inos;
  for (const auto& [name, e] : entries) {
    if (name == "." || name == "..") continue;
    SCOPED_TRACE(name);
    struct stat st = Lstat("/dev/" + name);
    EXPECT_EQ(e.first, st.st_ino);
    EXPECT_TRUE(inos.insert(st.st_ino).second);
  }
  EXPECT_TRUE(inos.insert(Lstat("/dev").st_ino).second);
  EXPECT_EQ(inos.size(), 14u);
}

TEST_F(DevfsTest, GetdentsListsEverythingWithTypes) {
  const std::map<std::string, uint8_t> expected = {
      {".", DT_DIR},       {"..", DT_DIR},     {"null", DT_CHR},
      {"zero", DT_CHR},    {"full", DT_CHR},   {"random", DT_CHR},
      {"urandom", DT_CHR}, {"tty", DT_CHR},    {"fd", DT_LNK},
      {"stdin", DT_LNK},   {"stdout", DT_LNK}, {"stderr", DT_LNK},
      {"ptmx", DT_LNK},    {"shm", DT_DIR},    {"pts", DT_DIR},
  };
  for (size_t bufsize : {64, 4096}) {
    SCOPED_TRACE(bufsize);
    auto entries = List("/dev", bufsize);
    std::map<std::string, uint8_t> types;
    for (const auto& [name, e] : entries) types[name] = e.second;
    EXPECT_EQ(types, expected);
    // The root's ".." is itself, as for any file system root.
    uint64_t root_ino = Lstat("/dev").st_ino;
    EXPECT_EQ(entries["."].first, root_ino);
    EXPECT_EQ(entries[".."].first, root_ino);
  }

  for (const char* sub : {"/dev/shm", "/dev/pts"}) {
    SCOPED_TRACE(sub);
    auto entries = List(sub);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries["."].first, Lstat(sub).st_ino);
    EXPECT_EQ(entries[".."].first, Lstat("/dev").st_ino);
  }
}

TEST_F(DevfsTest, GetdentsWithTooSmallBufferIsEinval) {
  vfs::FileRef d = MustOpen("/dev", O_RDONLY | O_DIRECTORY);
  ASSERT_NE(d, nullptr);
  char buf[8];
  vfs::IoSequence io = vfs::IoSequence::Buffer(buf, sizeof buf);
  EXPECT_EQ(d->GetDents64(io), -EINVAL);
}

TEST_F(DevfsTest, Symlinks) {
  const std::map<std::string, std::string> links = {
      {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
      {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
      {"ptmx", "pts/ptmx"},
  };
  for (const auto& [name, target] : links) {
    SCOPED_TRACE(name);
    absl::StatusOr<vfs::Path> p = Resolve("/dev/" + name, 0);
    ASSERT_TRUE(p.ok());
    absl::StatusOr<std::string> t = p->inode()->Readlink();
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, target);
    struct stat st = Lstat("/dev/" + name);
    EXPECT_EQ(st.st_mode, S_IFLNK | 0777u);
    EXPECT_EQ(st.st_size, static_cast<off_t>(target.size()));
    EXPECT_EQ(st.st_nlink, 1u);
    EXPECT_EQ(OpenErr("/dev/" + name, O_RDONLY | O_NOFOLLOW), ELOOP);
  }
  // There is no /proc in this root, and no /dev/pts/ptmx yet: they dangle.
  EXPECT_EQ(OpenErr("/dev/stdout", O_WRONLY), ENOENT);
  EXPECT_EQ(OpenErr("/dev/ptmx", O_RDWR), ENOENT);
  // Readlink of a non-symlink.
  absl::StatusOr<vfs::Path> null = Resolve("/dev/null", 0);
  ASSERT_TRUE(null.ok());
  EXPECT_EQ(cv::StatusToErrno(null->inode()->Readlink().status()), EINVAL);
}

TEST_F(DevfsTest, NullReadsEofAndSwallowsWrites) {
  vfs::FileRef f = MustOpen("/dev/null", O_RDWR);
  ASSERT_NE(f, nullptr);
  std::vector<char> buf(100, 'x');
  EXPECT_EQ(Read(*f, buf), 0);
  EXPECT_EQ(Write(*f, "hello"), 5);
  EXPECT_EQ(Write(*f, ""), 0);
  vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
  EXPECT_EQ(f->PRead(io, 1000), 0);
  EXPECT_EQ(f->PWrite(io, 1000), 100);
  // The data is never read: a bad buffer still "succeeds".
  FakeMemory mem(16);
  vfs::IoSequence bad = vfs::IoSequence::User(mem, 0x1000, 1 << 20);
  EXPECT_EQ(f->Write(bad), 1 << 20);
}

TEST_F(DevfsTest, SeekAlwaysReturnsZero) {
  for (const char* name :
       {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}) {
    SCOPED_TRACE(name);
    vfs::FileRef f = MustOpen(name, O_RDONLY);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->Seek(100, SEEK_SET), 0);
    EXPECT_EQ(f->Seek(5, SEEK_END), 0);
    EXPECT_EQ(f->Seek(-7, SEEK_CUR), 0);
    std::vector<char> buf(10);
    Read(*f, buf);
    EXPECT_EQ(f->Seek(0, SEEK_CUR), 0);  // reads do not move the offset
    EXPECT_FALSE(f->stream());
  }
}

TEST_F(DevfsTest, ZeroReadsZerosIntoApplicationMemory) {
  vfs::FileRef f = MustOpen("/dev/zero", O_RDWR);
  ASSERT_NE(f, nullptr);
  // A large read spread over three iovecs, into memory full of 0xff.
  const size_t kSize = 3 * 1024 * 1024 + 17;
  FakeMemory mem(kSize, '\xff');
  const uint64_t b = FakeMemory::kBase;
  vfs::IoSequence io = vfs::IoSequence::User(
      mem, {{b, 5},
            {b + 5, 1024 * 1024},
            {b + 5 + 1024 * 1024, kSize - 5 - 1024 * 1024}});
  EXPECT_EQ(f->Read(io), static_cast<int64_t>(kSize));
  EXPECT_TRUE(AllZero(mem.bytes.data(), kSize));

  // pread is the same; a sentry buffer too.
  std::vector<char> buf(70000, 'x');
  vfs::IoSequence bio = vfs::IoSequence::Buffer(buf.data(), buf.size());
  EXPECT_EQ(f->PRead(bio, 12345), 70000);
  EXPECT_TRUE(AllZero(buf.data(), buf.size()));
  EXPECT_EQ(Write(*f, "ignored"), 7);
}

TEST_F(DevfsTest, ZeroReadStopsAtAFault) {
  vfs::FileRef f = MustOpen("/dev/zero", O_RDONLY);
  ASSERT_NE(f, nullptr);
  // Three pages mapped, five asked for: the mapped part is delivered.
  FakeMemory mem(3 * 4096, '\xff');
  vfs::IoSequence io = vfs::IoSequence::User(mem, FakeMemory::kBase, 5 * 4096);
  EXPECT_EQ(f->Read(io), 3 * 4096);
  EXPECT_TRUE(AllZero(mem.bytes.data(), mem.bytes.size()));
  // Nothing mapped: EFAULT.
  vfs::IoSequence none = vfs::IoSequence::User(mem, 0x1000, 100);
  EXPECT_EQ(f->Read(none), -EFAULT);
}

TEST_F(DevfsTest, FullReadsZerosAndRefusesWrites) {
  vfs::FileRef f = MustOpen("/dev/full", O_RDWR);
  ASSERT_NE(f, nullptr);
  std::vector<char> buf(5000, 'x');
  EXPECT_EQ(Read(*f, buf), 5000);
  EXPECT_TRUE(AllZero(buf.data(), buf.size()));
  EXPECT_EQ(Write(*f, "data"), -ENOSPC);
  EXPECT_EQ(Write(*f, ""), -ENOSPC);
  vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), 10);
  EXPECT_EQ(f->PWrite(io, 0), -ENOSPC);
}

TEST_F(DevfsTest, RandomDevicesReadRandomBytes) {
  for (const char* name : {"/dev/random", "/dev/urandom"}) {
    for (int flags : {O_RDONLY, O_RDONLY | O_NONBLOCK}) {
      SCOPED_TRACE(std::string(name) + (flags & O_NONBLOCK ? " nonblock" : ""));
      vfs::FileRef f = MustOpen(name, flags);
      ASSERT_NE(f, nullptr);
      std::vector<char> a(4096), b(4096);
      EXPECT_EQ(Read(*f, a), 4096);
      EXPECT_EQ(Read(*f, b), 4096);
      EXPECT_NE(a, b);
      EXPECT_FALSE(AllZero(a.data(), a.size()));
      // More than one getrandom chunk, into application memory.
      FakeMemory mem(200000);
      vfs::IoSequence io =
          vfs::IoSequence::User(mem, FakeMemory::kBase, mem.bytes.size());
      EXPECT_EQ(f->PRead(io, 0), 200000);
      EXPECT_FALSE(AllZero(mem.bytes.data() + 190000, 10000));
    }
  }
}

TEST_F(DevfsTest, RandomWritesAreAcceptedButRead) {
  vfs::FileRef f = MustOpen("/dev/urandom", O_WRONLY);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Write(*f, "some entropy"), 12);
  FakeMemory mem(2 * 4096);
  vfs::IoSequence part =
      vfs::IoSequence::User(mem, FakeMemory::kBase, 4 * 4096);
  EXPECT_EQ(f->Write(part), 2 * 4096);
  vfs::IoSequence bad = vfs::IoSequence::User(mem, 0x1000, 10);
  EXPECT_EQ(f->Write(bad), -EFAULT);
}

TEST_F(DevfsTest, RandomIoctls) {
  vfs::FileRef f = MustOpen("/dev/random", O_RDONLY);
  ASSERT_NE(f, nullptr);
  FakeMemory mem(64);
  EXPECT_EQ(f->Ioctl(RNDGETENTCNT, FakeMemory::kBase, mem), 0);
  int bits;
  memcpy(&bits, mem.bytes.data(), sizeof bits);
  EXPECT_EQ(bits, 256);
  EXPECT_EQ(f->Ioctl(RNDGETENTCNT, 0x1000, mem), -EFAULT);
  EXPECT_EQ(f->Ioctl(RNDZAPENTCNT, 0, mem), -EPERM);
  EXPECT_EQ(f->Ioctl(0x5401 /* TCGETS */, FakeMemory::kBase, mem), -EINVAL);

  vfs::FileRef null = MustOpen("/dev/null", O_RDONLY);
  ASSERT_NE(null, nullptr);
  EXPECT_EQ(null->Ioctl(RNDGETENTCNT, FakeMemory::kBase, mem), -ENOTTY);
}

TEST_F(DevfsTest, TtyWithoutControllingTerminalIsEnxio) {
  EXPECT_EQ(OpenErr("/dev/tty", O_RDWR), ENXIO);
  EXPECT_EQ(OpenErr("/dev/tty", O_RDONLY | O_NOCTTY), ENXIO);
  // O_PATH does not reach the driver.
  EXPECT_TRUE(Open("/dev/tty", O_PATH).ok());
}

TEST_F(DevfsTest, ShellRedirectionOpensWork) {
  // `cmd > /dev/null` and `cmd 2>/dev/null` as busybox ash opens them,
  // and as an unprivileged user (the devices are 0666).
  for (const Credentials* who : {&root_, &user_}) {
    for (int flags : {O_WRONLY | O_CREAT | O_TRUNC,
                      O_WRONLY | O_CREAT | O_APPEND, O_RDONLY, O_RDWR}) {
      SCOPED_TRACE(flags);
      absl::StatusOr<vfs::FileRef> f = Open("/dev/null", flags, who);
      ASSERT_TRUE(f.ok()) << f.status();
      EXPECT_EQ((*f)->flags() & O_ACCMODE, flags & O_ACCMODE);
      EXPECT_EQ((*f)->flags() & (O_CREAT | O_TRUNC), 0);
    }
  }
  EXPECT_EQ(OpenErr("/dev/null", O_RDONLY | O_DIRECTORY), ENOTDIR);
}

TEST_F(DevfsTest, NoCreationOrMissingNames) {
  EXPECT_EQ(OpenErr("/dev/nonexistent", O_RDONLY), ENOENT);
  EXPECT_EQ(OpenErr("/dev/null/x", O_RDONLY), ENOTDIR);
  EXPECT_EQ(OpenErr("/dev", O_WRONLY), EISDIR);
  // Creating a file is refused (whatever errno the VFS gives) and leaves
  // nothing behind.
  EXPECT_NE(OpenErr("/dev/newfile", O_WRONLY | O_CREAT), 0);
  EXPECT_EQ(OpenErr("/dev/newfile", O_RDONLY), ENOENT);
  EXPECT_EQ(OpenErr("/dev/shm/x", O_RDWR | O_CREAT),
            OpenErr("/dev/newfile", O_WRONLY | O_CREAT));
}

TEST(DevfsMountTest, EachInstanceHasItsOwnDevice) {
  DevfsMount a = NewDevfs();
  DevfsMount b = NewDevfs();
  absl::StatusOr<struct stat> sa = a.root->inode()->Stat();
  absl::StatusOr<struct stat> sb = b.root->inode()->Stat();
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_NE(sa->st_dev, sb->st_dev);
  EXPECT_EQ(sa->st_ino, sb->st_ino);  // numbering is per instance
}

TEST(DevfsMountTest, NoDevDirectoryIsNotFound) {
  auto mem = std::make_shared<MemFs>();
  mem->Dir("etc");
  auto ns = vfs::MountNamespace::New(mem, vfs::Dentry::NewRoot(mem->root), 0);
  auto ctx = vfs::FsContext::New(ns);
  absl::Status s = MountDevfs(*ctx);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(ns->Mounts().size(), 1u);

  mem->File("dev", "not a directory");
  s = MountDevfs(*ctx);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(ns->Mounts().size(), 1u);
}

TEST(DevfsMountTest, DevSymlinkIsFollowed) {
  auto mem = std::make_shared<MemFs>();
  mem->Dir("realdev");
  mem->Symlink("dev", "realdev");
  auto ns = vfs::MountNamespace::New(mem, vfs::Dentry::NewRoot(mem->root), 0);
  auto ctx = vfs::FsContext::New(ns);
  ASSERT_TRUE(MountDevfs(*ctx).ok());
  Credentials root;
  absl::StatusOr<vfs::FileRef> f =
      vfs::OpenAt(*ctx, root, vfs::Path{}, "/realdev/null", O_WRONLY, 0);
  ASSERT_TRUE(f.ok()) << f.status();
  vfs::IoSequence io = vfs::IoSequence::Buffer("ab", 2);
  EXPECT_EQ((*f)->Write(io), 2);
}

TEST(DevfsMountTest, WritableOnAReadOnlyRoot) {
  auto mem = std::make_shared<MemFs>();
  mem->Dir("dev");
  auto ns =
      vfs::MountNamespace::New(mem, vfs::Dentry::NewRoot(mem->root), MS_RDONLY);
  auto ctx = vfs::FsContext::New(ns);
  ASSERT_TRUE(MountDevfs(*ctx).ok());
  Credentials root;
  absl::StatusOr<vfs::FileRef> f = vfs::OpenAt(
      *ctx, root, vfs::Path{}, "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_TRUE(f.ok()) << f.status();
}

}  // namespace
}  // namespace sentry::fs
