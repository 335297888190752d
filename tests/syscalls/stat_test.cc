// Conformance: stat/lstat/fstat/newfstatat/statx, access/faccessat/
// faccessat2 and readlink/readlinkat over the read-only fixture tree.
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

namespace cvisor::syscall_test {
namespace {

struct stat StatOrDie(const std::string& path) {
  struct stat st;
  memset(&st, 0, sizeof(st));
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path << ": " << ErrnoName(errno);
  return st;
}

struct stat LstatOrDie(const std::string& path) {
  struct stat st;
  memset(&st, 0, sizeof(st));
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << ErrnoName(errno);
  return st;
}

// ---- stat / lstat / fstat ------------------------------------------------

TEST(StatTest, RegularFile) {
  const struct stat st = StatOrDie(Testdata("file.txt"));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kFileSize));
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_GT(st.st_blksize, 0);
  EXPECT_GT(st.st_ino, 0u);
}

TEST(StatTest, ModesOfTheFixture) {
  EXPECT_EQ(StatOrDie(Testdata("exec.sh")).st_mode, S_IFREG | 0755u);
  EXPECT_EQ(StatOrDie(Testdata("empty.txt")).st_mode, S_IFREG | 0644u);
  EXPECT_EQ(StatOrDie(Testdata("empty.txt")).st_size, 0);
  EXPECT_EQ(StatOrDie(Testdata("small.txt")).st_size, 13);
  EXPECT_EQ(StatOrDie(Testdata("dir")).st_mode, S_IFDIR | 0755u);
}

TEST(StatTest, DirectoryLinkCountIsTwoPlusSubdirectories) {
  // "." plus the entry in the parent, plus one ".." per subdirectory.
  EXPECT_EQ(StatOrDie(Testdata("dir")).st_nlink, 3u);      // sub/
  EXPECT_EQ(StatOrDie(Testdata("dir/sub")).st_nlink, 2u);  // empty
  EXPECT_EQ(StatOrDie(Testdata("many")).st_nlink, 2u);     // files only
  EXPECT_EQ(StatOrDie(TestdataDir()).st_nlink, 4u);        // dir/, many/
}

TEST(StatTest, FollowsSymlinks) {
  const struct stat target = StatOrDie(Testdata("file.txt"));
  for (const char* link : {"rel_link", "abs_link"}) {
    const struct stat st = StatOrDie(Testdata(link));
    EXPECT_EQ(st.st_ino, target.st_ino) << link;
    EXPECT_EQ(st.st_dev, target.st_dev) << link;
    EXPECT_TRUE(S_ISREG(st.st_mode)) << link;
  }
  EXPECT_TRUE(S_ISDIR(StatOrDie(Testdata("dir_link")).st_mode));
}

TEST(StatTest, DistinctFilesHaveDistinctInodes) {
  EXPECT_NE(StatOrDie(Testdata("file.txt")).st_ino,
            StatOrDie(Testdata("small.txt")).st_ino);
  EXPECT_EQ(StatOrDie(Testdata("file.txt")).st_dev,
            StatOrDie(Testdata("small.txt")).st_dev);
}

TEST(StatTest, Errors) {
  struct stat st;
  EXPECT_ERRNO(stat(Testdata("missing").c_str(), &st), ENOENT);
  EXPECT_ERRNO(stat(Testdata("dangling").c_str(), &st), ENOENT);
  EXPECT_ERRNO(stat(Testdata("loop1").c_str(), &st), ELOOP);
  EXPECT_ERRNO(stat(Testdata("file.txt/x").c_str(), &st), ENOTDIR);
  EXPECT_ERRNO(stat(Testdata("file.txt/").c_str(), &st), ENOTDIR);
  EXPECT_ERRNO(stat("", &st), ENOENT);
}

TEST(StatTest, BadPointersAreEFAULT) {
  EXPECT_ERRNO(syscall(SYS_stat, Testdata("file.txt").c_str(), kBadPtr),
               EFAULT);
  EXPECT_ERRNO(syscall(SYS_lstat, Testdata("rel_link").c_str(), kBadPtr),
               EFAULT);
  struct stat st;
  EXPECT_ERRNO(syscall(SYS_stat, kBadPtr, &st), EFAULT);
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  EXPECT_ERRNO(syscall(SYS_fstat, fd.get(), kBadPtr), EFAULT);
}

