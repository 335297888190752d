// OpenAt/OpenExecutable/ChangeDirectory flag and permission semantics, and
// the generic directory and O_PATH descriptions, over the in-memory test
// file system.
#include <dirent.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "common/errno_status.h"
#include "gtest/gtest.h"
#include "sentry/vfs/test_fs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

using testing::MemFs;

// Application memory for tests: one mapped range; anything else faults.
class FakeMemory final : public UserMemory {
 public:
  static constexpr uint64_t kBase = 0x10000;
  explicit FakeMemory(size_t size) : bytes(size) {}
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

class OpenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<MemFs>();
    fs_->File("etc/passwd", "root:x:0:0\n");
    fs_->File("bin/prog",
              "\x7f"
              "ELF",
              0755);
    fs_->File("bin/noexec", "data", 0644);
    fs_->File("bin/xonly",
              "\x7f"
              "ELF",
              0111);
    fs_->Dir("home");
    fs_->Dir("home/user", 0700, 1000, 1000);
    fs_->File("home/user/mine", "mine", 0600, 1000, 1000);
    fs_->Symlink("link", "etc/passwd");
    fs_->Symlink("dirlink", "etc");
    fs_->Dir("empty");
    ns_ = MountNamespace::New(fs_, Dentry::NewRoot(fs_->root), 0);
    ctx_ = FsContext::New(ns_);
    user_.ruid = user_.euid = user_.suid = user_.fsuid = 1000;
    user_.rgid = user_.egid = user_.sgid = user_.fsgid = 1000;
  }

  absl::StatusOr<FileRef> Open(const std::string& path, int flags,
                               const Credentials* creds = nullptr) {
    return OpenAt(*ctx_, creds ? *creds : root_, Path{}, path, flags, 0644);
  }
  int OpenErr(const std::string& path, int flags,
              const Credentials* creds = nullptr) {
    return cv::StatusToErrno(Open(path, flags, creds).status());
  }

  std::string ReadAll(const FileRef& f) {
    std::string out(4096, '\0');
    int64_t n = f->ReadAt(out.data(), out.size(), 0);
    EXPECT_GE(n, 0);
    out.resize(n < 0 ? 0 : n);
    return out;
  }

  // Lists a directory with getdents64 buffers of `bufsize` bytes.
  std::vector<std::string> List(const FileRef& dir, size_t bufsize) {
    std::vector<std::string> names;
    FakeMemory mem(bufsize);
    for (;;) {
      IoSequence io = IoSequence::User(mem, FakeMemory::kBase, bufsize);
      int64_t n = dir->GetDents64(io);
      EXPECT_GE(n, 0);
      if (n <= 0) break;
      for (int64_t off = 0; off < n;) {
        uint16_t reclen;
        memcpy(&reclen, mem.bytes.data() + off + 16, 2);
        names.emplace_back(mem.bytes.data() + off + 19);
        off += reclen;
      }
    }
    return names;
  }

  std::shared_ptr<MemFs> fs_;
  std::shared_ptr<MountNamespace> ns_;
  std::shared_ptr<FsContext> ctx_;
  // Root with every capability, as the sandbox's init is by default.
  Credentials root_ = [] {
    Credentials c;
    c.cap_effective = c.cap_permitted = ~uint64_t{0};
    return c;
  }();
  Credentials user_;
};

TEST_F(OpenTest, ReadsAFile) {
  auto f = Open("/etc/passwd", O_RDONLY);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(ReadAll(*f), "root:x:0:0\n");
  EXPECT_TRUE((*f)->readable());
  EXPECT_FALSE((*f)->writable());
  EXPECT_EQ(PathName(ns_->root(), (*f)->path()), "/etc/passwd");
}

