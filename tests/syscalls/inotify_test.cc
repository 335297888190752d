// Conformance: inotify(7) — inotify_init/init1, add_watch/rm_watch, the
// records read returns, the events the file operations generate, readiness
// and FIONREAD — inside a fresh directory under /dev/shm (a tmpfs natively
// and in the sandbox).
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>  // RENAME_EXCHANGE
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

struct Ev {
  int wd;
  uint32_t mask;
  uint32_t cookie;
  std::string name;
  bool operator==(const Ev& o) const {
    return wd == o.wd && mask == o.mask && cookie == o.cookie && name == o.name;
  }
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{wd=" << e.wd << " mask=0x" << std::hex << e.mask << std::dec
            << " cookie=" << e.cookie << " name=\"" << e.name << "\"}";
}

// Decodes the records in buf[0, n).
std::vector<Ev> Parse(const char* buf, ssize_t n) {
  std::vector<Ev> out;
  ssize_t at = 0;
  while (at < n) {
    struct inotify_event hdr;
    memcpy(&hdr, buf + at, sizeof hdr);
    Ev e{hdr.wd, hdr.mask, hdr.cookie, {}};
    if (hdr.len > 0) e.name = std::string(buf + at + sizeof hdr);
    out.push_back(e);
    at += sizeof hdr + hdr.len;
  }
  return out;
}

// Everything queued on a nonblocking instance.
std::vector<Ev> Drain(int fd) {
  std::vector<Ev> all;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      EXPECT_EQ(n, -1);
      EXPECT_EQ(errno, EAGAIN) << ErrnoName(errno);
      return all;
    }
    std::vector<Ev> evs = Parse(buf, n);
    all.insert(all.end(), evs.begin(), evs.end());
  }
}

class InotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cvisor-inotify-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << "mkdtemp: " << ErrnoName(errno);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    for (int fd : fds_) close(fd);
    if (!dir_.empty()) {
      nftw(
          dir_.c_str(),
          [](const char* path, const struct stat*, int, struct FTW*) {
            return remove(path);
          },
          16, FTW_DEPTH | FTW_PHYS);
    }
  }

  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }

  void MakeFile(const std::string& rel, const std::string& data = "") {
    int fd = open(P(rel).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << ErrnoName(errno);
    if (!data.empty()) {
      ASSERT_EQ(write(fd, data.data(), data.size()),
                static_cast<ssize_t>(data.size()));
    }
    ASSERT_EQ(close(fd), 0);
  }

  // A nonblocking instance, closed at the end of the test.
  int NewInstance() {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    EXPECT_GE(fd, 0) << ErrnoName(errno);
    fds_.push_back(fd);
    return fd;
  }

  int Watch(int in, const std::string& path, uint32_t mask) {
    int wd = inotify_add_watch(in, path.c_str(), mask);
    EXPECT_GE(wd, 1) << path << ": " << ErrnoName(errno);
    return wd;
  }

  std::string dir_;
  std::vector<int> fds_;
};

