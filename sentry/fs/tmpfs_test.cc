// tmpfs through the VFS: the mutation calls a task makes, with Linux's
// permission and error rules.
#include "sentry/fs/tmpfs.h"

#include <fcntl.h>
#include <linux/fs.h>  // RENAME_*
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/errno_status.h"
#include "gtest/gtest.h"
#include "sentry/fs/pipe.h"
#include "sentry/vfs/vfs.h"
#include "sentry/vfs/wait.h"

namespace sentry::fs {
namespace {

using vfs::FileRef;
using vfs::Path;

class TmpfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TmpfsMount m = NewTmpfs({01777, 0, 0});
    ns_ = vfs::MountNamespace::New(m.fs, m.root, 0);
    ctx_ = vfs::FsContext::New(ns_);
    root_.cap_effective = ~0ULL;
    user_.ruid = user_.euid = user_.suid = user_.fsuid = 1000;
    user_.rgid = user_.egid = user_.sgid = user_.fsgid = 1000;
    other_ = user_;
    other_.ruid = other_.euid = other_.suid = other_.fsuid = 1001;
    other_.rgid = other_.egid = other_.sgid = other_.fsgid = 1001;
  }

  const Credentials& Who(const Credentials* c) const { return c ? *c : root_; }

  int Mkdir(const std::string& p, mode_t mode = 0777,
            const Credentials* c = nullptr) {
    return Errno(vfs::MkdirAt(*ctx_, Who(c), Path{}, p, mode));
  }
  absl::StatusOr<FileRef> Open(const std::string& p, int flags,
                               mode_t mode = 0644,
                               const Credentials* c = nullptr) {
    return vfs::OpenAt(*ctx_, Who(c), Path{}, p, flags, mode);
  }
  int OpenErr(const std::string& p, int flags, const Credentials* c = nullptr) {
    return Errno(Open(p, flags, 0644, c).status());
  }
  int Create(const std::string& p, const std::string& data = "",
             mode_t mode = 0644, const Credentials* c = nullptr) {
    auto f = Open(p, O_WRONLY | O_CREAT | O_EXCL, mode, c);
    if (!f.ok()) return Errno(f.status());
    if (!data.empty()) {
      auto io = vfs::IoSequence::Buffer(data.data(), data.size());
      EXPECT_EQ((*f)->Write(io), static_cast<int64_t>(data.size()));
    }
    return 0;
  }
  int Unlink(const std::string& p, const Credentials* c = nullptr) {
    return Errno(vfs::UnlinkAt(*ctx_, Who(c), Path{}, p, 0));
  }
  int Rmdir(const std::string& p, const Credentials* c = nullptr) {
    return Errno(vfs::UnlinkAt(*ctx_, Who(c), Path{}, p, AT_REMOVEDIR));
  }
  int Rename(const std::string& a, const std::string& b, unsigned flags = 0,
             const Credentials* c = nullptr) {
    return Errno(vfs::RenameAt2(*ctx_, Who(c), Path{}, a, Path{}, b, flags));
  }
  int Symlink(const std::string& target, const std::string& p) {
    return Errno(vfs::SymlinkAt(*ctx_, root_, target, Path{}, p));
  }
  int Link(const std::string& a, const std::string& b,
           const Credentials* c = nullptr) {
    auto old = Resolve(a, false);
    if (!old.ok()) return Errno(old.status());
    return Errno(vfs::LinkAt(*ctx_, Who(c), *old, Path{}, b));
  }
  absl::StatusOr<Path> Resolve(const std::string& p, bool follow = true) {
    vfs::ResolveContext rc = vfs::MakeResolveContext(*ctx_, nullptr);
    return vfs::ResolvePath(rc, p, follow ? vfs::kFollowFinal : 0);
  }
  absl::StatusOr<struct stat> Stat(const std::string& p, bool follow = true) {
    auto r = Resolve(p, follow);
    if (!r.ok()) return r.status();
    return r->inode()->Stat();
  }
  int StatErr(const std::string& p) { return Errno(Stat(p).status()); }
  std::string Read(const std::string& p) {
    auto f = Open(p, O_RDONLY);
    EXPECT_TRUE(f.ok()) << f.status();
    if (!f.ok()) return "";
    std::string out(4096, '\0');
    int64_t n = (*f)->ReadAt(out.data(), out.size(), 0);
    EXPECT_GE(n, 0);
    out.resize(n < 0 ? 0 : n);
    return out;
  }
  std::vector<std::string> List(const std::string& p) {
    auto d = Open(p, O_RDONLY | O_DIRECTORY);
    EXPECT_TRUE(d.ok());
    std::vector<std::string> names;
    if (!d.ok()) return names;
    std::vector<char> buf(8192);
    for (;;) {
      auto io = vfs::IoSequence::Buffer(buf.data(), buf.size());
      int64_t n = (*d)->GetDents64(io);
      EXPECT_GE(n, 0);
      if (n <= 0) break;
      for (int64_t off = 0; off < n;) {
        uint16_t reclen;
        memcpy(&reclen, buf.data() + off + 16, 2);
        names.emplace_back(buf.data() + off + 19);
        off += reclen;
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  static int Errno(const absl::Status& s) { return cv::StatusToErrno(s); }

  std::shared_ptr<vfs::MountNamespace> ns_;
  std::shared_ptr<vfs::FsContext> ctx_;
  Credentials root_;
  Credentials user_;
  Credentials other_;
};

TEST_F(TmpfsTest, CreateWriteReadStat) {
  ASSERT_EQ(Create("/f", "hello"), 0);
  EXPECT_EQ(Read("/f"), "hello");
  auto st = Stat("/f");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISREG(st->st_mode));
  EXPECT_EQ(st->st_mode & 07777, 0644u);
  EXPECT_EQ(st->st_size, 5);
  EXPECT_EQ(st->st_nlink, 1u);
  EXPECT_GT(st->st_blocks, 0);
  auto rst = Stat("/");
  ASSERT_TRUE(rst.ok());
  EXPECT_EQ(st->st_dev, rst->st_dev);
  EXPECT_NE(st->st_ino, rst->st_ino);
  EXPECT_EQ(rst->st_mode, S_IFDIR | 01777u);
  // O_CREAT|O_EXCL of an existing name.
  EXPECT_EQ(OpenErr("/f", O_RDONLY | O_CREAT | O_EXCL), EEXIST);
  // O_CREAT without O_EXCL opens it.
  EXPECT_TRUE(Open("/f", O_RDONLY | O_CREAT).ok());
  // The creator may write a file created read-only.
  auto ro = Open("/ro", O_RDWR | O_CREAT, 0);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_TRUE((*ro)->writable());
  // A regular file's data is a memfd.
  EXPECT_GE((*ro)->host_fd(), 0);
}

TEST_F(TmpfsTest, InstancesHaveTheirOwnDevice) {
  TmpfsMount a = NewTmpfs();
  TmpfsMount b = NewTmpfs();
  auto sa = a.root->inode()->Stat();
  auto sb = b.root->inode()->Stat();
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_NE(sa->st_dev, sb->st_dev);
  EXPECT_EQ(a.fs->type(), "tmpfs");
}

TEST_F(TmpfsTest, UmaskApplies) {
  ctx_->SwapUmask(027);
  ASSERT_EQ(Create("/f", "", 0777), 0);
  EXPECT_EQ(Stat("/f")->st_mode & 0777, 0750u);
  ASSERT_EQ(Mkdir("/d", 0777), 0);
  EXPECT_EQ(Stat("/d")->st_mode & 0777, 0750u);
}

TEST_F(TmpfsTest, TruncateOnOpen) {
  ASSERT_EQ(Create("/f", "data"), 0);
  auto f = Open("/f", O_WRONLY | O_TRUNC);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Stat("/f")->st_size, 0);
}

TEST_F(TmpfsTest, AppendWrites) {
  ASSERT_EQ(Create("/f", "ab"), 0);
  auto f = Open("/f", O_WRONLY | O_APPEND);
  ASSERT_TRUE(f.ok());
  std::string more = "cd";
  auto io = vfs::IoSequence::Buffer(more.data(), more.size());
  EXPECT_EQ((*f)->PWrite(io, 0), 2);  // appends whatever the offset
  EXPECT_EQ(Read("/f"), "abcd");
  EXPECT_EQ((*f)->Seek(0, SEEK_END), 4);
}

TEST_F(TmpfsTest, DirectoriesAndLinkCounts) {
  ASSERT_EQ(Mkdir("/d"), 0);
  EXPECT_EQ(Stat("/d")->st_nlink, 2u);
  nlink_t root_links = Stat("/")->st_nlink;
  ASSERT_EQ(Mkdir("/d/e"), 0);
  EXPECT_EQ(Stat("/d")->st_nlink, 3u);
  EXPECT_EQ(Stat("/")->st_nlink, root_links);
  EXPECT_EQ(Mkdir("/d"), EEXIST);
  EXPECT_EQ(Mkdir("/d/e/"), EEXIST);
  EXPECT_EQ(Mkdir("/x/y"), ENOENT);
  EXPECT_EQ(Mkdir("/d/."), EEXIST);
  EXPECT_EQ(Mkdir("/new/"), 0);  // a trailing slash is fine for mkdir
  ASSERT_EQ(Create("/d/f"), 0);
  EXPECT_EQ(List("/d"), (std::vector<std::string>{".", "..", "e", "f"}));
  EXPECT_EQ(Rmdir("/d"), ENOTEMPTY);
  EXPECT_EQ(Rmdir("/d/f"), ENOTDIR);
  EXPECT_EQ(Unlink("/d/e"), EISDIR);
  EXPECT_EQ(Rmdir("/d/e/."), EINVAL);
  EXPECT_EQ(Rmdir("/d/e/.."), ENOTEMPTY);
  EXPECT_EQ(Unlink("/d/f/"), ENOTDIR);
  EXPECT_EQ(Rmdir("/d/e"), 0);
  EXPECT_EQ(Stat("/d")->st_nlink, 2u);
  EXPECT_EQ(Unlink("/d/f"), 0);
  EXPECT_EQ(Rmdir("/d/"), 0);
  EXPECT_EQ(StatErr("/d"), ENOENT);
  EXPECT_EQ(Rmdir("/nothere"), ENOENT);
  EXPECT_EQ(Unlink("/nothere"), ENOENT);
}

TEST_F(TmpfsTest, RemovedDirectoryTakesNoNames) {
  ASSERT_EQ(Mkdir("/d"), 0);
  ASSERT_TRUE(vfs::ChangeDirectory(*ctx_, root_, "/d").ok());
  ASSERT_EQ(Rmdir("/d"), 0);
  EXPECT_EQ(Errno(vfs::MkdirAt(*ctx_, root_, Path{}, "x", 0777)), ENOENT);
  EXPECT_EQ(Errno(Open("y", O_WRONLY | O_CREAT).status()), ENOENT);
  EXPECT_EQ(ctx_->cwd().inode()->Stat()->st_nlink, 0u);
}

TEST_F(TmpfsTest, UnlinkKeepsOpenFilesAndForgetsTheName) {
  ASSERT_EQ(Create("/f", "old"), 0);
  auto f = Open("/f", O_RDONLY);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(StatErr("/f"), 0);  // now cached
  ASSERT_EQ(Unlink("/f"), 0);
  EXPECT_EQ(StatErr("/f"), ENOENT);
  EXPECT_EQ((*f)->Stat()->st_nlink, 0u);
  char buf[8] = {};
  EXPECT_EQ((*f)->ReadAt(buf, sizeof(buf), 0), 3);
  EXPECT_STREQ(buf, "old");
  // The negative entry is replaced by a new file.
  ASSERT_EQ(Create("/f", "new"), 0);
  EXPECT_EQ(Read("/f"), "new");
}

TEST_F(TmpfsTest, TmpfileIsUnnamedUntilLinked) {
  ASSERT_EQ(Mkdir("/d", 0755), 0);
  auto f = Open("/d", O_TMPFILE | O_RDWR, 0640);
  ASSERT_TRUE(f.ok()) << f.status();
  struct stat st = *(*f)->Stat();
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(List("/d"), (std::vector<std::string>{".", ".."}));
  std::string data = "unnamed";
  auto io = vfs::IoSequence::Buffer(data.data(), data.size());
  EXPECT_EQ((*f)->Write(io), 7);
  // Its path shows where it lives, but no lookup finds it.
  EXPECT_EQ(ctx_->PathName((*f)->path()), "/d/#" + std::to_string(st.st_ino));
  EXPECT_EQ(StatErr("/d/#" + std::to_string(st.st_ino)), ENOENT);
  ASSERT_EQ(Errno(vfs::LinkAt(*ctx_, root_, (*f)->path(), Path{}, "/d/n")), 0);
  EXPECT_EQ(Stat("/d/n")->st_ino, st.st_ino);
  EXPECT_EQ(Stat("/d/n")->st_nlink, 1u);
  EXPECT_EQ(Read("/d/n"), "unnamed");
  // Unnamed again: a removed file, which takes no new name.
  ASSERT_EQ(Unlink("/d/n"), 0);
  EXPECT_EQ(Errno(vfs::LinkAt(*ctx_, root_, (*f)->path(), Path{}, "/d/m")),
            ENOENT);
  // O_EXCL: never linkable.
  auto x = Open("/d", O_TMPFILE | O_RDWR | O_EXCL, 0600);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(Errno(vfs::LinkAt(*ctx_, root_, (*x)->path(), Path{}, "/d/x")),
            ENOENT);
  // Write and search permission on the directory.
  EXPECT_EQ(OpenErr("/d", O_TMPFILE | O_RDWR, &user_), EACCES);
  ASSERT_EQ(Create("/f"), 0);
  EXPECT_EQ(OpenErr("/f", O_TMPFILE | O_RDWR), ENOTDIR);
}

TEST_F(TmpfsTest, SymlinksAndHardLinks) {
  ASSERT_EQ(Create("/f", "x"), 0);
  ASSERT_EQ(Symlink("f", "/l"), 0);
  EXPECT_EQ(Read("/l"), "x");
  auto st = Stat("/l", false);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISLNK(st->st_mode));
  EXPECT_EQ(st->st_size, 1);
  EXPECT_EQ(Symlink("f", "/l"), EEXIST);
  EXPECT_EQ(Symlink("", "/e"), ENOENT);
  EXPECT_EQ(Symlink("f", "/s/"), ENOENT);  // only directories end in "/"
  ASSERT_EQ(Link("/f", "/h"), 0);
  EXPECT_EQ(Stat("/f")->st_nlink, 2u);
  EXPECT_EQ(Stat("/h")->st_ino, Stat("/f")->st_ino);
  EXPECT_EQ(Link("/f", "/h"), EEXIST);
  ASSERT_EQ(Mkdir("/d"), 0);
  EXPECT_EQ(Link("/d", "/d2"), EPERM);
  // link(2) without AT_SYMLINK_FOLLOW links the symlink itself.
  ASSERT_EQ(Link("/l", "/l2"), 0);
  EXPECT_TRUE(S_ISLNK(Stat("/l2", false)->st_mode));
  ASSERT_EQ(Unlink("/f"), 0);
  EXPECT_EQ(Stat("/h")->st_nlink, 1u);
  EXPECT_EQ(Read("/h"), "x");
  // A non-owner may not link a file it cannot write (protected_hardlinks).
  ASSERT_EQ(Mkdir("/pub", 0777), 0);
  EXPECT_EQ(Link("/h", "/pub/x", &user_), EPERM);
}