TEST_F(OpenTest, StatusFlags) {
  // x86-64 adds kOLargefile; O_CLOEXEC, O_CREAT, O_TRUNC... are not kept.
  auto f = Open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NOCTTY);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->flags(), O_RDONLY | kOLargefile);
  auto d = Open("/etc", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->flags(), O_DIRECTORY | kOLargefile);
  auto p = Open("/etc", O_PATH | O_RDWR | O_APPEND);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->flags(), O_PATH);
  // F_SETFL changes only the settable bits.
  EXPECT_EQ((*f)->SetFlags(O_NONBLOCK | O_APPEND | O_RDWR | O_DIRECTORY), 0);
  EXPECT_EQ((*f)->flags(), O_RDONLY | kOLargefile | O_NONBLOCK | O_APPEND);
  EXPECT_FALSE((*f)->writable());
  EXPECT_EQ((*f)->SetFlags(0), 0);
  EXPECT_EQ((*f)->flags(), O_RDONLY | kOLargefile);
}

TEST_F(OpenTest, FlagErrors) {
  EXPECT_EQ(OpenErr("/etc/passwd", O_RDONLY | O_DIRECTORY), ENOTDIR);
  EXPECT_EQ(OpenErr("/etc/passwd/", O_RDONLY), ENOTDIR);
  EXPECT_EQ(OpenErr("/etc", O_WRONLY), EISDIR);
  EXPECT_EQ(OpenErr("/etc", O_RDWR), EISDIR);
  EXPECT_EQ(OpenErr("/etc", O_RDONLY | O_TRUNC), EISDIR);
  EXPECT_EQ(OpenErr("", O_RDONLY), ENOENT);
  EXPECT_EQ(OpenErr("/missing", O_RDONLY), ENOENT);
  // O_CREAT|O_DIRECTORY is refused outright (Linux 6.4+).
  EXPECT_EQ(OpenErr("/etc", O_CREAT | O_DIRECTORY), EINVAL);
  EXPECT_EQ(OpenErr("/new", O_CREAT | O_DIRECTORY), EINVAL);
  // O_TMPFILE needs write access.
  EXPECT_EQ(OpenErr("/etc", O_TMPFILE | O_RDONLY), EINVAL);
  EXPECT_EQ(OpenErr("/etc", O_TMPFILE | O_RDWR), EOPNOTSUPP);
}

TEST_F(OpenTest, Symlinks) {
  auto f = Open("/link", O_RDONLY);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(ReadAll(*f), "root:x:0:0\n");
  EXPECT_EQ(OpenErr("/link", O_RDONLY | O_NOFOLLOW), ELOOP);
  // O_DIRECTORY is checked before ELOOP.
  EXPECT_EQ(OpenErr("/dirlink", O_RDONLY | O_NOFOLLOW | O_DIRECTORY), ENOTDIR);
  // A trailing slash follows even with O_NOFOLLOW.
  EXPECT_TRUE(Open("/dirlink/", O_RDONLY | O_NOFOLLOW).ok());
  // O_PATH|O_NOFOLLOW opens the symlink itself.
  auto p = Open("/link", O_PATH | O_NOFOLLOW);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE((*p)->path().dentry->IsSymlink());
  auto st = (*p)->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISLNK(st->st_mode));
}

TEST_F(OpenTest, Creation) {
  // Existing files open as usual with O_CREAT.
  EXPECT_TRUE(Open("/etc/passwd", O_RDONLY | O_CREAT).ok());
  EXPECT_EQ(OpenErr("/etc/passwd", O_RDONLY | O_CREAT | O_EXCL), EEXIST);
  // O_EXCL does not follow: the symlink itself exists.
  EXPECT_EQ(OpenErr("/link", O_RDONLY | O_CREAT | O_EXCL), EEXIST);
  EXPECT_EQ(OpenErr("/etc", O_RDONLY | O_CREAT), EISDIR);
  // A trailing slash with O_CREAT is EISDIR, whatever is there.
  EXPECT_EQ(OpenErr("/etc/passwd/", O_RDONLY | O_CREAT), EISDIR);
  EXPECT_EQ(OpenErr("/new/", O_RDONLY | O_CREAT), EISDIR);
  // A file system without Inode::Create answers EACCES, as Linux's
  // vfs_create does for one without ->create...
  EXPECT_EQ(OpenErr("/etc/new", O_WRONLY | O_CREAT), EACCES);
  // ...but permission comes first...
  EXPECT_EQ(OpenErr("/etc/new", O_WRONLY | O_CREAT, &user_), EACCES);
  // ...and a missing directory is ENOENT.
  EXPECT_EQ(OpenErr("/nodir/new", O_WRONLY | O_CREAT), ENOENT);
}