TEST(LstatTest, SymlinkItself) {
  const struct stat rel = LstatOrDie(Testdata("rel_link"));
  EXPECT_TRUE(S_ISLNK(rel.st_mode));
  EXPECT_EQ(rel.st_mode & 07777, 0777u);
  // A symlink's size is the length of its target, without a NUL.
  EXPECT_EQ(rel.st_size, static_cast<off_t>(strlen("file.txt")));
  EXPECT_EQ(LstatOrDie(Testdata("abs_link")).st_size,
            static_cast<off_t>(Testdata("file.txt").size()));
  EXPECT_EQ(LstatOrDie(Testdata("dangling")).st_size,
            static_cast<off_t>(strlen("does_not_exist")));
  EXPECT_TRUE(S_ISLNK(LstatOrDie(Testdata("loop1")).st_mode));
  EXPECT_TRUE(S_ISLNK(LstatOrDie(Testdata("self_loop")).st_mode));
  EXPECT_NE(rel.st_ino, StatOrDie(Testdata("file.txt")).st_ino);
}

TEST(LstatTest, OnRegularFileMatchesStat) {
  const struct stat a = LstatOrDie(Testdata("file.txt"));
  const struct stat b = StatOrDie(Testdata("file.txt"));
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode, b.st_mode);
}

TEST(LstatTest, TrailingSlashFollowsTheLink) {
  // A trailing slash makes the last component a directory lookup, so the
  // link is followed even by lstat.
  EXPECT_TRUE(S_ISDIR(LstatOrDie(Testdata("dir_link/")).st_mode));
  struct stat st;
  EXPECT_ERRNO(lstat(Testdata("rel_link/").c_str(), &st), ENOTDIR);
}

TEST(FstatTest, MatchesStat) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  struct stat a;
  ASSERT_EQ(fstat(fd.get(), &a), 0);
  const struct stat b = StatOrDie(Testdata("file.txt"));
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_dev, b.st_dev);
  EXPECT_EQ(a.st_mode, b.st_mode);
  EXPECT_EQ(a.st_size, b.st_size);
  EXPECT_EQ(a.st_nlink, b.st_nlink);
  EXPECT_EQ(a.st_uid, b.st_uid);
  EXPECT_EQ(a.st_gid, b.st_gid);
  EXPECT_EQ(a.st_blocks, b.st_blocks);
}