TEST_F(TmpfsTest, Mknod) {
  ASSERT_EQ(
      Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/fifo", S_IFIFO | 0600, 0)), 0);
  EXPECT_TRUE(S_ISFIFO(Stat("/fifo")->st_mode));
  EXPECT_EQ(
      Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/sock", S_IFSOCK | 0600, 0)),
      0);
  EXPECT_EQ(OpenErr("/sock", O_RDONLY), ENXIO);
  EXPECT_EQ(Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/reg", 0600, 0)), 0);
  EXPECT_TRUE(S_ISREG(Stat("/reg")->st_mode));
  EXPECT_EQ(Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/null", S_IFCHR | 0600,
                               makedev(1, 3))),
            EPERM);
  EXPECT_EQ(Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/d", S_IFDIR | 0600, 0)),
            EPERM);
  EXPECT_EQ(Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/d", 0170000 | 0600, 0)),
            EINVAL);
}

TEST_F(TmpfsTest, RenameFiles) {
  ASSERT_EQ(Create("/a", "A"), 0);
  ASSERT_EQ(Create("/b", "B"), 0);
  EXPECT_EQ(Rename("/a", "/b", RENAME_NOREPLACE), EEXIST);
  ASSERT_EQ(Rename("/a", "/b"), 0);
  EXPECT_EQ(StatErr("/a"), ENOENT);
  EXPECT_EQ(Read("/b"), "A");
  ASSERT_EQ(Create("/c", "C"), 0);
  ASSERT_EQ(Rename("/b", "/c", RENAME_EXCHANGE), 0);
  EXPECT_EQ(Read("/b"), "C");
  EXPECT_EQ(Read("/c"), "A");
  EXPECT_EQ(Rename("/b", "/zz", RENAME_EXCHANGE), ENOENT);
  EXPECT_EQ(Rename("/nothere", "/zz"), ENOENT);
  EXPECT_EQ(Rename("/b", "/zz/"), ENOTDIR);
  EXPECT_EQ(Rename("/b", "/zz", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
  // Renaming onto another name of the same file does nothing.
  ASSERT_EQ(Link("/b", "/b2"), 0);
  EXPECT_EQ(Rename("/b", "/b2"), 0);
  EXPECT_EQ(StatErr("/b"), 0);
  EXPECT_EQ(Rename("/.", "/x"), EBUSY);
}

TEST_F(TmpfsTest, RenameDirectories) {
  ASSERT_EQ(Mkdir("/d"), 0);
  ASSERT_EQ(Mkdir("/d/sub"), 0);
  ASSERT_EQ(Create("/d/sub/f", "x"), 0);
  ASSERT_EQ(Mkdir("/e"), 0);
  ASSERT_EQ(Create("/file"), 0);
  EXPECT_EQ(Rename("/d", "/d/sub/x"), EINVAL);
  EXPECT_EQ(Rename("/d", "/d/x"), EINVAL);
  EXPECT_EQ(Rename("/d/sub", "/d"), ENOTEMPTY);
  EXPECT_EQ(Rename("/d", "/file"), ENOTDIR);
  EXPECT_EQ(Rename("/file", "/e"), EISDIR);
  EXPECT_EQ(Rename("/file/", "/g"), ENOTDIR);
  // A cwd inside a moved directory follows it.
  ASSERT_TRUE(vfs::ChangeDirectory(*ctx_, root_, "/d/sub").ok());
  // Trailing slashes are fine when a directory moves.
  ASSERT_EQ(Rename("/d/", "/e/moved/"), 0);
  EXPECT_EQ(ctx_->PathName(ctx_->cwd()), "/e/moved/sub");
  EXPECT_EQ(Read("/e/moved/sub/f"), "x");
  EXPECT_EQ(StatErr("/d"), ENOENT);
  EXPECT_EQ(Stat("/e")->st_nlink, 3u);
  // Replacing an empty directory.
  ASSERT_EQ(Mkdir("/empty"), 0);
  ASSERT_EQ(Rename("/e/moved", "/empty"), 0);
  EXPECT_EQ(Stat("/e")->st_nlink, 2u);
  EXPECT_EQ(Read("/empty/sub/f"), "x");
  // Exchanging a directory and a file.
  ASSERT_EQ(Rename("/empty", "/file", RENAME_EXCHANGE), 0);
  EXPECT_TRUE(S_ISDIR(Stat("/file")->st_mode));
  EXPECT_TRUE(S_ISREG(Stat("/empty")->st_mode));
}

TEST_F(TmpfsTest, Permissions) {
  ASSERT_EQ(Mkdir("/closed", 0755), 0);
  EXPECT_EQ(Mkdir("/closed/x", 0777, &user_), EACCES);
  EXPECT_EQ(Create("/closed/x", "", 0644, &user_), EACCES);
  ASSERT_EQ(Create("/closed/f"), 0);
  EXPECT_EQ(Unlink("/closed/f", &user_), EACCES);
  EXPECT_EQ(Rename("/closed/f", "/f2", 0, &user_), EACCES);
  // The sticky /: others' files stay, one's own may go.
  ASSERT_EQ(Create("/mine", "", 0666, &user_), 0);
  EXPECT_EQ(Stat("/mine")->st_uid, 1000u);
  EXPECT_EQ(Unlink("/mine", &other_), EPERM);
  EXPECT_EQ(Rename("/mine", "/theirs", 0, &other_), EPERM);
  EXPECT_EQ(Unlink("/mine", &user_), 0);
  // A directory moving to another parent must itself be writable.
  ASSERT_EQ(Mkdir("/ud", 0777, &user_), 0);
  ASSERT_EQ(Mkdir("/ud/ro", 0555, &user_), 0);
  ASSERT_EQ(Mkdir("/ud/dst", 0777, &user_), 0);
  EXPECT_EQ(Rename("/ud/ro", "/ud/dst/ro", 0, &user_), EACCES);
  EXPECT_EQ(Rename("/ud/ro", "/ud/ro2", 0, &user_), 0);
}

TEST_F(TmpfsTest, SetgidDirectoryPassesItsGroup) {
  ASSERT_EQ(Mkdir("/g", 0777), 0);
  ASSERT_TRUE(vfs::Chown(root_, *Resolve("/g"), -1, 50).ok());
  ASSERT_TRUE(vfs::Chmod(root_, *Resolve("/g"), 02777).ok());
  ASSERT_EQ(Create("/g/f", "", 0644, &user_), 0);
  EXPECT_EQ(Stat("/g/f")->st_gid, 50u);
  ASSERT_EQ(Mkdir("/g/sub", 0755, &user_), 0);
  EXPECT_EQ(Stat("/g/sub")->st_mode & 02000, 02000u);
}

TEST_F(TmpfsTest, ChmodChown) {
  ASSERT_EQ(Create("/f", "", 0644, &user_), 0);
  Path f = *Resolve("/f");
  EXPECT_EQ(Errno(vfs::Chmod(other_, f, 0777)), EPERM);
  ASSERT_TRUE(vfs::Chmod(user_, f, 04755).ok());
  EXPECT_EQ(Stat("/f")->st_mode & 07777, 04755u);
  // Only CAP_CHOWN gives a file away.
  EXPECT_EQ(Errno(vfs::Chown(user_, f, 1001, -1)), EPERM);
  // The owner may change the group to one it is in, not to another.
  user_.groups = {77};
  EXPECT_EQ(Errno(vfs::Chown(user_, f, -1, 77)), 0);
  EXPECT_EQ(Stat("/f")->st_gid, 77u);
  EXPECT_EQ(Errno(vfs::Chown(user_, f, -1, 78)), EPERM);
  // chown clears set-user-ID.
  EXPECT_EQ(Stat("/f")->st_mode & S_ISUID, 0u);
  ASSERT_TRUE(vfs::Chown(root_, f, 0, 0).ok());
  EXPECT_EQ(Stat("/f")->st_uid, 0u);
  // A setgid bit the caller's groups do not allow is dropped by chmod.
  ASSERT_TRUE(vfs::Chown(root_, f, 1000, 0).ok());
  ASSERT_TRUE(vfs::Chmod(user_, f, 02755).ok());
  EXPECT_EQ(Stat("/f")->st_mode & 07777, 0755u);
}

TEST_F(TmpfsTest, TruncateAndTimes) {
  ASSERT_EQ(Create("/f", "hello", 0644, &user_), 0);
  Path f = *Resolve("/f");
  EXPECT_EQ(Errno(vfs::Truncate(other_, f, 1)), EACCES);
  EXPECT_EQ(Errno(vfs::Truncate(user_, f, -1)), EINVAL);
  EXPECT_EQ(Errno(vfs::Truncate(user_, *Resolve("/"), 0)), EISDIR);
  ASSERT_TRUE(vfs::Truncate(user_, f, 2).ok());
  EXPECT_EQ(Read("/f"), "he");
  auto ro = Open("/f", O_RDONLY);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(Errno(vfs::Ftruncate(**ro, 0)), EINVAL);
  auto rw = Open("/f", O_RDWR);
  ASSERT_TRUE(rw.ok());
  ASSERT_TRUE(vfs::Ftruncate(**rw, 10000).ok());
  EXPECT_EQ(Stat("/f")->st_size, 10000);

  struct timespec ts[2] = {{1000, 5}, {2000, 6}};
  EXPECT_EQ(Errno(vfs::Utimens(other_, f, ts)), EPERM);
  ASSERT_TRUE(vfs::Utimens(user_, f, ts).ok());
  auto st = Stat("/f");
  EXPECT_EQ(st->st_atim.tv_sec, 1000);
  EXPECT_EQ(st->st_atim.tv_nsec, 5);
  EXPECT_EQ(st->st_mtim.tv_sec, 2000);
  EXPECT_GT(st->st_ctim.tv_sec, 2000);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {3000, 0}};
  ASSERT_TRUE(vfs::Utimens(user_, f, omit).ok());
  EXPECT_EQ(Stat("/f")->st_atim.tv_sec, 1000);
  EXPECT_EQ(Stat("/f")->st_mtim.tv_sec, 3000);
  // "Now" needs ownership or write permission only.
  EXPECT_EQ(Errno(vfs::Utimens(other_, f, nullptr)), EACCES);
  ASSERT_TRUE(vfs::Chmod(user_, f, 0666).ok());
  EXPECT_EQ(Errno(vfs::Utimens(other_, f, nullptr)), 0);
  EXPECT_GT(Stat("/f")->st_mtim.tv_sec, 3000);
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_FALSE(vfs::ValidTimespecs(bad));
}

TEST_F(TmpfsTest, DirectoryTimesMoveOnChanges) {
  ASSERT_EQ(Mkdir("/d"), 0);
  Path d = *Resolve("/d");
  struct timespec old[2] = {{100, 0}, {100, 0}};
  ASSERT_TRUE(vfs::Utimens(root_, d, old).ok());
  ASSERT_EQ(Create("/d/f"), 0);
  EXPECT_GT(Stat("/d")->st_mtim.tv_sec, 100);
  ASSERT_TRUE(vfs::Utimens(root_, d, old).ok());
  ASSERT_EQ(Unlink("/d/f"), 0);
  EXPECT_GT(Stat("/d")->st_mtim.tv_sec, 100);
  // A write moves the file's mtime.
  ASSERT_EQ(Create("/g"), 0);
  Path g = *Resolve("/g");
  ASSERT_TRUE(vfs::Utimens(root_, g, old).ok());
  auto f = Open("/g", O_WRONLY);
  ASSERT_TRUE(f.ok());
  auto io = vfs::IoSequence::Buffer("x", 1);
  ASSERT_EQ((*f)->Write(io), 1);
  EXPECT_GT(Stat("/g")->st_mtim.tv_sec, 100);
}

TEST_F(TmpfsTest, MountsReadOnlyCrossAndBusy) {
  ASSERT_EQ(Mkdir("/ro"), 0);
  ASSERT_EQ(Mkdir("/other"), 0);
  ASSERT_EQ(Create("/file"), 0);
  TmpfsMount ro = NewTmpfs();
  ASSERT_TRUE(ns_->AddMount(*Resolve("/ro"), ro.fs, ro.root, MS_RDONLY).ok());
  ASSERT_TRUE(MountTmpfs(*ctx_, "/other", 0, 0755).ok());
  EXPECT_EQ(Mkdir("/ro/x"), EROFS);
  EXPECT_EQ(Create("/ro/x"), EROFS);
  EXPECT_EQ(Mkdir("/ro"), EEXIST);  // EEXIST comes before EROFS
  EXPECT_EQ(Rename("/file", "/other/file"), EXDEV);
  EXPECT_EQ(Link("/file", "/other/file"), EXDEV);
  EXPECT_EQ(Rmdir("/other"), EBUSY);
  EXPECT_EQ(Rename("/other", "/moved"), EBUSY);
  EXPECT_EQ(Stat("/other")->st_mode & 07777, 0755u);
  EXPECT_EQ(Errno(vfs::Chmod(root_, *Resolve("/ro"), 0700)), EROFS);
  EXPECT_TRUE(absl::IsNotFound(MountTmpfs(*ctx_, "/missing", 0, 01777)));
  EXPECT_TRUE(absl::IsNotFound(MountTmpfs(*ctx_, "/file", 0, 01777)));
}

TEST_F(TmpfsTest, Xattrs) {
  ASSERT_EQ(Create("/f", "x"), 0);
  vfs::InodeRef f = Resolve("/f")->inode();
  EXPECT_EQ(Errno(f->GetXattr("user.a").status()), ENODATA);
  EXPECT_EQ(Errno(f->RemoveXattr("user.a")), ENODATA);
  EXPECT_EQ(Errno(f->SetXattr("user.a", "1", XATTR_REPLACE)), ENODATA);
  struct timespec before = Stat("/f")->st_ctim;
  struct timespec old[2] = {{100, 0}, {100, 0}};
  ASSERT_TRUE(vfs::Utimens(root_, *Resolve("/f"), old).ok());
  ASSERT_TRUE(f->SetXattr("user.a", "1", XATTR_CREATE).ok());
  EXPECT_GE(Stat("/f")->st_ctim.tv_sec, before.tv_sec);  // ctime moves
  EXPECT_EQ(Stat("/f")->st_mtim.tv_sec, 100);            // mtime does not
  EXPECT_EQ(Errno(f->SetXattr("user.a", "2", XATTR_CREATE)), EEXIST);
  ASSERT_TRUE(f->SetXattr("user.a", "2", XATTR_REPLACE).ok());
  ASSERT_TRUE(f->SetXattr("trusted.b", std::string("\0v", 2), 0).ok());
  EXPECT_EQ(*f->GetXattr("user.a"), "2");
  EXPECT_EQ(*f->GetXattr("trusted.b"), std::string("\0v", 2));
  auto names = f->ListXattr();
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"trusted.b", "user.a"}));
  EXPECT_EQ(Errno(f->SetXattr("system.posix_acl_access", "", 0)), EOPNOTSUPP);
  ASSERT_TRUE(f->RemoveXattr("user.a").ok());
  EXPECT_EQ(Errno(f->GetXattr("user.a").status()), ENODATA);
  // Directories keep their own.
  ASSERT_EQ(Mkdir("/d"), 0);
  vfs::InodeRef d = Resolve("/d")->inode();
  ASSERT_TRUE(d->SetXattr("trusted.overlay.opaque", "y", 0).ok());
  EXPECT_EQ(*d->GetXattr("trusted.overlay.opaque"), "y");
  EXPECT_EQ(Errno(f->GetXattr("trusted.overlay.opaque").status()), ENODATA);
  // user. attributes are for files and directories only.
  ASSERT_EQ(Symlink("f", "/l"), 0);
  vfs::InodeRef l = Resolve("/l", false)->inode();
  EXPECT_EQ(Errno(l->SetXattr("user.a", "1", 0)), EPERM);
  EXPECT_EQ(Errno(l->GetXattr("user.a").status()), ENODATA);
  EXPECT_TRUE(l->SetXattr("trusted.a", "1", 0).ok());
}