TEST_F(OpenTest, ReadOnlyMount) {
  auto ro = MountNamespace::New(fs_, Dentry::NewRoot(fs_->root), MS_RDONLY);
  auto ctx = FsContext::New(ro);
  auto open = [&](const char* path, int flags) {
    return cv::StatusToErrno(
        OpenAt(*ctx, root_, Path{}, path, flags, 0644).status());
  };
  EXPECT_EQ(open("/etc/passwd", O_RDONLY), 0);
  EXPECT_EQ(open("/etc/passwd", O_WRONLY), EROFS);
  EXPECT_EQ(open("/etc/passwd", O_RDWR), EROFS);
  EXPECT_EQ(open("/etc/passwd", O_RDONLY | O_TRUNC), EROFS);
  EXPECT_EQ(open("/etc/new", O_RDWR | O_CREAT), EROFS);
  EXPECT_EQ(open("/etc/passwd", O_RDONLY | O_CREAT), 0);
  EXPECT_EQ(open("/etc", O_RDWR | O_TMPFILE), EROFS);
  // EROFS comes before EACCES.
  EXPECT_EQ(
      cv::StatusToErrno(
          OpenAt(*ctx, user_, Path{}, "/etc/passwd", O_WRONLY, 0).status()),
      EROFS);
}

TEST_F(OpenTest, Permissions) {
  EXPECT_EQ(OpenErr("/etc/passwd", O_RDONLY, &user_), 0);
  EXPECT_EQ(OpenErr("/etc/passwd", O_WRONLY, &user_), EACCES);
  EXPECT_EQ(OpenErr("/etc/passwd", O_RDONLY | O_TRUNC, &user_), EACCES);
  EXPECT_EQ(OpenErr("/home/user/mine", O_RDWR, &user_), 0);
  Credentials other = user_;
  other.fsuid = 2000;
  other.fsgid = 2000;
  // No search permission on /home/user.
  EXPECT_EQ(OpenErr("/home/user/mine", O_RDONLY, &other), EACCES);
  // O_PATH needs only search permission on the way.
  EXPECT_EQ(OpenErr("/etc/passwd", O_PATH, &other), 0);
  // Root reads and writes whatever the bits say.
  EXPECT_EQ(OpenErr("/home/user/mine", O_RDWR), 0);
  // O_NOATIME: the owner or root only.
  EXPECT_EQ(OpenErr("/etc/passwd", O_RDONLY | O_NOATIME, &user_), EPERM);
  EXPECT_EQ(OpenErr("/home/user/mine", O_RDONLY | O_NOATIME, &user_), 0);
}

TEST_F(OpenTest, OpenExecutable) {
  auto exec = [&](const char* path, const Credentials& creds) {
    return cv::StatusToErrno(OpenExecutable(*ctx_, creds, path).status());
  };
  EXPECT_EQ(exec("/bin/prog", root_), 0);
  EXPECT_EQ(exec("/bin/prog", user_), 0);
  EXPECT_EQ(exec("/bin/noexec", root_), EACCES);  // no x bit at all
  EXPECT_EQ(exec("/bin/noexec", user_), EACCES);
  EXPECT_EQ(exec("/bin", root_), EACCES);  // not a regular file
  EXPECT_EQ(exec("/missing", root_), ENOENT);
  EXPECT_EQ(exec("/etc/passwd/x", root_), ENOTDIR);
  // Execute-only files load: the sentry reads them itself.
  auto x = OpenExecutable(*ctx_, user_, "/bin/xonly");
  ASSERT_TRUE(x.ok());
  char buf[4];
  EXPECT_EQ((*x)->ReadAt(buf, 4, 0), 4);
  EXPECT_EQ(memcmp(buf,
                   "\x7f"
                   "ELF",
                   4),
            0);
  PReadFn pread = MakePReadFn(*x);
  EXPECT_EQ(pread(buf, 3, 1), 3);
  EXPECT_EQ(memcmp(buf, "ELF", 3), 0);
  // Relative to the cwd, through symlinks.
  fs_->Symlink("bin/alias", "prog");
  ASSERT_TRUE(ChangeDirectory(*ctx_, root_, "/bin").ok());
  EXPECT_EQ(exec("alias", root_), 0);
  // A noexec mount refuses.
  auto noexec = MountNamespace::New(fs_, Dentry::NewRoot(fs_->root), MS_NOEXEC);
  auto ctx = FsContext::New(noexec);
  EXPECT_EQ(
      cv::StatusToErrno(OpenExecutable(*ctx, root_, "/bin/prog").status()),
      EACCES);
}