TEST_F(InotifyTest, InitFlags) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(fd, 0);
  ScopedFd a(fd);
  EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);

  fd = inotify_init();
  ASSERT_GE(fd, 0);
  ScopedFd b(fd);
  EXPECT_FALSE(fcntl(fd, F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(fcntl(fd, F_GETFD), 0);

  EXPECT_ERRNO(inotify_init1(O_RDWR), EINVAL);
  EXPECT_ERRNO(inotify_init1(0x1), EINVAL);
}

TEST_F(InotifyTest, NonblockingReadIsEagainAndWriteIsEbadf) {
  int in = NewInstance();
  char buf[256];
  EXPECT_ERRNO(read(in, buf, sizeof buf), EAGAIN);
  EXPECT_ERRNO(write(in, buf, 1), EBADF);
}

TEST_F(InotifyTest, AddWatchErrors) {
  int in = NewInstance();
  MakeFile("f");
  EXPECT_ERRNO(inotify_add_watch(-1, dir_.c_str(), IN_ALL_EVENTS), EBADF);
  EXPECT_ERRNO(inotify_add_watch(12345, dir_.c_str(), IN_ALL_EVENTS), EBADF);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  ScopedFd r(pipefd[0]), w(pipefd[1]);
  EXPECT_ERRNO(inotify_add_watch(pipefd[0], dir_.c_str(), IN_ALL_EVENTS),
               EINVAL);
  EXPECT_ERRNO(inotify_add_watch(in, dir_.c_str(), 0), EINVAL);
  // The mask is checked before the fd.
  EXPECT_ERRNO(inotify_add_watch(-1, dir_.c_str(), 0), EINVAL);
  EXPECT_ERRNO(inotify_add_watch(in, dir_.c_str(),
                                 IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE),
               EINVAL);
  EXPECT_ERRNO(inotify_add_watch(in, P("missing").c_str(), IN_ALL_EVENTS),
               ENOENT);
  EXPECT_ERRNO(
      inotify_add_watch(in, P("f").c_str(), IN_ALL_EVENTS | IN_ONLYDIR),
      ENOTDIR);
  EXPECT_GE(inotify_add_watch(in, dir_.c_str(), IN_ALL_EVENTS | IN_ONLYDIR), 1);
  int wd = Watch(in, P("f"), IN_MODIFY);
  EXPECT_ERRNO(
      inotify_add_watch(in, P("f").c_str(), IN_MODIFY | IN_MASK_CREATE),
      EEXIST);

  EXPECT_ERRNO(inotify_rm_watch(in, wd + 100), EINVAL);
  EXPECT_ERRNO(inotify_rm_watch(in, -1), EINVAL);
  EXPECT_ERRNO(inotify_rm_watch(pipefd[0], wd), EINVAL);
  EXPECT_ERRNO(inotify_rm_watch(-1, wd), EBADF);
}

TEST_F(InotifyTest, AddWatchNeedsReadPermission) {
  MakeFile("secret");
  ASSERT_EQ(chmod(P("secret").c_str(), 0200), 0);
  MakeFile("open");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    int in = inotify_init1(0);
    if (in < 0) _exit(11);
    if (inotify_add_watch(in, P("secret").c_str(), IN_ALL_EVENTS) != -1) {
      _exit(12);
    }
    if (errno != EACCES) _exit(13);
    if (inotify_add_watch(in, P("open").c_str(), IN_ALL_EVENTS) < 1) _exit(14);
    _exit(0);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(InotifyTest, SameFileSameWdAndMaskUpdates) {
  int in = NewInstance();
  MakeFile("f");
  int wd = Watch(in, P("f"), IN_MODIFY);
  // Replaced: only IN_ATTRIB now.
  EXPECT_EQ(Watch(in, P("f"), IN_ATTRIB), wd);
  ASSERT_EQ(truncate(P("f").c_str(), 1), 0);
  ASSERT_EQ(chmod(P("f").c_str(), 0600), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""}}));
  // IN_MASK_ADD: both.
  EXPECT_EQ(Watch(in, P("f"), IN_MODIFY | IN_MASK_ADD), wd);
  ASSERT_EQ(truncate(P("f").c_str(), 2), 0);
  ASSERT_EQ(chmod(P("f").c_str(), 0644), 0);
  EXPECT_EQ(Drain(in),
            (std::vector<Ev>{{wd, IN_MODIFY, 0, ""}, {wd, IN_ATTRIB, 0, ""}}));
  // Another file gets another wd; wds are not reused.
  MakeFile("g");
  int wd2 = Watch(in, P("g"), IN_MODIFY);
  EXPECT_GT(wd2, wd);
  ASSERT_EQ(inotify_rm_watch(in, wd2), 0);
  EXPECT_GT(Watch(in, P("g"), IN_MODIFY), wd2);
}