TEST_F(TmpfsTest, StatFs) {
  auto s = Resolve("/")->inode()->StatFs();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->f_type, TMPFS_MAGIC);
  EXPECT_EQ(s->f_type, kTmpfsMagic);
  EXPECT_EQ(s->f_bsize, 4096);
  EXPECT_EQ(s->f_namelen, 255);
  // Without a limit: half the RAM, and plenty free.
  EXPECT_GT(s->f_blocks, 0u);
  EXPECT_GT(s->f_bavail, 0u);
  EXPECT_GT(s->f_ffree, 0u);

  TmpfsOptions opts;
  opts.size_bytes = 1 << 20;
  TmpfsMount m = NewTmpfs(opts);
  auto l = m.root->inode()->StatFs();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->f_blocks, 256u);
  EXPECT_EQ(l->f_bfree, 256u);
  EXPECT_EQ(l->f_bavail, 256u);
  vfs::NewFileSpec spec{S_IFREG | 0644, 0, 0, 0};
  auto f = m.root->inode()->Create("f", spec);
  ASSERT_TRUE(f.ok());
  vfs::SetAttrRequest req;
  req.mask = vfs::SetAttrRequest::kSize;
  req.size = 8192 + 1;
  ASSERT_TRUE((*f)->SetAttr(req).ok());
  EXPECT_EQ((*f)->StatFs()->f_bfree, 256u - 3);
  auto files_before = (*f)->StatFs()->f_ffree;
  ASSERT_TRUE(m.root->inode()->Unlink("f").ok());
  f->reset();  // the last reference: the data goes
  EXPECT_EQ(m.root->inode()->StatFs()->f_bfree, 256u);
  EXPECT_EQ(m.root->inode()->StatFs()->f_ffree, files_before + 1);
}