TEST_F(OpenTest, ChangeDirectory) {
  ASSERT_TRUE(ChangeDirectory(*ctx_, root_, "/etc").ok());
  EXPECT_EQ(ctx_->PathName(ctx_->cwd()), "/etc");
  auto f = Open("passwd", O_RDONLY);
  EXPECT_TRUE(f.ok());
  ASSERT_TRUE(ChangeDirectory(*ctx_, root_, "../dirlink").ok());
  EXPECT_EQ(ctx_->PathName(ctx_->cwd()), "/etc");
  EXPECT_EQ(cv::StatusToErrno(ChangeDirectory(*ctx_, root_, "passwd")),
            ENOTDIR);
  EXPECT_EQ(cv::StatusToErrno(ChangeDirectory(*ctx_, root_, "")), ENOENT);
  EXPECT_EQ(cv::StatusToErrno(ChangeDirectory(*ctx_, user_, "/home/user")), 0);
  Credentials other = user_;
  other.fsuid = 2000;
  other.fsgid = 2000;
  EXPECT_EQ(cv::StatusToErrno(ChangeDirectory(*ctx_, other, "/home/user")),
            EACCES);
  EXPECT_EQ(ctx_->PathName(ctx_->cwd()), "/home/user");
  // Fork copies; the copies then move independently.
  auto child = ctx_->Fork();
  ASSERT_TRUE(ChangeDirectory(*child, root_, "/").ok());
  EXPECT_EQ(ctx_->PathName(ctx_->cwd()), "/home/user");
  EXPECT_EQ(child->PathName(child->cwd()), "/");
  EXPECT_EQ(ctx_->SwapUmask(077), 022u);
  EXPECT_EQ(child->umask(), 022u);
}

TEST_F(OpenTest, GetDents64) {
  for (int i = 0; i < 10; i++) fs_->File("many/f" + std::to_string(i), "");
  fs_->Dir("many/sub");
  auto d = Open("/many", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(d.ok());
  std::vector<std::string> expected = {".",  "..", "f0", "f1", "f2", "f3", "f4",
                                       "f5", "f6", "f7", "f8", "f9", "sub"};
  // A big buffer, and one that holds a single record at a time: the same
  // listing either way, however the file system batches it.
  EXPECT_EQ(List(*d, 4096), expected);
  EXPECT_EQ(List(*d, 4096), std::vector<std::string>{});  // at the end
  EXPECT_EQ((*d)->Seek(0, SEEK_SET), 0);
  EXPECT_EQ(List(*d, 24), expected);
  // Too small for one record: EINVAL, and nothing is consumed.
  EXPECT_EQ((*d)->Seek(0, SEEK_SET), 0);
  FakeMemory mem(16);
  IoSequence small = IoSequence::User(mem, FakeMemory::kBase, 16);
  EXPECT_EQ((*d)->GetDents64(small), -EINVAL);
  // A fault delivers nothing and consumes nothing.
  FakeMemory none(0);
  IoSequence bad = IoSequence::User(none, FakeMemory::kBase + 64, 4096);
  EXPECT_EQ((*d)->GetDents64(bad), -EFAULT);
  EXPECT_EQ(List(*d, 4096), expected);
  // The offset is a cookie: seeking to one resumes after that entry.
  EXPECT_EQ((*d)->Seek(3, SEEK_SET), 3);
  auto rest = List(*d, 4096);
  EXPECT_EQ(rest,
            std::vector<std::string>(expected.begin() + 3, expected.end()));
  EXPECT_EQ((*d)->Seek(-1, SEEK_SET), -EINVAL);
  EXPECT_EQ((*d)->Seek(0, SEEK_END), -EINVAL);
  EXPECT_EQ((*d)->Seek(0, SEEK_CUR), 13);
  // Records carry the type and an 8-byte-aligned length.
  EXPECT_EQ((*d)->Seek(0, SEEK_SET), 0);
  FakeMemory one(4096);
  IoSequence io = IoSequence::User(one, FakeMemory::kBase, 4096);
  int64_t n = (*d)->GetDents64(io);
  ASSERT_GT(n, 0);
  std::map<std::string, uint8_t> types;
  for (int64_t off = 0; off < n;) {
    uint16_t reclen;
    memcpy(&reclen, one.bytes.data() + off + 16, 2);
    EXPECT_EQ(reclen % 8, 0);
    types[one.bytes.data() + off + 19] = one.bytes[off + 18];
    off += reclen;
  }
  EXPECT_EQ(types["sub"], DT_DIR);
  EXPECT_EQ(types["f0"], DT_REG);
  // Not readable as a file; not a directory for getdents when a file.
  char c;
  IoSequence buf = IoSequence::Buffer(&c, 1);
  EXPECT_EQ((*d)->Read(buf), -EISDIR);
  auto f = Open("/etc/passwd", O_RDONLY);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->GetDents64(io), -ENOTDIR);
}

