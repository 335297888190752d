// /dev, /proc and /sys as programs read them: device semantics, the
// per-process files' formats and the system files tools parse. Natively
// these are Linux's own; in the sandbox, the sentry's devfs, procfs and
// sysfs. Only what both must agree on is asserted.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "syscall_test_util.h"

namespace {

using cvisor::syscall_test::ErrnoName;
using cvisor::syscall_test::ScopedFd;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Readlink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, n);
}

// The value after "Key:" in a /proc "Key:\tvalue" file, or "".
std::string Field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      size_t v = line.find_first_not_of(" \t", key.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return "";
}

TEST(Dev, NullZeroFull) {
  struct {
    const char* path;
    unsigned major, minor;
  } devices[] = {{"/dev/null", 1, 3},
                 {"/dev/zero", 1, 5},
                 {"/dev/full", 1, 7},
                 {"/dev/random", 1, 8},
                 {"/dev/urandom", 1, 9}};
  for (const auto& d : devices) {
    struct stat st;
    ASSERT_EQ(stat(d.path, &st), 0) << d.path << ": " << ErrnoName(errno);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << d.path;
    EXPECT_EQ(major(st.st_rdev), d.major) << d.path;
    EXPECT_EQ(minor(st.st_rdev), d.minor) << d.path;
    EXPECT_EQ(st.st_mode & 0777, 0666u) << d.path;
  }
  char buf[64];
  ScopedFd null(open("/dev/null", O_RDWR));
  ASSERT_GE(null.get(), 0);
  EXPECT_EQ(write(null.get(), "abc", 3), 3);
  EXPECT_EQ(read(null.get(), buf, sizeof buf), 0);

  ScopedFd zero(open("/dev/zero", O_RDWR));
  ASSERT_GE(zero.get(), 0);
  memset(buf, 'x', sizeof buf);
  ASSERT_EQ(read(zero.get(), buf, sizeof buf), 64);
  for (char c : buf) EXPECT_EQ(c, 0);
  EXPECT_EQ(write(zero.get(), "abc", 3), 3);

  ScopedFd full(open("/dev/full", O_RDWR));
  ASSERT_GE(full.get(), 0);
  EXPECT_ERRNO(write(full.get(), "abc", 3), ENOSPC);
  EXPECT_EQ(read(full.get(), buf, 8), 8);

  ScopedFd urandom(open("/dev/urandom", O_RDONLY));
  ASSERT_GE(urandom.get(), 0);
  char a[32] = {}, b[32] = {};
  ASSERT_EQ(read(urandom.get(), a, sizeof a), 32);
  ASSERT_EQ(read(urandom.get(), b, sizeof b), 32);
  EXPECT_NE(memcmp(a, b, sizeof a), 0);
}

TEST(Dev, StdioLinks) {
  EXPECT_EQ(Readlink("/dev/fd"), "/proc/self/fd");
  EXPECT_EQ(Readlink("/dev/stdin"), "/proc/self/fd/0");
  EXPECT_EQ(Readlink("/dev/stdout"), "/proc/self/fd/1");
  EXPECT_EQ(Readlink("/dev/stderr"), "/proc/self/fd/2");
}