// Application memory that is never accessible.
class FaultingMemory final : public vfs::UserMemory {
 public:
  int CopyIn(uint64_t, void*, size_t) override { return -EFAULT; }
  int CopyOut(uint64_t, const void*, size_t) override { return -EFAULT; }
};

class LimitedTmpfsTest : public TmpfsTest {
 protected:
  void SetUp() override {
    TmpfsTest::SetUp();
    TmpfsOptions opts;
    opts.size_bytes = 10000;
    TmpfsMount m = NewTmpfs(opts);
    ns_ = vfs::MountNamespace::New(m.fs, m.root, 0);
    ctx_ = vfs::FsContext::New(ns_);
  }
  int64_t WriteAt(const FileRef& f, size_t len, int64_t off) {
    std::string data(len, 'z');
    auto io = vfs::IoSequence::Buffer(data.data(), data.size());
    return f->PWrite(io, off);
  }
  int64_t Append(const FileRef& f, size_t len) {
    std::string data(len, 'a');
    auto io = vfs::IoSequence::Buffer(data.data(), data.size());
    return f->Write(io);
  }
};

TEST_F(LimitedTmpfsTest, WritesStopAtTheLimit) {
  auto f = Open("/f", O_RDWR | O_CREAT);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(WriteAt(*f, 6000, 0), 6000);
  // A write that fails (a bad buffer) takes no room and leaves the size.
  FaultingMemory bad_mem;
  auto bad = vfs::IoSequence::User(bad_mem, 0x1000, 3);
  EXPECT_EQ((*f)->PWrite(bad, 7000), -EFAULT);
  EXPECT_EQ(Stat("/f")->st_size, 6000);
  // Overwriting in place needs no room.
  EXPECT_EQ(WriteAt(*f, 6000, 0), 6000);
  auto g = Open("/g", O_WRONLY | O_CREAT | O_APPEND);
  ASSERT_TRUE(g.ok());
  // Only what fits is written; then ENOSPC.
  EXPECT_EQ(Append(*g, 5000), 4000);
  EXPECT_EQ(Stat("/g")->st_size, 4000);
  EXPECT_EQ(Append(*g, 1), -ENOSPC);
  EXPECT_EQ(WriteAt(*f, 10, 6000), -ENOSPC);
  EXPECT_EQ(WriteAt(*f, 10, 5990), 10);  // within the file
  // A hole counts: the size is what is counted.
  EXPECT_EQ(Errno(vfs::Ftruncate(**f, 6001)), ENOSPC);
  EXPECT_EQ(Stat("/f")->st_size, 6000);
  // Shrinking gives room back.
  ASSERT_TRUE(vfs::Ftruncate(**f, 1000).ok());
  EXPECT_EQ(Append(*g, 5000), 5000);
  EXPECT_EQ(Append(*g, 1), -ENOSPC);
  // O_TRUNC frees a file's bytes too.
  ASSERT_TRUE(Open("/g", O_WRONLY | O_TRUNC).ok());
  EXPECT_EQ(WriteAt(*f, 9000, 1000), 9000);
  // Unlinking frees once the last open description is gone.
  ASSERT_EQ(Unlink("/f"), 0);
  auto h = Open("/h", O_WRONLY | O_CREAT);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Append(*h, 1), -ENOSPC);
  f->reset();
  EXPECT_EQ(Append(*h, 10000), 10000);
  EXPECT_EQ(Stat("/h")->st_size, 10000);
}