TEST_F(OpenTest, OldGetDentsFormat) {
  fs_->File("old/a", "");
  fs_->Symlink("old/link", "a");
  auto d = Open("/old", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(d.ok());
  FakeMemory mem(4096);
  IoSequence io = IoSequence::User(mem, FakeMemory::kBase, 4096);
  int64_t n = (*d)->GetDents(io, DirentFormat::kDirent);
  ASSERT_GT(n, 0);
  std::map<std::string, uint8_t> types;
  for (int64_t off = 0; off < n;) {
    uint16_t reclen;
    memcpy(&reclen, mem.bytes.data() + off + 16, 2);
    ASSERT_EQ(reclen % 8, 0);
    // linux_dirent: the name at 18, the type in the record's last byte.
    types[mem.bytes.data() + off + 18] = mem.bytes[off + reclen - 1];
    off += reclen;
  }
  EXPECT_EQ(types.size(), 4u);
  EXPECT_EQ(types["."], DT_DIR);
  EXPECT_EQ(types["a"], DT_REG);
  EXPECT_EQ(types["link"], DT_LNK);
  IoSequence tiny = IoSequence::User(mem, FakeMemory::kBase, 1);
  EXPECT_EQ((*d)->GetDents(tiny, DirentFormat::kDirent), 0);  // at the end
}

TEST_F(OpenTest, PathFilesDoNoIo) {
  auto p = Open("/etc/passwd", O_PATH);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE((*p)->is_path());
  EXPECT_FALSE((*p)->readable());
  char c;
  IoSequence buf = IoSequence::Buffer(&c, 1);
  EXPECT_EQ((*p)->Read(buf), -EBADF);
  EXPECT_EQ((*p)->Write(buf), -EBADF);
  EXPECT_TRUE((*p)->Stat().ok());
}

TEST(IoSequenceTest, ScattersAndGathers) {
  FakeMemory mem(64);
  IoSequence io = IoSequence::User(mem, {{FakeMemory::kBase, 3},
                                         {FakeMemory::kBase + 10, 0},
                                         {FakeMemory::kBase + 20, 5}});
  EXPECT_EQ(io.size(), 8u);
  EXPECT_EQ(io.CopyOut(0, "abcdefgh", 8), 0);
  EXPECT_EQ(std::string(mem.bytes.data(), 3), "abc");
  EXPECT_EQ(std::string(mem.bytes.data() + 20, 5), "defgh");
  char out[4] = {};
  EXPECT_EQ(io.CopyIn(2, out, 4), 0);
  EXPECT_EQ(std::string(out, 4), "cdef");
  EXPECT_EQ(io.CopyIn(6, out, 4), -EFAULT);  // past the end
  IoSequence bad = IoSequence::User(mem, {{FakeMemory::kBase + 60, 8}});
  EXPECT_EQ(bad.CopyOut(0, "12345678", 8), -EFAULT);
}

}  // namespace
}  // namespace sentry::vfs