TEST_F(InotifyTest, CreateAndDeleteInDirectory) {
  int in = NewInstance();
  int wd = Watch(in, dir_, IN_CREATE | IN_DELETE);
  MakeFile("f");
  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(symlink("f", P("l").c_str()), 0);
  ASSERT_EQ(mknod(P("fifo").c_str(), S_IFIFO | 0644, 0), 0);
  ASSERT_EQ(unlink(P("f").c_str()), 0);
  ASSERT_EQ(rmdir(P("d").c_str()), 0);
  ASSERT_EQ(unlink(P("l").c_str()), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{
                           {wd, IN_CREATE, 0, "f"},
                           {wd, IN_CREATE | IN_ISDIR, 0, "d"},
                           {wd, IN_CREATE, 0, "l"},
                           {wd, IN_CREATE, 0, "fifo"},
                           {wd, IN_DELETE, 0, "f"},
                           {wd, IN_DELETE | IN_ISDIR, 0, "d"},
                           {wd, IN_DELETE, 0, "l"},
                       }));
}

TEST_F(InotifyTest, FileOperationsOnFileWatch) {
  MakeFile("f", "0123456789");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_ALL_EVENTS);
  int fd = open(P("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "ab", 2), 2);
  char buf[4];
  ASSERT_EQ(pread(fd, buf, 4, 0), 4);
  ASSERT_EQ(close(fd), 0);
  fd = open(P("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // A read at EOF moves nothing: no IN_ACCESS.
  ASSERT_EQ(pread(fd, buf, 4, 100), 0);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{
                           {wd, IN_OPEN, 0, ""},
                           {wd, IN_MODIFY, 0, ""},
                           {wd, IN_ACCESS, 0, ""},
                           {wd, IN_CLOSE_WRITE, 0, ""},
                           {wd, IN_OPEN, 0, ""},
                           {wd, IN_CLOSE_NOWRITE, 0, ""},
                       }));
}

TEST_F(InotifyTest, FileOperationsOnDirectoryWatchCarryTheName) {
  MakeFile("f", "0123456789");
  int in = NewInstance();
  int wd = Watch(in, dir_, IN_ALL_EVENTS);
  int fd = open(P("f").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  struct iovec iov = {const_cast<char*>("xy"), 2};
  ASSERT_EQ(writev(fd, &iov, 1), 2);
  ASSERT_EQ(close(fd), 0);
  // Truncating at open is a modification reported after the open.
  fd = open(P("f").c_str(), O_RDWR | O_TRUNC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{
                           {wd, IN_OPEN, 0, "f"},
                           {wd, IN_MODIFY, 0, "f"},
                           {wd, IN_CLOSE_WRITE, 0, "f"},
                           {wd, IN_OPEN, 0, "f"},
                           {wd, IN_MODIFY, 0, "f"},
                           {wd, IN_CLOSE_WRITE, 0, "f"},
                       }));
}

TEST_F(InotifyTest, DirectoryEventsHaveIsdir) {
  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  int in = NewInstance();
  int wd = Watch(in, P("d"), IN_OPEN | IN_CLOSE | IN_ATTRIB);
  int parent = Watch(in, dir_, IN_ATTRIB);
  int fd = open(P("d").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{
                           {wd, IN_OPEN | IN_ISDIR, 0, ""},
                           {wd, IN_CLOSE_NOWRITE | IN_ISDIR, 0, ""},
                       }));
  ASSERT_EQ(chmod(P("d").c_str(), 0700), 0);
  std::vector<Ev> evs = Drain(in);
  ASSERT_EQ(evs.size(), 2u);
  // Linux reports to the parent's watch first, then the file's own.
  EXPECT_EQ(evs[0], (Ev{parent, IN_ATTRIB | IN_ISDIR, 0, "d"}));
  EXPECT_EQ(evs[1], (Ev{wd, IN_ATTRIB | IN_ISDIR, 0, ""}));
}