TEST_F(LimitedTmpfsTest, ConcurrentAppendsNeverExceedTheLimit) {
  auto f = Open("/f", O_WRONLY | O_CREAT | O_APPEND);
  ASSERT_TRUE(f.ok());
  std::atomic<int64_t> total{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (;;) {
        int64_t n = Append(*f, 7);
        if (n < 0) {
          EXPECT_EQ(n, -ENOSPC);
          break;
        }
        total += n;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), 10000);
  EXPECT_EQ(Stat("/f")->st_size, 10000);
}

class FifoTest : public TmpfsTest {
 protected:
  void SetUp() override {
    TmpfsTest::SetUp();
    ASSERT_EQ(
        Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/fifo", S_IFIFO | 0666, 0)),
        0);
  }
  static int64_t Put(const FileRef& f, const std::string& s) {
    auto io = vfs::IoSequence::Buffer(s.data(), s.size());
    return f->Write(io);
  }
  static std::string Get(const FileRef& f, size_t n = 64) {
    std::string buf(n, '\0');
    auto io = vfs::IoSequence::Buffer(buf.data(), buf.size());
    int64_t got = f->Read(io);
    if (got < 0) return "error " + std::to_string(-got);
    buf.resize(got);
    return buf;
  }
};

TEST_F(FifoTest, NonblockingOpens) {
  // A writer without readers: ENXIO.
  EXPECT_EQ(OpenErr("/fifo", O_WRONLY | O_NONBLOCK), ENXIO);
  // A reader never waits with O_NONBLOCK, and reads EOF without writers.
  auto r = Open("/fifo", O_RDONLY | O_NONBLOCK);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)->stream());
  EXPECT_EQ(Get(*r), "");
  // No hang-up before any writer came.
  EXPECT_EQ((*r)->Readiness(POLLIN | POLLHUP), 0);
  auto w = Open("/fifo", O_WRONLY | O_NONBLOCK);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(Put(*w, "hello"), 5);
  EXPECT_EQ((*r)->Readiness(POLLIN | POLLHUP), POLLIN);
  EXPECT_EQ(Get(*r), "hello");
  EXPECT_EQ(Get(*r), "error " + std::to_string(EAGAIN));
  w->reset();
  EXPECT_EQ((*r)->Readiness(POLLIN | POLLHUP), POLLHUP);
  EXPECT_EQ((*r)->Seek(0, SEEK_SET), -ESPIPE);
  // fstat of an end is the FIFO's inode.
  EXPECT_TRUE(S_ISFIFO((*r)->Stat()->st_mode));
  EXPECT_EQ((*r)->Stat()->st_ino, Stat("/fifo")->st_ino);
}