TEST(FstatTest, WorksOnPathAndDirectoryFds) {
  CV_OPEN_OR_DIE(p, Testdata("file.txt"), O_PATH);
  struct stat st;
  ASSERT_EQ(fstat(p.get(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kFileSize));
  CV_OPEN_OR_DIE(d, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  ASSERT_EQ(fstat(d.get(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(FstatTest, BadFdIsEBADF) {
  struct stat st;
  EXPECT_ERRNO(fstat(-1, &st), EBADF);
  EXPECT_ERRNO(fstat(9999, &st), EBADF);
}

// ---- newfstatat ----------------------------------------------------------

TEST(NewfstatatTest, RelativeToDirfd) {
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  struct stat st;
  ASSERT_EQ(syscall(SYS_newfstatat, dir.get(), "b", &st, 0), 0);
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(st.st_ino, StatOrDie(Testdata("dir/b")).st_ino);
}

TEST(NewfstatatTest, SymlinkNoFollow) {
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  struct stat st;
  ASSERT_EQ(
      syscall(SYS_newfstatat, dir.get(), "link", &st, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_size, 1);
  ASSERT_EQ(syscall(SYS_newfstatat, dir.get(), "link", &st, 0), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 2);
}

TEST(NewfstatatTest, EmptyPath) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  struct stat st;
  ASSERT_EQ(syscall(SYS_newfstatat, fd.get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_EQ(st.st_size, 13);
  // Without AT_EMPTY_PATH an empty name does not exist.
  EXPECT_ERRNO(syscall(SYS_newfstatat, fd.get(), "", &st, 0), ENOENT);
  // AT_EMPTY_PATH with an O_PATH descriptor of a symlink stats the link.
  CV_OPEN_OR_DIE(l, Testdata("rel_link"), O_PATH | O_NOFOLLOW);
  ASSERT_EQ(syscall(SYS_newfstatat, l.get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(NewfstatatTest, Errors) {
  struct stat st;
  EXPECT_ERRNO(
      syscall(SYS_newfstatat, AT_FDCWD, Testdata("file.txt").c_str(), &st, 0x1),
      EINVAL);
  // fstatat accepts (and ignores) the statx sync-type bits.
  EXPECT_EQ(syscall(SYS_newfstatat, AT_FDCWD, Testdata("file.txt").c_str(), &st,
                    AT_STATX_DONT_SYNC),
            0);
  EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, Testdata("file.txt").c_str(),
                       kBadPtr, 0),
               EFAULT);
  EXPECT_ERRNO(syscall(SYS_newfstatat, 9999, "x", &st, 0), EBADF);
  CV_OPEN_OR_DIE(file, Testdata("file.txt"), O_RDONLY);
  EXPECT_ERRNO(syscall(SYS_newfstatat, file.get(), "x", &st, 0), ENOTDIR);
}

// ---- statx ---------------------------------------------------------------

TEST(StatxTest, AgreesWithStat) {
  struct statx sx;
  memset(&sx, 0xff, sizeof(sx));
  ASSERT_EQ(syscall(SYS_statx, AT_FDCWD, Testdata("file.txt").c_str(), 0,
                    STATX_BASIC_STATS, &sx),
            0)
      << ErrnoName(errno);
  const struct stat st = StatOrDie(Testdata("file.txt"));
  EXPECT_EQ(sx.stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
  EXPECT_EQ(sx.stx_mode, st.st_mode);
  EXPECT_EQ(sx.stx_size, static_cast<uint64_t>(kFileSize));
  EXPECT_EQ(sx.stx_ino, st.st_ino);
  EXPECT_EQ(sx.stx_nlink, st.st_nlink);
  EXPECT_EQ(sx.stx_uid, st.st_uid);
  EXPECT_EQ(sx.stx_gid, st.st_gid);
  EXPECT_EQ(sx.stx_blocks, static_cast<uint64_t>(st.st_blocks));
  EXPECT_EQ(sx.stx_blksize, static_cast<uint32_t>(st.st_blksize));
  EXPECT_EQ(makedev(sx.stx_dev_major, sx.stx_dev_minor), st.st_dev);
  EXPECT_EQ(sx.stx_mtime.tv_sec, st.st_mtim.tv_sec);
  EXPECT_EQ(sx.stx_mtime.tv_nsec, static_cast<uint32_t>(st.st_mtim.tv_nsec));
}

TEST(StatxTest, TypesAndSizes) {
  struct statx sx;
  ASSERT_EQ(syscall(SYS_statx, AT_FDCWD, Testdata("dir").c_str(), 0,
                    STATX_TYPE | STATX_MODE | STATX_NLINK, &sx),
            0);
  EXPECT_EQ(sx.stx_mode, S_IFDIR | 0755u);
  EXPECT_EQ(sx.stx_nlink, 3u);
  ASSERT_EQ(syscall(SYS_statx, AT_FDCWD, Testdata("rel_link").c_str(),
                    AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx),
            0);
  EXPECT_TRUE(S_ISLNK(sx.stx_mode));
  EXPECT_EQ(sx.stx_size, strlen("file.txt"));
  ASSERT_EQ(syscall(SYS_statx, AT_FDCWD, Testdata("rel_link").c_str(), 0,
                    STATX_BASIC_STATS, &sx),
            0);
  EXPECT_TRUE(S_ISREG(sx.stx_mode));
  EXPECT_EQ(sx.stx_size, static_cast<uint64_t>(kFileSize));
}

TEST(StatxTest, EmptyPathUsesTheFd) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  struct statx sx;
  ASSERT_EQ(syscall(SYS_statx, fd.get(), "", AT_EMPTY_PATH, STATX_SIZE, &sx),
            0);
  EXPECT_TRUE(sx.stx_mask & STATX_SIZE);
  EXPECT_EQ(sx.stx_size, 13u);
  EXPECT_ERRNO(syscall(SYS_statx, fd.get(), "", 0, STATX_SIZE, &sx), ENOENT);
}

TEST(StatxTest, Errors) {
  struct statx sx;
  const std::string f = Testdata("file.txt");
  EXPECT_ERRNO(
      syscall(SYS_statx, AT_FDCWD, f.c_str(), 0x1, STATX_BASIC_STATS, &sx),
      EINVAL);
  // FORCE_SYNC and DONT_SYNC together are contradictory.
  EXPECT_ERRNO(
      syscall(SYS_statx, AT_FDCWD, f.c_str(),
              AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx),
      EINVAL);
  EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, f.c_str(), 0, STATX__RESERVED, &sx),
               EINVAL);
  EXPECT_ERRNO(
      syscall(SYS_statx, AT_FDCWD, f.c_str(), 0, STATX_BASIC_STATS, kBadPtr),
      EFAULT);
  EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, Testdata("missing").c_str(), 0,
                       STATX_BASIC_STATS, &sx),
               ENOENT);
  EXPECT_ERRNO(syscall(SYS_statx, 9999, "x", 0, STATX_BASIC_STATS, &sx), EBADF);
}

// ---- access / faccessat / faccessat2 -------------------------------------

TEST(AccessTest, ExistenceAndPermissions) {
  const std::string f = Testdata("file.txt");
  EXPECT_EQ(access(f.c_str(), F_OK), 0);
  EXPECT_EQ(access(f.c_str(), R_OK), 0);
  // Even root needs at least one execute bit for X_OK on a regular file.
  EXPECT_ERRNO(access(f.c_str(), X_OK), EACCES);
  EXPECT_ERRNO(access(f.c_str(), R_OK | X_OK), EACCES);
  EXPECT_EQ(access(Testdata("exec.sh").c_str(), X_OK), 0);
  EXPECT_EQ(access(Testdata("exec.sh").c_str(), R_OK | X_OK), 0);
  EXPECT_EQ(access(Testdata("dir").c_str(), R_OK | X_OK), 0);
  EXPECT_EQ(access(Testdata("rel_link").c_str(), R_OK), 0);
}

TEST(AccessTest, Errors) {
  EXPECT_ERRNO(access(Testdata("missing").c_str(), F_OK), ENOENT);
  EXPECT_ERRNO(access(Testdata("dangling").c_str(), F_OK), ENOENT);
  EXPECT_ERRNO(access(Testdata("loop1").c_str(), F_OK), ELOOP);
  EXPECT_ERRNO(access(Testdata("file.txt/x").c_str(), F_OK), ENOTDIR);
  EXPECT_ERRNO(access(Testdata("file.txt").c_str(), 8), EINVAL);
  EXPECT_ERRNO(access(Testdata("file.txt").c_str(), -1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_access, kBadPtr, F_OK), EFAULT);
}

TEST(FaccessatTest, RelativeToDirfd) {
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(syscall(SYS_faccessat, dir.get(), "a", R_OK), 0);
  EXPECT_ERRNO(syscall(SYS_faccessat, dir.get(), "a", X_OK), EACCES);
  EXPECT_ERRNO(syscall(SYS_faccessat, dir.get(), "zz", F_OK), ENOENT);
  EXPECT_ERRNO(syscall(SYS_faccessat, dir.get(), "a", 8), EINVAL);
  EXPECT_ERRNO(syscall(SYS_faccessat, 9999, "a", F_OK), EBADF);
  CV_OPEN_OR_DIE(file, Testdata("file.txt"), O_RDONLY);
  EXPECT_ERRNO(syscall(SYS_faccessat, file.get(), "a", F_OK), ENOTDIR);
}

TEST(Faccessat2Test, Flags) {
  const std::string f = Testdata("file.txt");
  EXPECT_EQ(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), R_OK, AT_EACCESS), 0);
  EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), X_OK, AT_EACCESS),
               EACCES);
  // AT_SYMLINK_NOFOLLOW checks the link itself, which exists.
  EXPECT_EQ(syscall(SYS_faccessat2, AT_FDCWD, Testdata("dangling").c_str(),
                    F_OK, AT_SYMLINK_NOFOLLOW),
            0);
  EXPECT_ERRNO(
      syscall(SYS_faccessat2, AT_FDCWD, Testdata("dangling").c_str(), F_OK, 0),
      ENOENT);
  CV_OPEN_OR_DIE(fd, f, O_RDONLY);
  EXPECT_EQ(syscall(SYS_faccessat2, fd.get(), "", R_OK, AT_EMPTY_PATH), 0);
  EXPECT_ERRNO(syscall(SYS_faccessat2, fd.get(), "", R_OK, 0), ENOENT);
}