TEST_F(InotifyTest, IdenticalConsecutiveEventsCoalesce) {
  MakeFile("f");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_MODIFY | IN_ATTRIB);
  int fd = open(P("f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ScopedFd f(fd);
  ASSERT_EQ(write(fd, "a", 1), 1);
  ASSERT_EQ(write(fd, "b", 1), 1);
  ASSERT_EQ(write(fd, "c", 1), 1);
  ASSERT_EQ(fchmod(fd, 0600), 0);
  ASSERT_EQ(write(fd, "d", 1), 1);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_MODIFY, 0, ""},
                                        {wd, IN_ATTRIB, 0, ""},
                                        {wd, IN_MODIFY, 0, ""}}));
  // Once read, the same event queues again.
  ASSERT_EQ(write(fd, "e", 1), 1);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_MODIFY, 0, ""}}));
}

TEST_F(InotifyTest, AttributeChanges) {
  MakeFile("f", "data");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_ATTRIB | IN_MODIFY | IN_ACCESS);
  ASSERT_EQ(chmod(P("f").c_str(), 0600), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""}}));
  ASSERT_EQ(chown(P("f").c_str(), getuid(), getgid()), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""}}));
  ASSERT_EQ(utimes(P("f").c_str(), nullptr), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""}}));
  // One time alone reads as an access or a modification.
  struct timespec only_atime[2] = {{1, 0}, {0, UTIME_OMIT}};
  ASSERT_EQ(utimensat(AT_FDCWD, P("f").c_str(), only_atime, 0), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ACCESS, 0, ""}}));
  struct timespec only_mtime[2] = {{0, UTIME_OMIT}, {1, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, P("f").c_str(), only_mtime, 0), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_MODIFY, 0, ""}}));
  ASSERT_EQ(truncate(P("f").c_str(), 1), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_MODIFY, 0, ""}}));
  ASSERT_EQ(link(P("f").c_str(), P("g").c_str()), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""}}));
  // Unlinking one of two names changes the link count only.
  ASSERT_EQ(unlink(P("g").c_str()), 0);
  ASSERT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""}}));
}

TEST_F(InotifyTest, LinkCreatesInDirectory) {
  MakeFile("f");
  int in = NewInstance();
  int wd = Watch(in, dir_, IN_CREATE | IN_ATTRIB);
  ASSERT_EQ(link(P("f").c_str(), P("g").c_str()), 0);
  // The link count change goes to the file's own watches only.
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_CREATE, 0, "g"}}));
}

TEST_F(InotifyTest, RenameSharesCookie) {
  ASSERT_EQ(mkdir(P("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(P("b").c_str(), 0755), 0);
  MakeFile("a/x");
  ASSERT_EQ(mkdir(P("a/sub").c_str(), 0755), 0);
  int in = NewInstance();
  int wa = Watch(in, P("a"), IN_MOVE);
  int wb = Watch(in, P("b"), IN_MOVE);
  int wx = Watch(in, P("a/x"), IN_MOVE_SELF);
  ASSERT_EQ(rename(P("a/x").c_str(), P("b/y").c_str()), 0);
  std::vector<Ev> evs = Drain(in);
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].wd, wa);
  EXPECT_EQ(evs[0].mask, static_cast<uint32_t>(IN_MOVED_FROM));
  EXPECT_EQ(evs[0].name, "x");
  EXPECT_NE(evs[0].cookie, 0u);
  EXPECT_EQ(evs[1], (Ev{wb, IN_MOVED_TO, evs[0].cookie, "y"}));
  EXPECT_EQ(evs[2], (Ev{wx, IN_MOVE_SELF, 0, ""}));

  // A directory within one watched directory: both halves on one watch, a
  // new cookie.
  ASSERT_EQ(rename(P("a/sub").c_str(), P("a/sub2").c_str()), 0);
  evs = Drain(in);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].mask, static_cast<uint32_t>(IN_MOVED_FROM | IN_ISDIR));
  EXPECT_EQ(evs[1], (Ev{wa, IN_MOVED_TO | IN_ISDIR, evs[0].cookie, "sub2"}));
  EXPECT_NE(evs[0].cookie, 0u);
}