TEST_F(FifoTest, EndsArePipes) {
  auto rw = Open("/fifo", O_RDWR);
  ASSERT_TRUE(rw.ok());
  auto r = Open("/fifo", O_RDONLY | O_NONBLOCK);
  ASSERT_TRUE(r.ok());
  ASSERT_NE(PipeOf(**rw), nullptr);
  EXPECT_EQ(PipeOf(**rw), PipeOf(**r));
  EXPECT_EQ(PipeFcntl(**rw, F_GETPIPE_SZ, 0), 65536);
  EXPECT_EQ(PipeFcntl(**rw, F_SETPIPE_SZ, 4096), 4096);
  EXPECT_EQ(PipeFcntl(**r, F_GETPIPE_SZ, 0), 4096);
}

TEST_F(FifoTest, ReadWriteOpenNeverBlocks) {
  auto rw = Open("/fifo", O_RDWR);
  ASSERT_TRUE(rw.ok());
  EXPECT_EQ(Put(*rw, "loop"), 4);
  EXPECT_EQ(Get(*rw), "loop");
  // With a reader there, a non-blocking writer opens.
  EXPECT_TRUE(Open("/fifo", O_WRONLY | O_NONBLOCK).ok());
}

TEST_F(FifoTest, BlockingOpensWaitForThePartner) {
  std::atomic<bool> opened{false};
  FileRef reader;
  std::thread t([&] {
    auto r = Open("/fifo", O_RDONLY);
    ASSERT_TRUE(r.ok()) << r.status();
    reader = *r;
    opened = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(opened.load());
  auto w = Open("/fifo", O_WRONLY);  // a reader is waiting: no wait
  ASSERT_TRUE(w.ok());
  t.join();
  EXPECT_TRUE(opened.load());
  EXPECT_EQ(Put(*w, "data"), 4);
  EXPECT_EQ(Get(reader), "data");
  w->reset();
  EXPECT_EQ(Get(reader), "");  // EOF once the writer is gone

  // A writer waits for a reader the same way.
  reader.reset();
  opened = false;
  FileRef writer;
  std::thread t2([&] {
    auto w2 = Open("/fifo", O_WRONLY);
    ASSERT_TRUE(w2.ok()) << w2.status();
    writer = *w2;
    opened = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(opened.load());
  auto r2 = Open("/fifo", O_RDONLY | O_NONBLOCK);
  ASSERT_TRUE(r2.ok());
  t2.join();
  EXPECT_EQ(Put(writer, "more"), 4);
  EXPECT_EQ(Get(*r2), "more");
}

TEST_F(FifoTest, DataGoesWhenTheLastEndCloses) {
  {
    auto rw = Open("/fifo", O_RDWR);
    ASSERT_TRUE(rw.ok());
    EXPECT_EQ(Put(*rw, "stale"), 5);
  }
  auto rw = Open("/fifo", O_RDWR | O_NONBLOCK);
  ASSERT_TRUE(rw.ok());
  EXPECT_EQ(Get(*rw), "error " + std::to_string(EAGAIN));
}

// Interrupts the sleeps of the thread it is installed on, as a signal does.
class TestInterruptor final : public vfs::Interruptor {
 public:
  bool Arm(vfs::Waiter* w) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (interrupted_) return false;
    armed_ = w;
    return true;
  }
  bool Disarm() override {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = nullptr;
    return interrupted_;
  }
  void Interrupt() {
    std::lock_guard<std::mutex> lock(mu_);
    interrupted_ = true;
    if (armed_) armed_->Notify();
  }
  bool armed() {
    std::lock_guard<std::mutex> lock(mu_);
    return armed_ != nullptr;
  }

 private:
  std::mutex mu_;
  vfs::Waiter* armed_ = nullptr;
  bool interrupted_ = false;
};

TEST_F(FifoTest, InterruptedOpenRestartsAndUndoesItsCount) {
  TestInterruptor intr;
  int err = 0;
  std::thread t([&] {
    vfs::SetThreadInterruptor(&intr);
    err = Errno(Open("/fifo", O_WRONLY).status());
    vfs::SetThreadInterruptor(nullptr);
  });
  while (!intr.armed()) std::this_thread::yield();
  intr.Interrupt();
  t.join();
  EXPECT_EQ(err, kERestartSys);
  // The abandoned writer is not counted: a blocking reader still waits.
  std::atomic<bool> opened{false};
  std::thread t2([&] {
    EXPECT_TRUE(Open("/fifo", O_RDONLY).ok());
    opened = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(opened.load());
  auto w = Open("/fifo", O_WRONLY | O_NONBLOCK);
  EXPECT_TRUE(w.ok());
  t2.join();
  EXPECT_TRUE(opened.load());
}

}  // namespace
}  // namespace sentry::fs
