// Conformance: statfs/fstatfs, and the calls about a file's data:
// fsync, fdatasync, sync, syncfs, sync_file_range, posix_fadvise,
// readahead and fallocate, with their argument errors.
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

class StatfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cvisor-statfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << ErrnoName(errno);
    dir_ = tmpl;
    file_ = dir_ + "/f";
    int fd = open(file_.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "0123456789", 10), 10);
    close(fd);
  }
  void TearDown() override {
    unlink(file_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, file_;
};

TEST_F(StatfsTest, StatfsOfTmpfsAndProc) {
  struct statfs s;
  ASSERT_EQ(statfs(dir_.c_str(), &s), 0) << ErrnoName(errno);
  EXPECT_EQ(s.f_type, TMPFS_MAGIC);
  EXPECT_GT(s.f_bsize, 0);
  EXPECT_EQ(s.f_namelen, 255);
  ASSERT_EQ(statfs("/proc", &s), 0);
  EXPECT_EQ(s.f_type, PROC_SUPER_MAGIC);
  EXPECT_TRUE(s.f_flags & 0x20);  // ST_VALID: the ST_* bits are filled in
  ScopedFd fd(open(file_.c_str(), O_RDONLY));
  ASSERT_EQ(fstatfs(fd.get(), &s), 0);
  EXPECT_EQ(s.f_type, TMPFS_MAGIC);
  // O_PATH descriptions are enough for fstatfs.
  ScopedFd p(open(file_.c_str(), O_PATH));
  EXPECT_EQ(fstatfs(p.get(), &s), 0);
  int pp[2];
  ASSERT_EQ(pipe(pp), 0);
  EXPECT_EQ(fstatfs(pp[0], &s), 0);
  EXPECT_EQ(s.f_type, PIPEFS_MAGIC);
  close(pp[0]);
  close(pp[1]);
}

TEST_F(StatfsTest, StatfsErrors) {
  struct statfs s;
  EXPECT_ERRNO(statfs((dir_ + "/missing").c_str(), &s), ENOENT);
  EXPECT_ERRNO(statfs((file_ + "/x").c_str(), &s), ENOTDIR);
  EXPECT_ERRNO(fstatfs(-1, &s), EBADF);
  EXPECT_ERRNO(statfs(dir_.c_str(), static_cast<struct statfs*>(kBadPtr)),
               EFAULT);
}

TEST_F(StatfsTest, SyncFamily) {
  ScopedFd fd(open(file_.c_str(), O_RDWR));
  ScopedFd ro(open(file_.c_str(), O_RDONLY));
  ScopedFd dir(open(dir_.c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_EQ(fsync(fd.get()), 0);
  EXPECT_EQ(fdatasync(fd.get()), 0);
  EXPECT_EQ(fsync(ro.get()), 0);
  EXPECT_EQ(fsync(dir.get()), 0);
  sync();
  EXPECT_EQ(syncfs(fd.get()), 0);
  EXPECT_ERRNO(fsync(-1), EBADF);
  EXPECT_ERRNO(syncfs(-1), EBADF);
  ScopedFd p(open(file_.c_str(), O_PATH));
  EXPECT_ERRNO(fsync(p.get()), EBADF);
  int pp[2];
  ASSERT_EQ(pipe(pp), 0);
  EXPECT_ERRNO(fsync(pp[0]), EINVAL);
  EXPECT_ERRNO(fdatasync(pp[1]), EINVAL);

  EXPECT_EQ(sync_file_range(fd.get(), 0, 10, SYNC_FILE_RANGE_WRITE), 0);
  EXPECT_EQ(sync_file_range(fd.get(), 0, 0, 0), 0);
  EXPECT_ERRNO(sync_file_range(fd.get(), 0, 10, 8), EINVAL);
  EXPECT_ERRNO(sync_file_range(fd.get(), -1, 10, 0), EINVAL);
  EXPECT_ERRNO(sync_file_range(fd.get(), 0, -10, 0), EINVAL);
  EXPECT_ERRNO(sync_file_range(-1, 0, 10, 0), EBADF);
  EXPECT_ERRNO(sync_file_range(pp[1], 0, 10, 0), ESPIPE);
  close(pp[0]);
  close(pp[1]);
}

TEST_F(StatfsTest, FadviseAndReadahead) {
  ScopedFd fd(open(file_.c_str(), O_RDONLY));
  // posix_fadvise returns the error instead of setting errno.
  EXPECT_EQ(posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL), 0);
  EXPECT_EQ(posix_fadvise(fd.get(), 0, 10, POSIX_FADV_DONTNEED), 0);
  EXPECT_EQ(posix_fadvise(fd.get(), 0, 0, 99), EINVAL);
  EXPECT_EQ(posix_fadvise(fd.get(), 0, -1, POSIX_FADV_NORMAL), EINVAL);
  EXPECT_EQ(posix_fadvise(-1, 0, 0, POSIX_FADV_NORMAL), EBADF);
  int pp[2];
  ASSERT_EQ(pipe(pp), 0);
  EXPECT_EQ(posix_fadvise(pp[0], 0, 0, POSIX_FADV_NORMAL), ESPIPE);

  EXPECT_EQ(readahead(fd.get(), 0, 10), 0);
  EXPECT_ERRNO(readahead(pp[0], 0, 10), EINVAL);
  ScopedFd dir(open(dir_.c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_ERRNO(readahead(dir.get(), 0, 10), EINVAL);
  ScopedFd wo(open(file_.c_str(), O_WRONLY));
  EXPECT_ERRNO(readahead(wo.get(), 0, 10), EBADF);
  EXPECT_ERRNO(readahead(-1, 0, 10), EBADF);
  close(pp[0]);
  close(pp[1]);
}

TEST_F(StatfsTest, FallocateErrors) {
  ScopedFd fd(open(file_.c_str(), O_RDWR));
  ScopedFd ro(open(file_.c_str(), O_RDONLY));
  EXPECT_ERRNO(fallocate(fd.get(), 0, -1, 10), EINVAL);
  EXPECT_ERRNO(fallocate(fd.get(), 0, 0, 0), EINVAL);
  EXPECT_ERRNO(fallocate(fd.get(), 0x1000, 0, 10), EOPNOTSUPP);
  // PUNCH_HOLE must come with KEEP_SIZE.
  EXPECT_ERRNO(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP);
  EXPECT_ERRNO(fallocate(ro.get(), 0, 0, 10), EBADF);
  EXPECT_ERRNO(fallocate(-1, 0, 0, 10), EBADF);
  int pp[2];
  ASSERT_EQ(pipe(pp), 0);
  EXPECT_ERRNO(fallocate(pp[1], 0, 0, 10), ESPIPE);
  close(pp[0]);
  close(pp[1]);
  EXPECT_ERRNO(fallocate(fd.get(), 0, INT64_MAX - 5, 10), EFBIG);
}

// Allocation proper needs the file system's support: tmpfs has it natively.
TEST_F(StatfsTest, FallocateExtendsAndPunches) {
  ScopedFd fd(open(file_.c_str(), O_RDWR));
  ASSERT_EQ(fallocate(fd.get(), 0, 0, 8192), 0) << ErrnoName(errno);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  ASSERT_EQ(fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 8192, 4096), 0);
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  ASSERT_EQ(
      fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4), 0);
  char buf[10];
  ASSERT_EQ(pread(fd.get(), buf, 10, 0), 10);
  EXPECT_EQ(std::string(buf, 10), std::string("\0\0\0\0"
                                              "456789",
                                              10));
}

}  // namespace
}  // namespace cvisor::syscall_test