TEST_F(InotifyTest, RenameExchangeMovesBothWays) {
  MakeFile("a");
  ASSERT_EQ(mkdir(P("b").c_str(), 0755), 0);
  int in = NewInstance();
  int wd = Watch(in, dir_, IN_MOVE | IN_MOVE_SELF);
  int wa = Watch(in, P("a"), IN_MOVE_SELF);
  int wb = Watch(in, P("b"), IN_MOVE_SELF);
  ASSERT_EQ(syscall(SYS_renameat2, AT_FDCWD, P("a").c_str(), AT_FDCWD,
                    P("b").c_str(), RENAME_EXCHANGE),
            0);
  std::vector<Ev> evs = Drain(in);
  ASSERT_EQ(evs.size(), 6u);
  EXPECT_EQ(evs[0].wd, wd);
  EXPECT_EQ(evs[0].mask, static_cast<uint32_t>(IN_MOVED_FROM));
  EXPECT_EQ(evs[0].name, "a");
  EXPECT_EQ(evs[1], (Ev{wd, IN_MOVED_TO, evs[0].cookie, "b"}));
  EXPECT_EQ(evs[2], (Ev{wa, IN_MOVE_SELF, 0, ""}));
  EXPECT_EQ(evs[3].mask, static_cast<uint32_t>(IN_MOVED_FROM | IN_ISDIR));
  EXPECT_EQ(evs[3].name, "b");
  EXPECT_NE(evs[3].cookie, evs[0].cookie);
  EXPECT_EQ(evs[4], (Ev{wd, IN_MOVED_TO | IN_ISDIR, evs[3].cookie, "a"}));
  EXPECT_EQ(evs[5], (Ev{wb, IN_MOVE_SELF, 0, ""}));
}

TEST_F(InotifyTest, RenameOverWatchedFile) {
  MakeFile("src");
  MakeFile("dst");
  int in = NewInstance();
  int wd = Watch(in, P("dst"), IN_ALL_EVENTS);
  ASSERT_EQ(rename(P("src").c_str(), P("dst").c_str()), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""},
                                        {wd, IN_DELETE_SELF, 0, ""},
                                        {wd, IN_IGNORED, 0, ""}}));
}

TEST_F(InotifyTest, DeletingWatchedFileEndsWatch) {
  MakeFile("f");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_ALL_EVENTS);
  ASSERT_EQ(unlink(P("f").c_str()), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, 0, ""},
                                        {wd, IN_DELETE_SELF, 0, ""},
                                        {wd, IN_IGNORED, 0, ""}}));
  EXPECT_ERRNO(inotify_rm_watch(in, wd), EINVAL);
}

TEST_F(InotifyTest, IgnoredComesEvenWhenNotAskedFor) {
  MakeFile("f");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_MODIFY);
  ASSERT_EQ(unlink(P("f").c_str()), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_IGNORED, 0, ""}}));
}

TEST_F(InotifyTest, RemovingWatchedDirectory) {
  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  int in = NewInstance();
  int wd = Watch(in, P("d"), IN_ALL_EVENTS);
  ASSERT_EQ(rmdir(P("d").c_str()), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_DELETE_SELF, 0, ""},
                                        {wd, IN_IGNORED, 0, ""}}));
}

TEST_F(InotifyTest, RmWatchQueuesIgnored) {
  MakeFile("f");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_ALL_EVENTS);
  ASSERT_EQ(inotify_rm_watch(in, wd), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_IGNORED, 0, ""}}));
  EXPECT_ERRNO(inotify_rm_watch(in, wd), EINVAL);
  ASSERT_EQ(truncate(P("f").c_str(), 0), 0);
  EXPECT_EQ(Drain(in), std::vector<Ev>{});
}

TEST_F(InotifyTest, Oneshot) {
  MakeFile("f");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_MODIFY | IN_ONESHOT);
  ASSERT_EQ(truncate(P("f").c_str(), 1), 0);
  ASSERT_EQ(truncate(P("f").c_str(), 2), 0);
  EXPECT_EQ(Drain(in),
            (std::vector<Ev>{{wd, IN_MODIFY, 0, ""}, {wd, IN_IGNORED, 0, ""}}));
  EXPECT_ERRNO(inotify_rm_watch(in, wd), EINVAL);
}