TEST(Faccessat2Test, BadFlagsAndModeAreEINVAL) {
  const std::string f = Testdata("file.txt");
  EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), F_OK, 0x1), EINVAL);
  EXPECT_ERRNO(
      syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), F_OK, AT_NO_AUTOMOUNT),
      EINVAL);
  EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), 8, 0), EINVAL);
}

// ---- readlink / readlinkat -----------------------------------------------

TEST(ReadlinkTest, ReturnsTargetBytesWithoutNul) {
  char buf[64];
  memset(buf, 'X', sizeof(buf));
  ASSERT_EQ(readlink(Testdata("rel_link").c_str(), buf, sizeof(buf)), 8);
  EXPECT_EQ(std::string(buf, 8), "file.txt");
  EXPECT_EQ(buf[8], 'X');  // no terminator written
  ASSERT_EQ(readlink(Testdata("dangling").c_str(), buf, sizeof(buf)), 14);
  EXPECT_EQ(std::string(buf, 14), "does_not_exist");
  ASSERT_EQ(readlink(Testdata("self_loop").c_str(), buf, sizeof(buf)), 9);
  EXPECT_EQ(std::string(buf, 9), "self_loop");
}

TEST(ReadlinkTest, AbsoluteTarget) {
  const std::string want = Testdata("file.txt");
  std::string buf(want.size() + 10, '\0');
  ASSERT_EQ(readlink(Testdata("abs_link").c_str(), buf.data(), buf.size()),
            static_cast<ssize_t>(want.size()));
  EXPECT_EQ(buf.substr(0, want.size()), want);
}

