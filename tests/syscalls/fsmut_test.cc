// Conformance: calls that change the file tree and file attributes —
// mkdir/mknod/link/symlink/unlink/rmdir/rename(2)/creat/truncate/chmod/
// chown/utimensat/umask — inside a fresh directory under /tmp (a tmpfs in
// the sandbox). Runs as root; the unprivileged rules run in a child that
// drops to uid 1000.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

namespace cvisor::syscall_test {
namespace {

int Renameat2(int olddfd, const char* oldp, int newdfd, const char* newp,
              unsigned flags) {
  return static_cast<int>(
      syscall(SYS_renameat2, olddfd, oldp, newdfd, newp, flags));
}

class FsMutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // /dev/shm is a tmpfs natively and in the sandbox, wherever the test
    // binary lives (a /tmp build tree keeps the root's read-only /tmp).
    char tmpl[] = "/dev/shm/cvisor-fsmut-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << "mkdtemp: " << ErrnoName(errno);
    dir_ = tmpl;
    old_umask_ = umask(022);
  }
  void TearDown() override {
    umask(old_umask_);
    if (!dir_.empty()) RemoveTree(dir_);
  }

  static void RemoveTree(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      chmod(path.c_str(), 0700);
      if (DIR* d = opendir(path.c_str())) {
        std::vector<std::string> names;
        while (struct dirent* e = readdir(d)) {
          std::string n = e->d_name;
          if (n != "." && n != "..") names.push_back(n);
        }
        closedir(d);
        for (const std::string& n : names) RemoveTree(path + "/" + n);
      }
      rmdir(path.c_str());
    } else {
      unlink(path.c_str());
    }
  }

  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }
  const char* C(const std::string& rel) {
    paths_.push_back(P(rel));
    return paths_.back().c_str();
  }

  void Write(const std::string& rel, const std::string& data,
             mode_t mode = 0644) {
    int fd = open(P(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    ASSERT_GE(fd, 0) << rel << ": " << ErrnoName(errno);
    ASSERT_EQ(write(fd, data.data(), data.size()),
              static_cast<ssize_t>(data.size()));
    close(fd);
  }
  std::string Read(const std::string& rel) {
    int fd = open(P(rel).c_str(), O_RDONLY);
    EXPECT_GE(fd, 0) << rel << ": " << ErrnoName(errno);
    if (fd < 0) return "";
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n < 0 ? "" : std::string(buf, n);
  }
  struct stat Stat(const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(stat(P(rel).c_str(), &st), 0) << rel << ": " << ErrnoName(errno);
    return st;
  }
  struct stat Lstat(const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(lstat(P(rel).c_str(), &st), 0) << rel << ": " << ErrnoName(errno);
    return st;
  }
  bool Exists(const std::string& rel) {
    struct stat st;
    return lstat(P(rel).c_str(), &st) == 0;
  }
  std::vector<std::string> List(const std::string& rel) {
    std::vector<std::string> names;
    DIR* d = opendir(P(rel).c_str());
    EXPECT_NE(d, nullptr);
    if (d == nullptr) return names;
    while (struct dirent* e = readdir(d)) names.push_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
  std::vector<std::string> paths_;
  mode_t old_umask_ = 022;
};

TEST_F(FsMutTest, MkdirRmdir) {
  ASSERT_EQ(mkdir(C("d"), 0755), 0);
  EXPECT_ERRNO(mkdir(C("d"), 0755), EEXIST);
  EXPECT_ERRNO(mkdir(C("d/."), 0755), EEXIST);
  EXPECT_ERRNO(mkdir(C("missing/x"), 0755), ENOENT);
  struct stat st = Stat("d");
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(mkdir(C("d/sub/"), 0700), 0);  // a trailing slash is fine
  EXPECT_EQ(Stat("d").st_nlink, 3u);
  Write("d/f", "x");
  EXPECT_EQ(List("d"), (std::vector<std::string>{".", "..", "f", "sub"}));
  EXPECT_ERRNO(rmdir(C("d")), ENOTEMPTY);
  EXPECT_ERRNO(rmdir(C("d/sub/.")), EINVAL);
  EXPECT_ERRNO(rmdir(C("d/sub/..")), ENOTEMPTY);
  EXPECT_ERRNO(rmdir(C("d/f")), ENOTDIR);
  EXPECT_ERRNO(unlink(C("d/sub")), EISDIR);
  EXPECT_ERRNO(unlinkat(AT_FDCWD, C("d/f"), 0x1), EINVAL);
  EXPECT_ERRNO(rmdir(C("d/nothere")), ENOENT);
  ASSERT_EQ(rmdir(C("d/sub/")), 0);
  EXPECT_EQ(Stat("d").st_nlink, 2u);
  ASSERT_EQ(unlinkat(AT_FDCWD, C("d/f"), 0), 0);
  ASSERT_EQ(unlinkat(AT_FDCWD, C("d"), AT_REMOVEDIR), 0);
  EXPECT_FALSE(Exists("d"));
}

TEST_F(FsMutTest, MkdiratRelativeToDirfd) {
  ASSERT_EQ(mkdir(C("d"), 0755), 0);
  int dfd = open(C("d"), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  EXPECT_EQ(mkdirat(dfd, "sub", 0700), 0);
  EXPECT_EQ(symlinkat("sub", dfd, "link"), 0);
  EXPECT_EQ(renameat(dfd, "sub", dfd, "sub2"), 0);
  EXPECT_EQ(unlinkat(dfd, "link", 0), 0);
  EXPECT_EQ(unlinkat(dfd, "sub2", AT_REMOVEDIR), 0);
  close(dfd);
  EXPECT_EQ(List("d"), (std::vector<std::string>{".", ".."}));
}

TEST_F(FsMutTest, CreateAndTruncate) {
  int fd = creat(C("f"), 0640);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ASSERT_EQ(write(fd, "hello", 5), 5);
  close(fd);
  struct stat st = Stat("f");
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_ERRNO(open(C("f"), O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
  EXPECT_ERRNO(open(C("f/"), O_RDWR | O_CREAT, 0644), EISDIR);
  EXPECT_ERRNO(open(C("nodir/f"), O_RDWR | O_CREAT, 0644), ENOENT);
  // The creator may write a file it creates without write permission.
  fd = open(C("ro"), O_RDWR | O_CREAT | O_EXCL, 0);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  EXPECT_EQ(write(fd, "x", 1), 1);
  close(fd);

  ASSERT_EQ(truncate(C("f"), 2), 0);
  EXPECT_EQ(Read("f"), "he");
  EXPECT_ERRNO(truncate(C("f"), -1), EINVAL);
  EXPECT_ERRNO(truncate(dir_.c_str(), 0), EISDIR);
  EXPECT_ERRNO(truncate(C("missing"), 0), ENOENT);
  fd = open(C("f"), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_ERRNO(ftruncate(fd, 0), EINVAL);
  close(fd);
  fd = open(C("f"), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 8192), 0);
  EXPECT_EQ(Stat("f").st_size, 8192);
  EXPECT_ERRNO(ftruncate(fd, -1), EINVAL);
  close(fd);
  fd = open(C("f"), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(Stat("f").st_size, 0);
  EXPECT_ERRNO(ftruncate(9999, 0), EBADF);
}

TEST_F(FsMutTest, Umask) {
  EXPECT_EQ(umask(027), 022u);
  int fd = open(C("f"), O_WRONLY | O_CREAT, 0777);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(Stat("f").st_mode & 07777, 0750u);
  ASSERT_EQ(mkdir(C("d"), 0777), 0);
  EXPECT_EQ(Stat("d").st_mode & 07777, 0750u);
  EXPECT_EQ(umask(0), 027u);
  // Only the permission bits are kept.
  EXPECT_EQ(umask(07777), 0u);
  EXPECT_EQ(umask(022), 0777u);
}

TEST_F(FsMutTest, UnlinkKeepsOpenFile) {
  Write("f", "data");
  int fd = open(C("f"), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_ERRNO(unlink(C("f/")), ENOTDIR);
  ASSERT_EQ(unlink(C("f")), 0);
  struct stat st;
  EXPECT_ERRNO(stat(C("f"), &st), ENOENT);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  char buf[8] = {};
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), 4);
  EXPECT_STREQ(buf, "data");
  close(fd);
  Write("f", "new");
  EXPECT_EQ(Read("f"), "new");
}

// Names fd's file at `path` the way open(2)'s O_TMPFILE example does:
// through /proc/self/fd. (linkat(fd, "", ..., AT_EMPTY_PATH) needs
// CAP_DAC_READ_SEARCH, which the sandbox's root lacks, or Linux 6.10's
// same-opener exception, which the sandbox does not track.)
int LinkFd(int fd, const char* path) {
  std::string proc = "/proc/self/fd/" + std::to_string(fd);
  return linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

// O_TMPFILE: an unnamed regular file in a directory, named later by
// linkat unless opened with O_EXCL.
TEST_F(FsMutTest, TmpfileIsUnnamedUntilLinked) {
  ASSERT_EQ(mkdir(C("d"), 0755), 0);
  int fd = open(C("d"), O_TMPFILE | O_RDWR, 0640);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);  // umask 022 leaves 0640 alone
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_uid, geteuid());
  // No name in the directory.
  EXPECT_EQ(List("d"), (std::vector<std::string>{".", ".."}));
  ASSERT_EQ(write(fd, "tmpdata", 7), 7);
  char buf[16] = {};
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), 7);
  EXPECT_STREQ(buf, "tmpdata");
  // Now give it a name.
  ASSERT_EQ(LinkFd(fd, C("d/named")), 0) << ErrnoName(errno);
  EXPECT_EQ(List("d"), (std::vector<std::string>{".", "..", "named"}));
  struct stat named = Stat("d/named");
  EXPECT_EQ(named.st_ino, st.st_ino);
  EXPECT_EQ(named.st_nlink, 1u);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(Read("d/named"), "tmpdata");
  // Writes through the descriptor show under the name.
  ASSERT_EQ(pwrite(fd, "TMP", 3, 0), 3);
  EXPECT_EQ(Read("d/named"), "TMPdata");
  // A second name is an ordinary link.
  ASSERT_EQ(LinkFd(fd, C("d/again")), 0) << ErrnoName(errno);
  EXPECT_EQ(Stat("d/named").st_nlink, 2u);
  // Once every name is gone it is a removed file: no more links.
  ASSERT_EQ(unlink(C("d/named")), 0);
  ASSERT_EQ(unlink(C("d/again")), 0);
  EXPECT_ERRNO(LinkFd(fd, C("d/third")), ENOENT);
  close(fd);
  // The data of an unnamed file goes with its last descriptor; a new one
  // starts empty.
  fd = open(C("d"), O_TMPFILE | O_WRONLY, 0600);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
  close(fd);
  EXPECT_EQ(List("d"), (std::vector<std::string>{".", ".."}));
}

TEST_F(FsMutTest, TmpfileExclIsNeverLinked) {
  int fd = open(dir_.c_str(), O_TMPFILE | O_RDWR | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ASSERT_EQ(write(fd, "x", 1), 1);
  EXPECT_ERRNO(LinkFd(fd, C("named")), ENOENT);
  EXPECT_FALSE(Exists("named"));
  close(fd);
}

TEST_F(FsMutTest, TmpfileErrors) {
  Write("f", "x");
  // Write access is required.
  EXPECT_ERRNO(open(dir_.c_str(), O_TMPFILE | O_RDONLY, 0600), EINVAL);
  // The kernel's __O_TMPFILE bit without O_DIRECTORY.
  EXPECT_ERRNO(open(dir_.c_str(), (O_TMPFILE & ~O_DIRECTORY) | O_RDWR, 0600),
               EINVAL);
  EXPECT_ERRNO(open(C("f"), O_TMPFILE | O_RDWR, 0600), ENOTDIR);
  EXPECT_ERRNO(open(C("missing"), O_TMPFILE | O_RDWR, 0600), ENOENT);
  EXPECT_ERRNO(open(dir_.c_str(), O_TMPFILE | O_CREAT | O_RDWR, 0600), EINVAL);
}

TEST_F(FsMutTest, LinksAndSymlinks) {
  Write("f", "x");
  ASSERT_EQ(link(C("f"), C("h")), 0);
  EXPECT_EQ(Stat("f").st_nlink, 2u);
  EXPECT_EQ(Stat("h").st_ino, Stat("f").st_ino);
  EXPECT_ERRNO(link(C("f"), C("h")), EEXIST);
  EXPECT_ERRNO(link(C("missing"), C("m")), ENOENT);
  ASSERT_EQ(mkdir(C("d"), 0755), 0);
  EXPECT_ERRNO(link(C("d"), C("d2")), EPERM);
  ASSERT_EQ(symlink("f", C("l")), 0);
  EXPECT_ERRNO(symlink("f", C("l")), EEXIST);
  EXPECT_ERRNO(symlink("", C("e")), ENOENT);
  EXPECT_ERRNO(symlink("f", C("s/")), ENOENT);
  char buf[64];
  ssize_t n = readlink(C("l"), buf, sizeof(buf));
  ASSERT_EQ(n, 1);
  EXPECT_EQ(buf[0], 'f');
  struct stat lst = Lstat("l");
  EXPECT_TRUE(S_ISLNK(lst.st_mode));
  EXPECT_EQ(lst.st_size, 1);
  EXPECT_EQ(Read("l"), "x");
  // linkat without AT_SYMLINK_FOLLOW links the symlink itself.
  ASSERT_EQ(linkat(AT_FDCWD, C("l"), AT_FDCWD, C("l2"), 0), 0);
  EXPECT_TRUE(S_ISLNK(Lstat("l2").st_mode));
  ASSERT_EQ(linkat(AT_FDCWD, C("l"), AT_FDCWD, C("f3"), AT_SYMLINK_FOLLOW), 0);
  EXPECT_TRUE(S_ISREG(Lstat("f3").st_mode));
  EXPECT_EQ(Stat("f").st_nlink, 3u);
  EXPECT_ERRNO(linkat(AT_FDCWD, C("f"), AT_FDCWD, C("f4"), 0x8000), EINVAL);
  ASSERT_EQ(unlink(C("f")), 0);
  EXPECT_EQ(Stat("h").st_nlink, 2u);
  EXPECT_ERRNO(stat(C("l"), &lst), ENOENT);  // dangling now
}

TEST_F(FsMutTest, RenameFiles) {
  Write("a", "A");
  Write("b", "B");
  EXPECT_ERRNO(Renameat2(AT_FDCWD, C("a"), AT_FDCWD, C("b"), RENAME_NOREPLACE),
               EEXIST);
  ASSERT_EQ(rename(C("a"), C("b")), 0);
  EXPECT_FALSE(Exists("a"));
  EXPECT_EQ(Read("b"), "A");
  Write("c", "C");
  ASSERT_EQ(Renameat2(AT_FDCWD, C("b"), AT_FDCWD, C("c"), RENAME_EXCHANGE), 0);
  EXPECT_EQ(Read("b"), "C");
  EXPECT_EQ(Read("c"), "A");
  EXPECT_ERRNO(Renameat2(AT_FDCWD, C("b"), AT_FDCWD, C("zz"), RENAME_EXCHANGE),
               ENOENT);
  EXPECT_ERRNO(Renameat2(AT_FDCWD, C("b"), AT_FDCWD, C("zz"),
                         RENAME_EXCHANGE | RENAME_NOREPLACE),
               EINVAL);
  EXPECT_ERRNO(rename(C("nothere"), C("zz")), ENOENT);
  EXPECT_ERRNO(rename(C("b"), C("zz/")), ENOTDIR);
  EXPECT_ERRNO(rename(C("b/"), C("zz")), ENOTDIR);
  ASSERT_EQ(link(C("b"), C("b2")), 0);
  EXPECT_EQ(rename(C("b"), C("b2")), 0);  // same file: nothing happens
  EXPECT_TRUE(Exists("b"));
  EXPECT_ERRNO(rename(C("."), C("x")), EBUSY);
}

TEST_F(FsMutTest, RenameDirectories) {
  ASSERT_EQ(mkdir(C("d"), 0755), 0);
  ASSERT_EQ(mkdir(C("d/sub"), 0755), 0);
  Write("d/sub/f", "x");
  ASSERT_EQ(mkdir(C("e"), 0755), 0);
  Write("file", "");
  EXPECT_ERRNO(rename(C("d"), C("d/sub/x")), EINVAL);
  EXPECT_ERRNO(rename(C("d/sub"), C("d")), ENOTEMPTY);
  EXPECT_ERRNO(rename(C("d"), C("file")), ENOTDIR);
  EXPECT_ERRNO(rename(C("file"), C("e")), EISDIR);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(C("d/sub")), 0);
  ASSERT_EQ(rename(C("d/"), C("e/moved/")), 0);
  char now[4096];
  ASSERT_NE(getcwd(now, sizeof(now)), nullptr);
  EXPECT_EQ(std::string(now), P("e/moved/sub"));
  ASSERT_EQ(chdir(cwd), 0);
  EXPECT_EQ(Read("e/moved/sub/f"), "x");
  EXPECT_EQ(Stat("e").st_nlink, 3u);
  ASSERT_EQ(mkdir(C("empty"), 0755), 0);
  ASSERT_EQ(rename(C("e/moved"), C("empty")), 0);
  EXPECT_EQ(Stat("e").st_nlink, 2u);
  EXPECT_EQ(Read("empty/sub/f"), "x");
  ASSERT_EQ(
      Renameat2(AT_FDCWD, C("empty"), AT_FDCWD, C("file"), RENAME_EXCHANGE), 0);
  EXPECT_TRUE(S_ISDIR(Stat("file").st_mode));
  EXPECT_TRUE(S_ISREG(Stat("empty").st_mode));
}

TEST_F(FsMutTest, Mknod) {
  ASSERT_EQ(mknod(C("fifo"), S_IFIFO | 0600, 0), 0);
  EXPECT_TRUE(S_ISFIFO(Lstat("fifo").st_mode));
  ASSERT_EQ(mknodat(AT_FDCWD, C("reg"), 0600, 0), 0);
  EXPECT_TRUE(S_ISREG(Lstat("reg").st_mode));
  ASSERT_EQ(mknod(C("sock"), S_IFSOCK | 0600, 0), 0);
  EXPECT_TRUE(S_ISSOCK(Lstat("sock").st_mode));
  EXPECT_ERRNO(open(C("sock"), O_RDONLY), ENXIO);
  EXPECT_ERRNO(mknod(C("dir"), S_IFDIR | 0700, 0), EPERM);
  EXPECT_ERRNO(mknod(C("bad"), 0170000 | 0700, 0), EINVAL);
  EXPECT_ERRNO(mknod(C("fifo"), S_IFIFO | 0600, 0), EEXIST);
}

TEST_F(FsMutTest, ChmodChown) {
  Write("f", "");
  ASSERT_EQ(chmod(C("f"), 04755), 0);
  EXPECT_EQ(Stat("f").st_mode & 07777, 04755u);
  int fd = open(C("f"), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 0600), 0);
  EXPECT_EQ(Stat("f").st_mode & 07777, 0600u);
  ASSERT_EQ(fchmodat(AT_FDCWD, C("f"), 04711, 0), 0);
  ASSERT_EQ(fchown(fd, 1000, 1000), 0);
  struct stat st = Stat("f");
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1000u);
  EXPECT_EQ(st.st_mode & 07777, 0711u);  // chown cleared set-user-ID
  close(fd);
  ASSERT_EQ(symlink("f", C("l")), 0);
  ASSERT_EQ(lchown(C("l"), 1001, 1001), 0);
  EXPECT_EQ(Lstat("l").st_uid, 1001u);
  EXPECT_EQ(Stat("f").st_uid, 1000u);
  ASSERT_EQ(chown(C("l"), 1002, -1), 0);
  EXPECT_EQ(Stat("f").st_uid, 1002u);
  EXPECT_EQ(Stat("f").st_gid, 1000u);
  ASSERT_EQ(fchownat(AT_FDCWD, C("l"), 0, 0, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_EQ(Lstat("l").st_uid, 0u);
  EXPECT_ERRNO(fchownat(AT_FDCWD, C("l"), 0, 0, 0x1), EINVAL);
  EXPECT_ERRNO(chmod(C("missing"), 0600), ENOENT);
  EXPECT_ERRNO(fchmod(9999, 0600), EBADF);
}

TEST_F(FsMutTest, Times) {
  Write("f", "x");
  struct timespec ts[2] = {{1000, 5}, {2000, 6}};
  ASSERT_EQ(utimensat(AT_FDCWD, C("f"), ts, 0), 0);
  struct stat st = Stat("f");
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 6);
  EXPECT_GT(st.st_ctim.tv_sec, 2000);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {3000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, C("f"), omit, 0), 0);
  st = Stat("f");
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_mtim.tv_sec, 3000);
  struct timespec nowts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ASSERT_EQ(utimensat(AT_FDCWD, C("f"), nowts, 0), 0);
  st = Stat("f");
  EXPECT_GT(st.st_atim.tv_sec, 3000);
  EXPECT_EQ(st.st_mtim.tv_sec, 3000);
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_ERRNO(utimensat(AT_FDCWD, C("f"), bad, 0), EINVAL);
  EXPECT_ERRNO(utimensat(AT_FDCWD, C("f"), ts, 0x4), EINVAL);
  // Both UTIME_OMIT: nothing to do, the path is not even looked up.
  struct timespec both[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  EXPECT_EQ(utimensat(AT_FDCWD, C("missing"), both, 0), 0);
  // A NULL path means dirfd's own file.
  int fd = open(C("f"), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(syscall(SYS_utimensat, fd, nullptr, ts, 0), 0);
  EXPECT_EQ(Stat("f").st_mtim.tv_sec, 2000);
  ASSERT_EQ(futimens(fd, nullptr), 0);
  EXPECT_GT(Stat("f").st_mtim.tv_sec, 2000);
  close(fd);

  struct timeval tv[2] = {{4000, 7}, {5000, 8}};
  ASSERT_EQ(utimes(C("f"), tv), 0);
  st = Stat("f");
  EXPECT_EQ(st.st_atim.tv_sec, 4000);
  EXPECT_EQ(st.st_atim.tv_nsec, 7000);
  EXPECT_EQ(st.st_mtim.tv_sec, 5000);
  struct timeval badtv[2] = {{0, 1000000}, {0, 0}};
  EXPECT_ERRNO(utimes(C("f"), badtv), EINVAL);
  struct utimbuf ub = {6000, 7000};
  ASSERT_EQ(utime(C("f"), &ub), 0);
  st = Stat("f");
  EXPECT_EQ(st.st_atim.tv_sec, 6000);
  EXPECT_EQ(st.st_mtim.tv_sec, 7000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
  ASSERT_EQ(syscall(SYS_futimesat, AT_FDCWD, C("f"), tv), 0);
  EXPECT_EQ(Stat("f").st_mtim.tv_sec, 5000);

  // Changing a directory's entries moves its mtime.
  ASSERT_EQ(mkdir(C("d"), 0755), 0);
  struct timespec old[2] = {{100, 0}, {100, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, C("d"), old, 0), 0);
  Write("d/x", "");
  EXPECT_GT(Stat("d").st_mtim.tv_sec, 100);
  ASSERT_EQ(utimensat(AT_FDCWD, C("d"), old, 0), 0);
  ASSERT_EQ(unlink(C("d/x")), 0);
  EXPECT_GT(Stat("d").st_mtim.tv_sec, 100);
}

TEST_F(FsMutTest, MmapPrivate) {
  Write("f", "mapped data");
  int fd = open(C("f"), O_RDWR);
  ASSERT_GE(fd, 0);
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ASSERT_NE(p, MAP_FAILED) << ErrnoName(errno);
  EXPECT_EQ(memcmp(p, "mapped data", 11), 0);
  // A private copy: the file stays as it was.
  static_cast<char*>(p)[0] = 'M';
  EXPECT_EQ(Read("f"), "mapped data");
  munmap(p, 4096);
  close(fd);
}

// The rules for callers without privileges, checked in a child that drops to
// uid/gid 1000. The exit status is 1 + the number of the first failed check.
TEST_F(FsMutTest, UnprivilegedRules) {
  ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);  // sticky, like /tmp
  ASSERT_EQ(mkdir(C("closed"), 0755), 0);
  Write("rootfile", "", 0644);
  Write("shared", "", 0666);
  ASSERT_EQ(chmod(C("shared"), 0666), 0);  // past the umask
  const std::string closed = P("closed");
  const std::string rootfile = P("rootfile");
  const std::string shared = P("shared");
  const std::string mine = P("mine");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int bad = 0;
    auto check = [&](bool ok, int n) {
      if (!ok && bad == 0) bad = n + 1;
    };
    if (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0) {
      _exit(255);
    }
    errno = 0;
    check(mkdir((closed + "/x").c_str(), 0755) == -1 && errno == EACCES, 0);
    errno = 0;
    check(unlink(rootfile.c_str()) == -1 && errno == EPERM, 1);  // sticky
    errno = 0;
    check(chmod(rootfile.c_str(), 0777) == -1 && errno == EPERM, 2);
    errno = 0;
    check(chown(rootfile.c_str(), 1000, 1000) == -1 && errno == EPERM, 3);
    struct timespec ts[2] = {{1, 0}, {1, 0}};
    errno = 0;
    check(utimensat(AT_FDCWD, rootfile.c_str(), ts, 0) == -1 && errno == EPERM,
          4);
    errno = 0;
    check(utimensat(AT_FDCWD, rootfile.c_str(), nullptr, 0) == -1 &&
              errno == EACCES,
          5);
    // Write permission is enough to set the times to now.
    check(utimensat(AT_FDCWD, shared.c_str(), nullptr, 0) == 0, 6);
    errno = 0;
    check(truncate(rootfile.c_str(), 0) == -1 && errno == EACCES, 7);
    // One's own file in the sticky directory may go.
    int fd = open(mine.c_str(), O_WRONLY | O_CREAT, 0644);
    check(fd >= 0, 8);
    if (fd >= 0) close(fd);
    struct stat st;
    check(
        stat(mine.c_str(), &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000,
        9);
    check(rename(mine.c_str(), (mine + "2").c_str()) == 0, 10);
    check(unlink((mine + "2").c_str()) == 0, 11);
    errno = 0;
    check(
        rename(rootfile.c_str(), (mine + "3").c_str()) == -1 && errno == EPERM,
        12);
    _exit(bad);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "first failed check: " << WEXITSTATUS(status) - 1;
}

}  // namespace
}  // namespace cvisor::syscall_test