TEST_F(InotifyTest, DontFollowWatchesTheLink) {
  MakeFile("f");
  ASSERT_EQ(symlink("f", P("l").c_str()), 0);
  int in = NewInstance();
  int wf = Watch(in, P("f"), IN_ATTRIB);
  EXPECT_EQ(Watch(in, P("l"), IN_ATTRIB), wf);
  int wl = Watch(in, P("l"), IN_ATTRIB | IN_DONT_FOLLOW);
  EXPECT_NE(wl, wf);
  ASSERT_EQ(chmod(P("f").c_str(), 0600), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wf, IN_ATTRIB, 0, ""}}));
}

TEST_F(InotifyTest, ExclUnlinkDropsEventsOfUnlinkedChildren) {
  MakeFile("f");
  MakeFile("g");
  int in = NewInstance();
  int plain = NewInstance();
  int wd = Watch(in, dir_, IN_MODIFY | IN_EXCL_UNLINK);
  int wp = Watch(plain, dir_, IN_MODIFY);
  int fd = open(P("f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ScopedFd f(fd);
  ASSERT_EQ(unlink(P("f").c_str()), 0);
  ASSERT_EQ(write(fd, "x", 1), 1);
  EXPECT_EQ(Drain(in), std::vector<Ev>{});
  EXPECT_EQ(Drain(plain), (std::vector<Ev>{{wp, IN_MODIFY, 0, "f"}}));
  // A child still linked is reported.
  ASSERT_EQ(truncate(P("g").c_str(), 1), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_MODIFY, 0, "g"}}));
}

TEST_F(InotifyTest, ShortBufferIsEinval) {
  int in = NewInstance();
  int wd = Watch(in, dir_, IN_CREATE);
  MakeFile("abc");
  // The record: a 16-byte header and the name padded to 16 bytes.
  const size_t rec = sizeof(struct inotify_event) + 16;
  char buf[64];
  EXPECT_ERRNO(read(in, buf, 0), EINVAL);
  EXPECT_ERRNO(read(in, buf, sizeof(struct inotify_event)), EINVAL);
  EXPECT_ERRNO(read(in, buf, rec - 1), EINVAL);
  MakeFile("def");
  // Only whole records: one fits in rec + 10 bytes.
  ASSERT_EQ(read(in, buf, rec + 10), static_cast<ssize_t>(rec));
  struct inotify_event hdr;
  memcpy(&hdr, buf, sizeof hdr);
  EXPECT_EQ(hdr.wd, wd);
  EXPECT_EQ(hdr.mask, static_cast<uint32_t>(IN_CREATE));
  EXPECT_EQ(hdr.len, 16u);
  EXPECT_STREQ(buf + sizeof hdr, "abc");
  for (size_t i = sizeof hdr + 3; i < rec; i++) EXPECT_EQ(buf[i], 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_CREATE, 0, "def"}}));
}

TEST_F(InotifyTest, Fionread) {
  int in = NewInstance();
  Watch(in, dir_, IN_CREATE | IN_DELETE);
  int n = -1;
  ASSERT_EQ(ioctl(in, FIONREAD, &n), 0);
  EXPECT_EQ(n, 0);
  MakeFile("abc");
  ASSERT_EQ(ioctl(in, FIONREAD, &n), 0);
  EXPECT_EQ(n, 32);
  // A name of exactly 16 bytes needs 32 with its NUL.
  MakeFile("0123456789abcdef");
  ASSERT_EQ(ioctl(in, FIONREAD, &n), 0);
  EXPECT_EQ(n, 32 + 48);
  Drain(in);
  ASSERT_EQ(ioctl(in, FIONREAD, &n), 0);
  EXPECT_EQ(n, 0);
}