TEST(ReadlinkTest, SmallBufferTruncates) {
  char buf[8];
  memset(buf, 'X', sizeof(buf));
  ASSERT_EQ(readlink(Testdata("rel_link").c_str(), buf, 3), 3);
  EXPECT_EQ(std::string(buf, 4), "filX");
}

TEST(ReadlinkTest, FollowsIntermediateLinks) {
  char buf[8];
  ASSERT_EQ(readlink(Testdata("dir_link/link").c_str(), buf, sizeof(buf)), 1);
  EXPECT_EQ(buf[0], 'a');
}

TEST(ReadlinkTest, Errors) {
  char buf[16];
  EXPECT_ERRNO(readlink(Testdata("file.txt").c_str(), buf, sizeof(buf)),
               EINVAL);
  EXPECT_ERRNO(readlink(Testdata("dir").c_str(), buf, sizeof(buf)), EINVAL);
  EXPECT_ERRNO(readlink(Testdata("missing").c_str(), buf, sizeof(buf)), ENOENT);
  EXPECT_ERRNO(syscall(SYS_readlink, Testdata("rel_link").c_str(), buf, 0),
               EINVAL);
  EXPECT_ERRNO(syscall(SYS_readlink, Testdata("rel_link").c_str(), buf, -1),
               EINVAL);
  EXPECT_ERRNO(syscall(SYS_readlink, Testdata("rel_link").c_str(), kBadPtr, 16),
               EFAULT);
  EXPECT_ERRNO(syscall(SYS_readlink, kBadPtr, buf, sizeof(buf)), EFAULT);
}

TEST(ReadlinkatTest, RelativeToDirfd) {
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  char buf[8];
  ASSERT_EQ(readlinkat(dir.get(), "link", buf, sizeof(buf)), 1);
  EXPECT_EQ(buf[0], 'a');
  EXPECT_ERRNO(readlinkat(dir.get(), "a", buf, sizeof(buf)), EINVAL);
  EXPECT_ERRNO(readlinkat(9999, "link", buf, sizeof(buf)), EBADF);
  CV_OPEN_OR_DIE(file, Testdata("file.txt"), O_RDONLY);
  EXPECT_ERRNO(readlinkat(file.get(), "link", buf, sizeof(buf)), ENOTDIR);
}

TEST(ReadlinkatTest, EmptyPathReadsAnOPathLink) {
  CV_OPEN_OR_DIE(l, Testdata("rel_link"), O_PATH | O_NOFOLLOW);
  char buf[16];
  ASSERT_EQ(readlinkat(l.get(), "", buf, sizeof(buf)), 8);
  EXPECT_EQ(std::string(buf, 8), "file.txt");
  // An empty path naming anything but a symlink is ENOENT (unlike a
  // non-empty path to a non-link, which is EINVAL).
  CV_OPEN_OR_DIE(f, Testdata("file.txt"), O_RDONLY);
  EXPECT_ERRNO(readlinkat(f.get(), "", buf, sizeof(buf)), ENOENT);
  CV_OPEN_OR_DIE(p, Testdata("file.txt"), O_PATH);
  EXPECT_ERRNO(readlinkat(p.get(), "", buf, sizeof(buf)), ENOENT);
  EXPECT_ERRNO(readlinkat(AT_FDCWD, "", buf, sizeof(buf)), ENOENT);
}

}  // namespace
}  // namespace cvisor::syscall_test
