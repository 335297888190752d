// Conformance: extended attributes — get/set/list/remove in their path,
// l- and f- forms: user.* round trips, XATTR_CREATE/REPLACE, size queries,
// ERANGE/E2BIG limits, the namespace rules (user.* only on files and
// directories, trusted.* for CAP_SYS_ADMIN, unknown prefixes) and
// permission checks. Works under /dev/shm (tmpfs keeps user xattrs).
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

class XattrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cvisor-xattr-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << ErrnoName(errno);
    dir_ = tmpl;
    file_ = dir_ + "/f";
    int fd = open(file_.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  void TearDown() override {
    unlink(file_.c_str());
    unlink((dir_ + "/link").c_str());
    unlink((dir_ + "/fifo").c_str());
    rmdir(dir_.c_str());
  }
  std::vector<std::string> List(const std::string& path) {
    char buf[4096];
    ssize_t n = listxattr(path.c_str(), buf, sizeof buf);
    std::vector<std::string> out;
    if (n < 0) return out;
    for (ssize_t i = 0; i < n;) {
      out.emplace_back(buf + i);
      i += out.back().size() + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_, file_;
};

TEST_F(XattrTest, UserAttributeRoundTrip) {
  const char* f = file_.c_str();
  ASSERT_EQ(setxattr(f, "user.a", "hello", 5, 0), 0) << ErrnoName(errno);
  char buf[16] = {};
  EXPECT_EQ(getxattr(f, "user.a", buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  // A size of 0 asks for the length.
  EXPECT_EQ(getxattr(f, "user.a", nullptr, 0), 5);
  EXPECT_ERRNO(getxattr(f, "user.a", buf, 4), ERANGE);
  EXPECT_ERRNO(getxattr(f, "user.missing", buf, sizeof buf), ENODATA);
  // An empty value is a value.
  ASSERT_EQ(setxattr(f, "user.empty", "", 0, 0), 0);
  EXPECT_EQ(getxattr(f, "user.empty", buf, sizeof buf), 0);
  EXPECT_EQ(List(file_), (std::vector<std::string>{"user.a", "user.empty"}));
  EXPECT_EQ(listxattr(f, nullptr, 0), 18);
  EXPECT_ERRNO(listxattr(f, buf, 5), ERANGE);
  ASSERT_EQ(removexattr(f, "user.a"), 0);
  EXPECT_ERRNO(removexattr(f, "user.a"), ENODATA);
  EXPECT_EQ(List(file_), (std::vector<std::string>{"user.empty"}));
}

TEST_F(XattrTest, CreateAndReplaceFlags) {
  const char* f = file_.c_str();
  EXPECT_ERRNO(setxattr(f, "user.x", "1", 1, XATTR_REPLACE), ENODATA);
  ASSERT_EQ(setxattr(f, "user.x", "1", 1, XATTR_CREATE), 0);
  EXPECT_ERRNO(setxattr(f, "user.x", "2", 1, XATTR_CREATE), EEXIST);
  EXPECT_EQ(setxattr(f, "user.x", "22", 2, XATTR_REPLACE), 0);
  char buf[4];
  EXPECT_EQ(getxattr(f, "user.x", buf, sizeof buf), 2);
  EXPECT_ERRNO(setxattr(f, "user.x", "3", 1, 4), EINVAL);
}

TEST_F(XattrTest, FdAndNoFollowForms) {
  ScopedFd fd(open(file_.c_str(), O_RDWR));
  ASSERT_EQ(fsetxattr(fd.get(), "user.fd", "v", 1, 0), 0);
  char buf[4];
  EXPECT_EQ(fgetxattr(fd.get(), "user.fd", buf, sizeof buf), 1);
  EXPECT_GT(flistxattr(fd.get(), nullptr, 0), 0);
  EXPECT_EQ(fremovexattr(fd.get(), "user.fd"), 0);
  ScopedFd path_fd(open(file_.c_str(), O_PATH));
  EXPECT_ERRNO(fgetxattr(path_fd.get(), "user.fd", buf, sizeof buf), EBADF);
  EXPECT_ERRNO(fgetxattr(-1, "user.fd", buf, sizeof buf), EBADF);

  std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(file_.c_str(), link.c_str()), 0);
  ASSERT_EQ(setxattr(link.c_str(), "user.through", "t", 1, 0), 0);
  EXPECT_EQ(getxattr(file_.c_str(), "user.through", buf, sizeof buf), 1);
  // user.* is not for symlinks themselves.
  EXPECT_ERRNO(lsetxattr(link.c_str(), "user.l", "v", 1, 0), EPERM);
  EXPECT_ERRNO(lgetxattr(link.c_str(), "user.through", buf, sizeof buf),
               ENODATA);
}

TEST_F(XattrTest, UserNamespaceOnlyOnFilesAndDirectories) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_ERRNO(setxattr(fifo.c_str(), "user.a", "v", 1, 0), EPERM);
  char buf[4];
  EXPECT_ERRNO(getxattr(fifo.c_str(), "user.a", buf, sizeof buf), ENODATA);
  EXPECT_EQ(setxattr(dir_.c_str(), "user.d", "v", 1, 0), 0);
  EXPECT_EQ(removexattr(dir_.c_str(), "user.d"), 0);
}

TEST_F(XattrTest, NameAndSizeLimits) {
  const char* f = file_.c_str();
  std::string long_name = "user." + std::string(251, 'n');  // 256 bytes
  EXPECT_ERRNO(setxattr(f, long_name.c_str(), "v", 1, 0), ERANGE);
  EXPECT_ERRNO(getxattr(f, long_name.c_str(), nullptr, 0), ERANGE);
  EXPECT_ERRNO(setxattr(f, "", "v", 1, 0), ERANGE);
  std::string max_name = "user." + std::string(250, 'n');  // 255 bytes
  EXPECT_EQ(setxattr(f, max_name.c_str(), "v", 1, 0), 0);
  EXPECT_EQ(removexattr(f, max_name.c_str()), 0);
  std::string big(65537, 'v');
  EXPECT_ERRNO(setxattr(f, "user.big", big.data(), big.size(), 0), E2BIG);
  EXPECT_ERRNO(syscall(SYS_setxattr, f, "user.a", kBadPtr, 4, 0), EFAULT);
  EXPECT_ERRNO(setxattr(f, static_cast<const char*>(kBadPtr), "v", 1, 0),
               EFAULT);
}

TEST_F(XattrTest, UnknownNamespaceIsNotSupported) {
  const char* f = file_.c_str();
  EXPECT_ERRNO(setxattr(f, "bogus.a", "v", 1, 0), EOPNOTSUPP);
  char buf[4];
  EXPECT_ERRNO(getxattr(f, "bogus.a", buf, sizeof buf), EOPNOTSUPP);
  EXPECT_ERRNO(getxattr(f, "noprefix", buf, sizeof buf), EOPNOTSUPP);
}

TEST_F(XattrTest, MissingFiles) {
  char buf[4];
  std::string missing = dir_ + "/missing";
  EXPECT_ERRNO(getxattr(missing.c_str(), "user.a", buf, sizeof buf), ENOENT);
  EXPECT_ERRNO(listxattr(missing.c_str(), buf, sizeof buf), ENOENT);
}

TEST_F(XattrTest, UnprivilegedRules) {
  ASSERT_EQ(setxattr(file_.c_str(), "user.a", "v", 1, 0), 0);
  ASSERT_EQ(chmod(file_.c_str(), 0600), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0) {
      _exit(90);
    }
    char buf[4];
    // No read permission.
    if (getxattr(file_.c_str(), "user.a", buf, sizeof buf) != -1 ||
        errno != EACCES) {
      _exit(1);
    }
    // No write permission.
    if (setxattr(file_.c_str(), "user.b", "v", 1, 0) != -1 || errno != EACCES) {
      _exit(2);
    }
    // trusted.* is for CAP_SYS_ADMIN: reads find nothing, writes EPERM.
    if (setxattr(file_.c_str(), "trusted.t", "v", 1, 0) != -1 ||
        errno != EPERM) {
      _exit(3);
    }
    if (getxattr(file_.c_str(), "trusted.t", buf, sizeof buf) != -1 ||
        errno != ENODATA) {
      _exit(4);
    }
    _exit(0);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace cvisor::syscall_test