TEST_F(InotifyTest, PollReadiness) {
  int in = NewInstance();
  int wd = Watch(in, dir_, IN_CREATE);
  struct pollfd p = {in, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 0), 0);
  MakeFile("f");
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN);
  Drain(in);
  ASSERT_EQ(poll(&p, 1, 0), 0);

  // A sleeping poll wakes when an event arrives.
  std::thread maker([&] {
    usleep(50 * 1000);
    MakeFile("g");
  });
  p.revents = 0;
  int rc = poll(&p, 1, 10000);
  maker.join();
  ASSERT_EQ(rc, 1);
  EXPECT_EQ(p.revents, POLLIN);

  fd_set rfds;
  FD_ZERO(&rfds);
  FD_SET(in, &rfds);
  struct timeval tv = {0, 0};
  ASSERT_EQ(select(in + 1, &rfds, nullptr, nullptr, &tv), 1);
  EXPECT_TRUE(FD_ISSET(in, &rfds));
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_CREATE, 0, "g"}}));
}

TEST_F(InotifyTest, BlockingReadWakes) {
  int in = inotify_init();
  ASSERT_GE(in, 0);
  ScopedFd f(in);
  int wd = Watch(in, dir_, IN_CREATE);
  std::thread maker([&] {
    usleep(50 * 1000);
    MakeFile("f");
  });
  char buf[256];
  ssize_t n = read(in, buf, sizeof buf);
  maker.join();
  ASSERT_GT(n, 0) << ErrnoName(errno);
  EXPECT_EQ(Parse(buf, n), (std::vector<Ev>{{wd, IN_CREATE, 0, "f"}}));
}

TEST_F(InotifyTest, BlockingReadIsInterruptedBySignal) {
  int in = inotify_init();
  ASSERT_GE(in, 0);
  ScopedFd f(in);
  Watch(in, dir_, IN_CREATE);
  struct sigaction sa = {}, old;
  sa.sa_handler = [](int) {};
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);  // no SA_RESTART
  struct itimerval it = {{0, 0}, {0, 50 * 1000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  char buf[256];
  EXPECT_ERRNO(read(in, buf, sizeof buf), EINTR);
  ASSERT_EQ(sigaction(SIGALRM, &old, nullptr), 0);
}

TEST_F(InotifyTest, QueueOverflow) {
  long max = 16384;
  if (FILE* f = fopen("/proc/sys/fs/inotify/max_queued_events", "r")) {
    ASSERT_EQ(fscanf(f, "%ld", &max), 1);
    fclose(f);
  }
  ASSERT_LE(max, 1 << 20) << "max_queued_events too large to fill";
  MakeFile("f");
  int in = NewInstance();
  int wd = Watch(in, P("f"), IN_OPEN | IN_CLOSE_NOWRITE);
  // Alternating events never coalesce: 2 per open/close.
  for (long i = 0; i < max / 2 + 10; i++) {
    int fd = open(P("f").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(close(fd), 0);
  }
  std::vector<Ev> evs = Drain(in);
  ASSERT_EQ(evs.size(), static_cast<size_t>(max) + 1);
  EXPECT_EQ(evs[0], (Ev{wd, IN_OPEN, 0, ""}));
  EXPECT_EQ(evs[max - 1], (Ev{wd, IN_CLOSE_NOWRITE, 0, ""}));
  EXPECT_EQ(evs[max], (Ev{-1, IN_Q_OVERFLOW, 0, ""}));
  // Room again: events queue normally.
  int fd = open(P("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_OPEN, 0, ""},
                                        {wd, IN_CLOSE_NOWRITE, 0, ""}}));
}

TEST_F(InotifyTest, ClosingInstanceDropsWatches) {
  MakeFile("f");
  int in = inotify_init1(IN_NONBLOCK);
  ASSERT_GE(in, 0);
  Watch(in, P("f"), IN_ALL_EVENTS);
  Watch(in, dir_, IN_ALL_EVENTS);
  ASSERT_EQ(close(in), 0);
  // Operations on the formerly watched files keep working.
  ASSERT_EQ(truncate(P("f").c_str(), 3), 0);
  ASSERT_EQ(unlink(P("f").c_str()), 0);
}

}  // namespace
}  // namespace cvisor::syscall_test