TEST(Dev, ShmIsStickyAndWorldWritable) {
  struct stat st;
  ASSERT_EQ(stat("/dev/shm", &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 01777u);
}

TEST(Proc, SelfStat) {
  std::string stat = ReadFile("/proc/self/stat");
  int pid = 0;
  char comm[64] = {};
  char state = 0;
  int ppid = 0;
  ASSERT_EQ(
      sscanf(stat.c_str(), "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid), 4)
      << stat;
  EXPECT_EQ(pid, getpid());
  EXPECT_STREQ(comm, "procdev_test");
  EXPECT_EQ(state, 'R');
  EXPECT_EQ(ppid, getppid());
  // 52 fields since Linux 5.x (the last is exit_code).
  size_t close_paren = stat.rfind(')');
  std::istringstream rest(stat.substr(close_paren + 2));
  int fields = 2;
  std::string f;
  while (rest >> f) fields++;
  EXPECT_EQ(fields, 52) << stat;
}

TEST(Proc, SelfStatus) {
  std::string status = ReadFile("/proc/self/status");
  EXPECT_EQ(Field(status, "Name"), "procdev_test");
  EXPECT_EQ(Field(status, "Pid"), std::to_string(getpid()));
  EXPECT_EQ(Field(status, "PPid"), std::to_string(getppid()));
  EXPECT_EQ(Field(status, "Tgid"), std::to_string(getpid()));
  char uids[64];
  snprintf(uids, sizeof uids, "%d\t%d\t%d\t%d", getuid(), geteuid(), geteuid(),
           geteuid());
  EXPECT_EQ(Field(status, "Uid"), uids);
  EXPECT_EQ(Field(status, "Threads"), "1");
  EXPECT_NE(Field(status, "VmRSS"), "");
}

TEST(Proc, SelfExeCmdlineAndFd) {
  std::string exe = Readlink("/proc/self/exe");
  ASSERT_FALSE(exe.empty());
  EXPECT_EQ(exe[0], '/');
  EXPECT_EQ(exe.substr(exe.rfind('/') + 1), "procdev_test");
  std::string cmdline = ReadFile("/proc/self/cmdline");
  ASSERT_FALSE(cmdline.empty());
  EXPECT_EQ(cmdline.back(), '\0');

  std::string path = cvisor::syscall_test::Testdata("small.txt");
  ScopedFd fd(open(path.c_str(), O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_EQ(Readlink("/proc/self/fd/" + std::to_string(fd.get())), path);
  std::string fdinfo =
      ReadFile("/proc/self/fdinfo/" + std::to_string(fd.get()));
  EXPECT_EQ(Field(fdinfo, "pos"), "0");
  EXPECT_EQ(Field(fdinfo, "flags").substr(0, 2), "01");  // octal, O_LARGEFILE

  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(Readlink("/proc/self/cwd"), cwd);
  EXPECT_EQ(Readlink("/proc/self/root"), "/");
  EXPECT_EQ(Readlink("/proc/self"), std::to_string(getpid()));
}

TEST(Proc, SelfMaps) {
  std::string maps = ReadFile("/proc/self/maps");
  EXPECT_NE(maps.find("[stack]"), std::string::npos);
  EXPECT_NE(maps.find("[vdso]"), std::string::npos);
  std::string exe = Readlink("/proc/self/exe");
  EXPECT_NE(maps.find(exe), std::string::npos) << maps;
  // Every line: start-end perms offset dev inode [path].
  std::istringstream in(maps);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long start, end, off, ino;
    char perms[5];
    unsigned dmaj, dmin;
    ASSERT_EQ(sscanf(line.c_str(), "%lx-%lx %4s %lx %x:%x %lu", &start, &end,
                     perms, &off, &dmaj, &dmin, &ino),
              7)
        << line;
    EXPECT_LT(start, end) << line;
    EXPECT_TRUE(perms[3] == 'p' || perms[3] == 's') << line;
  }
}

TEST(Proc, SmapsHasAnEntryPerMapping) {
  std::string maps = ReadFile("/proc/self/maps");
  std::string smaps = ReadFile("/proc/self/smaps");
  size_t mappings = std::count(maps.begin(), maps.end(), '\n');
  size_t sizes = 0, vmflags = 0;
  for (size_t p = 0; (p = smaps.find("\nSize:", p)) != std::string::npos; ++p) {
    sizes++;
  }
  for (size_t p = 0; (p = smaps.find("\nVmFlags:", p)) != std::string::npos;
       ++p) {
    vmflags++;
  }
  EXPECT_EQ(sizes, mappings) << smaps;
  EXPECT_EQ(vmflags, mappings);
  EXPECT_NE(smaps.find("\nRss:"), std::string::npos);
  EXPECT_NE(smaps.find("[stack]"), std::string::npos);
}

TEST(Proc, SystemFiles) {
  std::string meminfo = ReadFile("/proc/meminfo");
  for (const char* key : {"MemTotal", "MemFree", "MemAvailable", "Buffers",
                          "Cached", "SwapTotal"}) {
    EXPECT_NE(Field(meminfo, key), "") << key;
  }
  EXPECT_NE(ReadFile("/proc/cpuinfo").find("processor"), std::string::npos);
  double up = -1, idle = -1;
  EXPECT_EQ(sscanf(ReadFile("/proc/uptime").c_str(), "%lf %lf", &up, &idle), 2);
  EXPECT_GT(up, 0);
  double l1, l5, l15;
  int running, total, last;
  EXPECT_EQ(sscanf(ReadFile("/proc/loadavg").c_str(), "%lf %lf %lf %d/%d %d",
                   &l1, &l5, &l15, &running, &total, &last),
            6);
  EXPECT_GT(atoi(ReadFile("/proc/sys/kernel/pid_max").c_str()), 0);
  EXPECT_EQ(ReadFile("/proc/sys/kernel/cap_last_cap"), "40\n");
  std::string fs = ReadFile("/proc/filesystems");
  EXPECT_NE(fs.find("\tproc\n"), std::string::npos);
  EXPECT_NE(fs.find("\ttmpfs\n"), std::string::npos);
  std::string stat = ReadFile("/proc/stat");
  EXPECT_EQ(stat.rfind("cpu ", 0), 0u);
  EXPECT_NE(stat.find("\nbtime "), std::string::npos);
  std::string uuid = ReadFile("/proc/sys/kernel/random/uuid");
  EXPECT_EQ(uuid.size(), 37u);
  EXPECT_NE(uuid, ReadFile("/proc/sys/kernel/random/uuid"));
}

TEST(Proc, MountsListsTheRoot) {
  std::string mounts = ReadFile("/proc/self/mounts");
  std::istringstream in(mounts);
  std::string line;
  bool root = false, proc = false;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string dev, dir, type;
    f >> dev >> dir >> type;
    root |= dir == "/";
    proc |= dir == "/proc" && type == "proc";
  }
  EXPECT_TRUE(root) << mounts;
  EXPECT_TRUE(proc) << mounts;
}

TEST(Sys, CpuRanges) {
  int n = get_nprocs();
  std::string want = n == 1 ? "0\n" : "0-" + std::to_string(n - 1) + "\n";
  EXPECT_EQ(ReadFile("/sys/devices/system/cpu/online"), want);
  EXPECT_EQ(get_nprocs_conf() >= n, true);
  struct stat st;
  EXPECT_EQ(stat("/sys/fs/cgroup", &st), 0);
}

}  // namespace
