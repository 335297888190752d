// Credentials, capabilities, prctl, priorities, scheduling policies and
// close_range. Runs as root both natively (every capability) and in the
// sandbox (`runsc do`: Docker's default set), so expectations are relative
// to the capabilities the process starts with, and whatever changes them
// runs in a forked child that reports the first failed check through a
// pipe. No signal handlers and no kill().
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace {

using cvisor::syscall_test::ErrnoName;
using cvisor::syscall_test::kBadPtr;

constexpr int kLastCap = 40;  // CAP_CHECKPOINT_RESTORE
constexpr uint64_t Bit(int cap) { return uint64_t{1} << cap; }
// Follow the filesystem uid (capabilities(7)).
constexpr uint64_t kFsCaps = Bit(CAP_CHOWN) | Bit(CAP_DAC_OVERRIDE) |
                             Bit(CAP_DAC_READ_SEARCH) | Bit(CAP_FOWNER) |
                             Bit(CAP_FSETID) | Bit(CAP_LINUX_IMMUTABLE) |
                             Bit(CAP_MKNOD) | Bit(CAP_MAC_OVERRIDE);
constexpr uint32_t kNoId = static_cast<uint32_t>(-1);

// ---- running checks in a child ----

int g_report_fd = -1;

// In a child made by InChild: on failure, report the line, the condition
// and errno to the parent and exit.
#define CHECK_IN_CHILD(cond)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      const int e_ = errno;                                                    \
      char buf_[512];                                                          \
      int n_ = snprintf(buf_, sizeof buf_, "line %d: %s (errno %s)", __LINE__, \
                        #cond, ErrnoName(e_).c_str());                         \
      (void)!write(g_report_fd, buf_, n_);                                     \
      _exit(1);                                                                \
    }                                                                          \
  } while (0)

// The call fails with `err`.
#define CHECK_ERRNO_IN_CHILD(expr, err)         \
  do {                                          \
    errno = 0;                                  \
    const long r_ = (long)(expr);               \
    CHECK_IN_CHILD(r_ == -1 && errno == (err)); \
  } while (0)

std::string InChild(const std::function<void()>& fn);

// In a child: runs the lambda in a grandchild and reports its failure.
#define CHECK_GRANDCHILD_OK(...)                                           \
  do {                                                                     \
    const std::string m_ = InChild(__VA_ARGS__);                           \
    if (!m_.empty()) {                                                     \
      const std::string r_ =                                               \
          "line " + std::to_string(__LINE__) + ": in a grandchild: " + m_; \
      (void)!write(g_report_fd, r_.data(), r_.size());                     \
      _exit(1);                                                            \
    }                                                                      \
  } while (0)

// Runs `fn` in a forked child. Returns "" if it finished, else what failed.
std::string InChild(const std::function<void()>& fn) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return "pipe2: " + ErrnoName(errno);
  pid_t pid = fork();
  if (pid < 0) return "fork: " + ErrnoName(errno);
  if (pid == 0) {
    close(p[0]);
    g_report_fd = p[1];
    fn();
    _exit(0);
  }
  close(p[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) msg.append(buf, n);
  close(p[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return "waitpid: " + ErrnoName(errno);
  if (!WIFEXITED(status)) {
    return "child died, status " + std::to_string(status) + " " + msg;
  }
  if (WEXITSTATUS(status) != 0 && msg.empty()) {
    return "child exited " + std::to_string(WEXITSTATUS(status));
  }
  return msg;
}

// Runs the lambda in a child; the test fails with the child's report.
#define EXPECT_CHILD_OK(...)                                \
  do {                                                      \
    const std::string child_report_ = InChild(__VA_ARGS__); \
    EXPECT_TRUE(child_report_.empty()) << child_report_;    \
  } while (0)

// Forks a child that waits until Release(); its pid is available meanwhile.
class Sleeper final {
 public:
  Sleeper() {
    if (pipe2(p_, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(p_[1]);
      char c;
      (void)!read(p_[0], &c, 1);
      _exit(0);
    }
    close(p_[0]);
  }
  ~Sleeper() { Release(); }
  pid_t pid() const { return pid_; }
  void Release() {
    if (pid_ <= 0) return;
    close(p_[1]);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  int p_[2] = {-1, -1};
  pid_t pid_ = -1;
};

// ---- capability helpers (raw syscalls: no libcap) ----

struct Caps {
  uint64_t eff = 0, prm = 0, inh = 0;
};

long CapGetRaw(uint32_t version, int pid, __user_cap_data_struct* data) {
  __user_cap_header_struct hdr = {version, pid};
  return syscall(SYS_capget, &hdr, data);
}

Caps GetCaps(int pid = 0) {
  __user_cap_data_struct d[2] = {};
  Caps c;
  if (CapGetRaw(_LINUX_CAPABILITY_VERSION_3, pid, d) != 0) {
    c.eff = c.prm = c.inh = ~uint64_t{0};  // makes comparisons fail
    return c;
  }
  c.eff = d[0].effective | (uint64_t{d[1].effective} << 32);
  c.prm = d[0].permitted | (uint64_t{d[1].permitted} << 32);
  c.inh = d[0].inheritable | (uint64_t{d[1].inheritable} << 32);
  return c;
}

long SetCaps(const Caps& c, int pid = 0,
             uint32_t version = _LINUX_CAPABILITY_VERSION_3) {
  __user_cap_header_struct hdr = {version, pid};
  __user_cap_data_struct d[2];
  for (int i = 0; i < 2; i++) {
    d[i].effective = static_cast<uint32_t>(c.eff >> (32 * i));
    d[i].permitted = static_cast<uint32_t>(c.prm >> (32 * i));
    d[i].inheritable = static_cast<uint32_t>(c.inh >> (32 * i));
  }
  return syscall(SYS_capset, &hdr, d);
}

uint64_t Bounding() {
  uint64_t mask = 0;
  for (int cap = 0; cap <= kLastCap; cap++) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) mask |= Bit(cap);
  }
  return mask;
}

bool AmbientIsSet(int cap) {
  return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1;
}

// Drops `caps` from the effective set only.
bool DropEffective(uint64_t caps) {
  Caps c = GetCaps();
  c.eff &= ~caps;
  return SetCaps(c) == 0;
}

// The capabilities every test below relies on holding at the start, which
// both root natively and Docker's default set include.
constexpr uint64_t kNeeded =
    Bit(CAP_CHOWN) | Bit(CAP_FOWNER) | Bit(CAP_KILL) | Bit(CAP_SETUID) |
    Bit(CAP_SETGID) | Bit(CAP_SETPCAP) | Bit(CAP_MKNOD) | Bit(CAP_DAC_OVERRIDE);

class CredTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(getuid(), 0u) << "these tests run as root";
    start_ = GetCaps();
    ASSERT_EQ(start_.eff & kNeeded, kNeeded);
    ASSERT_EQ(start_.prm, start_.eff);
    ASSERT_EQ(start_.inh, 0u);
    bounding_ = Bounding();
    ASSERT_EQ(bounding_ & start_.prm, start_.prm);
  }
  Caps start_;
  uint64_t bounding_ = 0;
};

// ---- ids ----

TEST_F(CredTest, GettersAgree) {
  uid_t r, e, s;
  ASSERT_EQ(getresuid(&r, &e, &s), 0);
  EXPECT_EQ(r, getuid());
  EXPECT_EQ(e, geteuid());
  EXPECT_EQ(s, 0u);
  gid_t gr, ge, gs;
  ASSERT_EQ(getresgid(&gr, &ge, &gs), 0);
  EXPECT_EQ(gr, getgid());
  EXPECT_EQ(ge, getegid());
  EXPECT_EQ(gs, getgid());
  EXPECT_ERRNO(getresuid(static_cast<uid_t*>(kBadPtr), &e, &s), EFAULT);
  int n = getgroups(0, nullptr);
  ASSERT_GE(n, 0);
  std::vector<gid_t> groups(n + 1);
  EXPECT_EQ(getgroups(n + 1, groups.data()), n);
  if (n > 0) EXPECT_ERRNO(getgroups(n - 1, groups.data()), EINVAL);
  EXPECT_ERRNO(syscall(SYS_getgroups, -1, groups.data()), EINVAL);
}

TEST_F(CredTest, LeavingRootClearsCapabilities) {
  const Caps start = start_;
  EXPECT_CHILD_OK([&] {
    CHECK_IN_CHILD(setresuid(1000, 1000, 1000) == 0);
    uid_t r, e, s;
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 1000 && e == 1000 && s == 1000);
    Caps c = GetCaps();
    CHECK_IN_CHILD(c.eff == 0 && c.prm == 0 && c.inh == 0);
    // The bounding set is not touched.
    CHECK_IN_CHILD(Bounding() == bounding_);
    // No way back.
    CHECK_ERRNO_IN_CHILD(setuid(0), EPERM);
    CHECK_ERRNO_IN_CHILD(setresuid(0, -1, -1), EPERM);
    CHECK_ERRNO_IN_CHILD(setreuid(-1, 0), EPERM);
    CHECK_ERRNO_IN_CHILD(SetCaps(start), EPERM);
    gid_t g = 0;
    CHECK_ERRNO_IN_CHILD(setgroups(1, &g), EPERM);
    CHECK_ERRNO_IN_CHILD(setgid(5), EPERM);
    CHECK_ERRNO_IN_CHILD(prctl(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0), EPERM);
    // Setting what it already has is allowed.
    CHECK_IN_CHILD(setuid(1000) == 0);
    CHECK_IN_CHILD(setresuid(-1, -1, -1) == 0);
  });
}

TEST_F(CredTest, SetuidAsRootSetsAllThree) {
  EXPECT_CHILD_OK([] {
    CHECK_ERRNO_IN_CHILD(setuid(kNoId), EINVAL);
    CHECK_IN_CHILD(setuid(1234) == 0);
    uid_t r, e, s;
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 1234 && e == 1234 && s == 1234);
    CHECK_IN_CHILD(setfsuid(kNoId) == 1234);
    CHECK_IN_CHILD(GetCaps().prm == 0);
  });
}

TEST_F(CredTest, KeepCapsKeepsPermitted) {
  const Caps start = start_;
  EXPECT_CHILD_OK([&] {
    CHECK_IN_CHILD(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL);
    CHECK_IN_CHILD(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
    CHECK_IN_CHILD(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == SECBIT_KEEP_CAPS);
    CHECK_IN_CHILD(setresuid(1000, 1000, 1000) == 0);
    Caps c = GetCaps();
    // Permitted survives; effective is cleared with the euid.
    CHECK_IN_CHILD(c.prm == start.prm);
    CHECK_IN_CHILD(c.eff == 0);
    // ... and may be raised again from permitted.
    c.eff = c.prm;
    CHECK_IN_CHILD(SetCaps(c) == 0);
    CHECK_IN_CHILD(GetCaps().eff == start.prm);
    // With CAP_SETUID effective again, uid 0 is reachable.
    CHECK_IN_CHILD(setresuid(0, 0, 0) == 0);
  });
}

TEST_F(CredTest, EffectiveUidFollowsSavedRoot) {
  const Caps start = start_;
  EXPECT_CHILD_OK([&] {
    // Real and saved uid stay 0: permitted is kept.
    CHECK_IN_CHILD(setresuid(-1, 1000, -1) == 0);
    Caps c = GetCaps();
    CHECK_IN_CHILD(c.eff == 0 && c.prm == start.prm);
    CHECK_IN_CHILD(setfsuid(kNoId) == 1000);
    // Back to euid 0: effective is refilled from permitted.
    CHECK_IN_CHILD(seteuid(0) == 0);
    c = GetCaps();
    CHECK_IN_CHILD(c.eff == start.prm && c.prm == start.prm);
    uid_t r, e, s;
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 0 && e == 0 && s == 0);
  });
}

TEST_F(CredTest, SetreuidSavedUidRule) {
  EXPECT_CHILD_OK([] {
    // Setting the real uid makes saved = new effective.
    CHECK_IN_CHILD(setreuid(1000, 2000) == 0);
    uid_t r, e, s;
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 1000 && e == 2000 && s == 2000);
    CHECK_IN_CHILD(GetCaps().prm == 0);
    // euid back to the real uid: the saved uid stays.
    CHECK_IN_CHILD(setreuid(-1, 1000) == 0);
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 1000 && e == 1000 && s == 2000);
    // The saved uid is a valid euid, not a valid ruid.
    CHECK_ERRNO_IN_CHILD(setreuid(2000, -1), EPERM);
    CHECK_IN_CHILD(setreuid(-1, 2000) == 0);
    CHECK_ERRNO_IN_CHILD(setreuid(-1, 3000), EPERM);
    // Swapping real and effective is allowed.
    CHECK_IN_CHILD(setreuid(2000, 1000) == 0);
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 2000 && e == 1000 && s == 1000);
  });
}

TEST_F(CredTest, SetresuidPermutesWithoutPrivilege) {
  EXPECT_CHILD_OK([] {
    CHECK_IN_CHILD(setresuid(1000, 2000, 3000) == 0);
    CHECK_IN_CHILD(GetCaps().prm == 0);
    CHECK_IN_CHILD(setresuid(3000, 1000, 2000) == 0);
    uid_t r, e, s;
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 3000 && e == 1000 && s == 2000);
    CHECK_ERRNO_IN_CHILD(setresuid(4000, -1, -1), EPERM);
    CHECK_ERRNO_IN_CHILD(setresuid(-1, -1, 0), EPERM);
    // setuid to the saved uid changes only the effective uid.
    CHECK_IN_CHILD(setuid(2000) == 0);
    CHECK_IN_CHILD(getresuid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 3000 && e == 2000 && s == 2000);
  });
}

TEST_F(CredTest, Gids) {
  EXPECT_CHILD_OK([] {
    CHECK_IN_CHILD(setresgid(100, 200, 300) == 0);
    gid_t r, e, s;
    CHECK_IN_CHILD(getresgid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 100 && e == 200 && s == 300);
    CHECK_IN_CHILD(setfsgid(kNoId) == 200);
    CHECK_IN_CHILD(setregid(-1, 100) == 0);
    CHECK_IN_CHILD(getresgid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 100 && e == 100 && s == 300);
    // With CAP_SETGID, setgid sets all three.
    CHECK_ERRNO_IN_CHILD(setgid(kNoId), EINVAL);
    CHECK_IN_CHILD(setgid(400) == 0);
    CHECK_IN_CHILD(getresgid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 400 && e == 400 && s == 400);
    // Gid changes leave the capabilities alone.
    CHECK_IN_CHILD(GetCaps().eff != 0);
    CHECK_IN_CHILD(setresgid(100, 200, 300) == 0);
    CHECK_IN_CHILD(setresuid(1000, 1000, 1000) == 0);
    // Unprivileged: only the current real/effective/saved gids.
    CHECK_ERRNO_IN_CHILD(setgid(400), EPERM);
    CHECK_IN_CHILD(setgid(300) == 0);  // the saved gid: egid only
    CHECK_IN_CHILD(getresgid(&r, &e, &s) == 0);
    CHECK_IN_CHILD(r == 100 && e == 300 && s == 300);
    CHECK_IN_CHILD(setresgid(300, 100, -1) == 0);
    CHECK_ERRNO_IN_CHILD(setresgid(-1, 500, -1), EPERM);
    CHECK_ERRNO_IN_CHILD(setregid(500, -1), EPERM);
    // setfsgid fails silently: it returns the old value.
    CHECK_IN_CHILD(setfsgid(500) == 100);
    CHECK_IN_CHILD(setfsgid(kNoId) == 100);
  });
}

TEST_F(CredTest, Setgroups) {
  EXPECT_CHILD_OK([] {
    gid_t in[] = {50, 3, 7, 1};
    CHECK_IN_CHILD(setgroups(4, in) == 0);
    gid_t out[8] = {};
    // Linux keeps the list sorted.
    CHECK_IN_CHILD(getgroups(8, out) == 4);
    CHECK_IN_CHILD(out[0] == 1 && out[1] == 3 && out[2] == 7 && out[3] == 50);
    CHECK_IN_CHILD(getgroups(0, nullptr) == 4);
    CHECK_ERRNO_IN_CHILD(getgroups(3, out), EINVAL);
    CHECK_ERRNO_IN_CHILD(syscall(SYS_getgroups, 4, kBadPtr), EFAULT);
    CHECK_ERRNO_IN_CHILD(setgroups(65537, in), EINVAL);
    CHECK_ERRNO_IN_CHILD(syscall(SYS_setgroups, -1, in), EINVAL);
    CHECK_ERRNO_IN_CHILD(setgroups(2, static_cast<gid_t*>(kBadPtr)), EFAULT);
    gid_t bad[] = {5, kNoId};
    CHECK_ERRNO_IN_CHILD(setgroups(2, bad), EINVAL);
    // NGROUPS_MAX itself is fine.
    std::vector<gid_t> many(65536);
    for (size_t i = 0; i < many.size(); i++) many[i] = i;
    CHECK_IN_CHILD(setgroups(many.size(), many.data()) == 0);
    CHECK_IN_CHILD(getgroups(0, nullptr) == 65536);
    CHECK_IN_CHILD(setgroups(0, nullptr) == 0);
    CHECK_IN_CHILD(getgroups(0, nullptr) == 0);
    // Without CAP_SETGID, even an empty list is refused (and
    // before the size is looked at).
    CHECK_IN_CHILD(DropEffective(Bit(CAP_SETGID)));
    CHECK_ERRNO_IN_CHILD(setgroups(0, nullptr), EPERM);
    CHECK_ERRNO_IN_CHILD(setgroups(65537, in), EPERM);
  });
}

TEST_F(CredTest, FsuidFollowsFsCapabilities) {
  const Caps start = start_;
  EXPECT_CHILD_OK([&] {
    CHECK_IN_CHILD(setfsuid(1000) == 0);
    CHECK_IN_CHILD(setfsuid(kNoId) == 1000);
    Caps c = GetCaps();
    CHECK_IN_CHILD(c.eff == (start.prm & ~kFsCaps));
    CHECK_IN_CHILD(c.prm == start.prm);
    CHECK_IN_CHILD(geteuid() == 0);
    CHECK_IN_CHILD(setfsuid(0) == 1000);
    CHECK_IN_CHILD(GetCaps().eff == start.prm);
    // Unprivileged, setfsuid reports failure only by not changing.
    CHECK_IN_CHILD(setresuid(1000, 1000, 1000) == 0);
    CHECK_IN_CHILD(setfsuid(0) == 1000);
    CHECK_IN_CHILD(setfsuid(kNoId) == 1000);
  });
}

TEST_F(CredTest, RootWithoutDacCapabilitiesFollowsModeBits) {
  // A file and a directory nobody may use by their modes, in a tmpfs both
  // worlds can write.
  char dir[] = "/dev/shm/cred-dac.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr) << ErrnoName(errno);
  const std::string file = std::string(dir) + "/f";
  const std::string sub = std::string(dir) + "/d";
  int fd = open(file.c_str(), O_CREAT | O_WRONLY, 0000);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  close(fd);
  ASSERT_EQ(mkdir(sub.c_str(), 0000), 0);
  EXPECT_CHILD_OK([&] {
    // With CAP_DAC_OVERRIDE root opens anything.
    int f = open(file.c_str(), O_RDWR);
    CHECK_IN_CHILD(f >= 0);
    close(f);
    CHECK_IN_CHILD(access((sub + "/x").c_str(), F_OK) == -1 && errno == ENOENT);
    // Without it (and without CAP_DAC_READ_SEARCH) the mode bits rule.
    CHECK_IN_CHILD(
        DropEffective(Bit(CAP_DAC_OVERRIDE) | Bit(CAP_DAC_READ_SEARCH)));
    CHECK_ERRNO_IN_CHILD(open(file.c_str(), O_RDONLY), EACCES);
    CHECK_ERRNO_IN_CHILD(open(file.c_str(), O_WRONLY), EACCES);
    CHECK_ERRNO_IN_CHILD(open((sub + "/x").c_str(), O_RDONLY), EACCES);
    CHECK_ERRNO_IN_CHILD(opendir(sub.c_str()) == nullptr ? -1 : 0, EACCES);
    // The owner may still change the mode (CAP_FOWNER is not needed).
    CHECK_IN_CHILD(chmod(file.c_str(), 0600) == 0);
    f = open(file.c_str(), O_RDWR);
    CHECK_IN_CHILD(f >= 0);
    close(f);
  });
  unlink(file.c_str());
  rmdir(sub.c_str());
  rmdir(dir);
}

TEST_F(CredTest, CredentialChangeClearsDumpableAndDeathSignal) {
  EXPECT_CHILD_OK([] {
    CHECK_IN_CHILD(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
    CHECK_IN_CHILD(prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0) == 0);
    // Dropping capabilities is no change of privilege.
    CHECK_IN_CHILD(DropEffective(Bit(CAP_MKNOD)));
    int sig = -1;
    CHECK_IN_CHILD(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0);
    CHECK_IN_CHILD(sig == SIGUSR1);
    CHECK_IN_CHILD(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
    // A new effective uid is.
    CHECK_IN_CHILD(seteuid(1000) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0);
    CHECK_IN_CHILD(sig == 0);
    // fs.suid_dumpable (0 by default, 2 on some hosts).
    CHECK_IN_CHILD(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1);
    CHECK_IN_CHILD(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
  });
}

// ---- capget / capset ----

TEST_F(CredTest, CapgetVersions) {
  // The probe: an unknown version and no data.
  __user_cap_header_struct hdr = {0, 0};
  EXPECT_EQ(syscall(SYS_capget, &hdr, nullptr), 0);
  EXPECT_EQ(hdr.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  __user_cap_data_struct d[2];
  hdr = {0x12345678, 0};
  EXPECT_ERRNO(syscall(SYS_capget, &hdr, d), EINVAL);
  EXPECT_EQ(hdr.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  // A known version and no data: nothing to do.
  hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  EXPECT_EQ(syscall(SYS_capget, &hdr, nullptr), 0);
  EXPECT_ERRNO(syscall(SYS_capget, kBadPtr, d), EFAULT);
  EXPECT_ERRNO(CapGetRaw(_LINUX_CAPABILITY_VERSION_3, 0,
                         static_cast<__user_cap_data_struct*>(kBadPtr)),
               EFAULT);

  // Version 1 fills one word: capabilities 0-31.
  memset(d, 0xaa, sizeof d);
  ASSERT_EQ(CapGetRaw(_LINUX_CAPABILITY_VERSION_1, 0, d), 0);
  EXPECT_EQ(d[0].effective, static_cast<uint32_t>(start_.eff));
  EXPECT_EQ(d[0].permitted, static_cast<uint32_t>(start_.prm));
  EXPECT_EQ(d[1].effective, 0xaaaaaaaau);
  // Versions 2 and 3 fill two.
  for (uint32_t v :
       {_LINUX_CAPABILITY_VERSION_2, _LINUX_CAPABILITY_VERSION_3}) {
    memset(d, 0xaa, sizeof d);
    ASSERT_EQ(CapGetRaw(v, 0, d), 0);
    EXPECT_EQ(d[0].permitted, static_cast<uint32_t>(start_.prm));
    EXPECT_EQ(d[1].permitted, static_cast<uint32_t>(start_.prm >> 32));
    EXPECT_EQ(d[1].inheritable, 0u);
  }
  // By pid: our own, a bad one, one that does not exist.
  Caps own = GetCaps(getpid());
  EXPECT_EQ(own.prm, start_.prm);
  EXPECT_ERRNO(CapGetRaw(_LINUX_CAPABILITY_VERSION_3, -1, d), EINVAL);
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  EXPECT_ERRNO(CapGetRaw(_LINUX_CAPABILITY_VERSION_3, gone, d), ESRCH);
}

TEST_F(CredTest, CapgetOtherProcess) {
  // A child drops CAP_KILL, then the parent reads its sets.
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(done[1]);
    Caps c = GetCaps();
    c.eff &= ~Bit(CAP_KILL);
    c.prm &= ~Bit(CAP_KILL);
    char ok = SetCaps(c) == 0 ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    char x;
    (void)!read(done[0], &x, 1);
    _exit(0);
  }
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  EXPECT_EQ(ok, 'y');
  Caps c = GetCaps(pid);
  EXPECT_EQ(c.prm, start_.prm & ~Bit(CAP_KILL));
  EXPECT_EQ(c.eff, start_.eff & ~Bit(CAP_KILL));
  EXPECT_EQ(GetCaps().prm, start_.prm);
  close(done[1]);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  close(done[0]);
  close(ready[0]);
  close(ready[1]);
}

TEST_F(CredTest, CapsetSubsetRules) {
  const Caps start = start_;
  const uint64_t bounding = bounding_;
  EXPECT_CHILD_OK([&] {
    const uint64_t kill = Bit(CAP_KILL);
    // Effective must stay within the new permitted set.
    Caps c = start;
    c.prm &= ~kill;
    CHECK_ERRNO_IN_CHILD(SetCaps(c), EPERM);
    CHECK_IN_CHILD(GetCaps().prm == start.prm);  // unchanged
    c.eff &= ~kill;
    CHECK_IN_CHILD(SetCaps(c) == 0);
    // Permitted never grows.
    Caps back = start;
    CHECK_ERRNO_IN_CHILD(SetCaps(back), EPERM);
    // Bad version: EINVAL with the preferred version written.
    __user_cap_header_struct hdr = {1, 0};
    __user_cap_data_struct d[2] = {};
    CHECK_ERRNO_IN_CHILD(syscall(SYS_capset, &hdr, d), EINVAL);
    CHECK_IN_CHILD(hdr.version == _LINUX_CAPABILITY_VERSION_3);
    // Only the caller's own sets.
    CHECK_ERRNO_IN_CHILD(SetCaps(c, getppid()), EPERM);
    CHECK_IN_CHILD(SetCaps(c, getpid()) == 0);
    hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    CHECK_ERRNO_IN_CHILD(syscall(SYS_capset, &hdr, static_cast<void*>(kBadPtr)),
                         EFAULT);

    // With CAP_SETPCAP, inheritable may take anything in the
    // bounding set, even outside permitted.
    Caps i = c;
    i.inh = kill;
    CHECK_IN_CHILD(SetCaps(i) == 0);
    CHECK_IN_CHILD(GetCaps().inh == kill);
    i.inh = 0;
    CHECK_IN_CHILD(SetCaps(i) == 0);
    // ... but not outside it.
    CHECK_IN_CHILD(prctl(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0) == 0);
    CHECK_IN_CHILD(Bounding() == (bounding & ~kill));
    i.inh = kill;
    CHECK_ERRNO_IN_CHILD(SetCaps(i), EPERM);

    // Without CAP_SETPCAP, only what is permitted.
    Caps n = c;
    n.eff &= ~Bit(CAP_SETPCAP);
    CHECK_IN_CHILD(SetCaps(n) == 0);
    n.inh = Bit(CAP_CHOWN);
    CHECK_IN_CHILD(SetCaps(n) == 0);
    n.inh = Bit(CAP_CHOWN) | kill;
    CHECK_ERRNO_IN_CHILD(SetCaps(n), EPERM);
    CHECK_ERRNO_IN_CHILD(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), EPERM);
    // An inheritable capability, once dropped from permitted,
    // may stay inheritable.
    n.inh = Bit(CAP_CHOWN);
    n.prm &= ~Bit(CAP_CHOWN);
    n.eff &= ~Bit(CAP_CHOWN);
    CHECK_IN_CHILD(SetCaps(n) == 0);
    Caps got = GetCaps();
    CHECK_IN_CHILD(got.inh == Bit(CAP_CHOWN));
    CHECK_IN_CHILD(got.prm == (start.prm & ~kill & ~Bit(CAP_CHOWN)));
  });
}

TEST_F(CredTest, CapsetVersion1DropsUpperCapabilities) {
  const Caps start = start_;
  EXPECT_CHILD_OK([&] {
    CHECK_IN_CHILD(SetCaps(start, 0, _LINUX_CAPABILITY_VERSION_1) == 0);
    Caps c = GetCaps();
    CHECK_IN_CHILD(c.prm == (start.prm & 0xffffffffu));
    CHECK_IN_CHILD(c.eff == (start.eff & 0xffffffffu));
    CHECK_IN_CHILD(SetCaps(c, 0, _LINUX_CAPABILITY_VERSION_2) == 0);
  });
}

// ---- prctl ----

TEST_F(CredTest, PrctlName) {
  char saved[16] = {};
  ASSERT_EQ(prctl(PR_GET_NAME, saved, 0, 0, 0), 0);
  ASSERT_EQ(prctl(PR_SET_NAME, "abcdefghijklmnopqrstuvwxyz", 0, 0, 0), 0);
  char name[32];
  memset(name, 'x', sizeof name);
  ASSERT_EQ(prctl(PR_GET_NAME, name, 0, 0, 0), 0);
  EXPECT_STREQ(name, "abcdefghijklmno");  // 15 bytes and the NUL
  EXPECT_EQ(name[16], 'x');               // exactly 16 bytes written
  ASSERT_EQ(prctl(PR_SET_NAME, "short", 0, 0, 0), 0);
  ASSERT_EQ(prctl(PR_GET_NAME, name, 0, 0, 0), 0);
  EXPECT_STREQ(name, "short");
  EXPECT_ERRNO(prctl(PR_SET_NAME, kBadPtr, 0, 0, 0), EFAULT);
  EXPECT_ERRNO(prctl(PR_GET_NAME, kBadPtr, 0, 0, 0), EFAULT);
  ASSERT_EQ(prctl(PR_SET_NAME, saved, 0, 0, 0), 0);
}

TEST_F(CredTest, PrctlDeathSignal) {
  EXPECT_CHILD_OK([] {
    int sig = -1;
    CHECK_IN_CHILD(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0);
    CHECK_IN_CHILD(sig == 0);
    CHECK_IN_CHILD(prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0);
    CHECK_IN_CHILD(sig == SIGUSR2);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_PDEATHSIG, -1, 0, 0, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(prctl(PR_GET_PDEATHSIG, kBadPtr, 0, 0, 0), EFAULT);
    // Not inherited.
    CHECK_GRANDCHILD_OK([] {
      int s = -1;
      CHECK_IN_CHILD(prctl(PR_GET_PDEATHSIG, &s, 0, 0, 0) == 0);
      CHECK_IN_CHILD(s == 0);
    });
    CHECK_IN_CHILD(prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0);
    CHECK_IN_CHILD(sig == 0);
  });
}

TEST_F(CredTest, PrctlChildSubreaper) {
  EXPECT_CHILD_OK([] {
    int on = -1;
    CHECK_IN_CHILD(prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0);
    CHECK_IN_CHILD(on == 0);
    CHECK_IN_CHILD(prctl(PR_SET_CHILD_SUBREAPER, 5, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0);
    CHECK_IN_CHILD(on == 1);
    CHECK_ERRNO_IN_CHILD(prctl(PR_GET_CHILD_SUBREAPER, kBadPtr, 0, 0, 0),
                         EFAULT);
    // A new process does not inherit the flag.
    CHECK_GRANDCHILD_OK([] {
      int v = -1;
      CHECK_IN_CHILD(prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) == 0);
      CHECK_IN_CHILD(v == 0);
    });
    CHECK_IN_CHILD(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0);
    CHECK_IN_CHILD(on == 0);
  });
}

TEST_F(CredTest, PrctlDumpable) {
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
  EXPECT_CHILD_OK([] {
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_DUMPABLE, 2, 0, 0, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_DUMPABLE, 3, 0, 0, 0), EINVAL);
    CHECK_IN_CHILD(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
    // fork copies it.
    CHECK_GRANDCHILD_OK(
        [] { CHECK_IN_CHILD(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0); });
    CHECK_IN_CHILD(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
  });
}

TEST_F(CredTest, PrctlNoNewPrivs) {
  EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
  EXPECT_CHILD_OK([] {
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 1), EINVAL);
    CHECK_IN_CHILD(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
    CHECK_ERRNO_IN_CHILD(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL);
    // Setting it again is fine; there is no way to clear it.
    CHECK_IN_CHILD(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK_GRANDCHILD_OK(
        [] { CHECK_IN_CHILD(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1); });
  });
  // The parent is untouched.
  EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
}

TEST_F(CredTest, PrctlBoundingSet) {
  EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), 1);
  EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0), 1);
  EXPECT_ERRNO(prctl(PR_CAPBSET_READ, kLastCap + 1, 0, 0, 0), EINVAL);
  EXPECT_ERRNO(prctl(PR_CAPBSET_READ, -1, 0, 0, 0), EINVAL);
  const Caps start = start_;
  const uint64_t bounding = bounding_;
  EXPECT_CHILD_OK([&] {
    CHECK_IN_CHILD(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_CAPBSET_READ, CAP_MKNOD, 0, 0, 0) == 0);
    CHECK_IN_CHILD(Bounding() == (bounding & ~Bit(CAP_MKNOD)));
    // Dropping twice is fine.
    CHECK_IN_CHILD(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) == 0);
    // The bounding set limits what is gained later, not what is
    // held.
    CHECK_IN_CHILD(GetCaps().prm == start.prm);
    CHECK_ERRNO_IN_CHILD(prctl(PR_CAPBSET_DROP, kLastCap + 1, 0, 0, 0), EINVAL);
    CHECK_IN_CHILD(DropEffective(Bit(CAP_SETPCAP)));
    CHECK_ERRNO_IN_CHILD(prctl(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0), EPERM);
    CHECK_IN_CHILD(prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0) == 1);
  });
}

TEST_F(CredTest, PrctlAmbient) {
  for (int cap = 0; cap <= kLastCap; cap++) EXPECT_FALSE(AmbientIsSet(cap));
  EXPECT_CHILD_OK([] {
    const int chown = CAP_CHOWN, fowner = CAP_FOWNER;
    // Not inheritable yet.
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, chown, 0, 0), EPERM);
    Caps c = GetCaps();
    c.inh = Bit(chown) | Bit(fowner);
    CHECK_IN_CHILD(SetCaps(c) == 0);
    CHECK_IN_CHILD(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, chown, 0, 0) ==
                   0);
    CHECK_IN_CHILD(AmbientIsSet(chown));
    CHECK_IN_CHILD(!AmbientIsSet(fowner));
    CHECK_IN_CHILD(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, chown, 0, 0) ==
                   0);
    CHECK_IN_CHILD(!AmbientIsSet(chown));
    CHECK_IN_CHILD(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, chown, 0, 0) ==
                   0);
    CHECK_IN_CHILD(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, fowner, 0, 0) ==
                   0);
    // Leaving the inheritable set takes it out of the ambient set.
    c.inh = Bit(chown);
    CHECK_IN_CHILD(SetCaps(c) == 0);
    CHECK_IN_CHILD(AmbientIsSet(chown) && !AmbientIsSet(fowner));
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, kLastCap + 1, 0, 0),
        EINVAL);
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, chown, 1, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(prctl(PR_CAP_AMBIENT, 9, chown, 0, 0), EINVAL);
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0), EINVAL);
    CHECK_IN_CHILD(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) ==
                   0);
    CHECK_IN_CHILD(!AmbientIsSet(chown));
    // SECBIT_NO_CAP_AMBIENT_RAISE forbids raising.
    CHECK_IN_CHILD(
        prctl(PR_SET_SECUREBITS, SECBIT_NO_CAP_AMBIENT_RAISE, 0, 0, 0) == 0);
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, chown, 0, 0), EPERM);
  });
}

TEST_F(CredTest, LeavingRootClearsAmbientEvenWithKeepCaps) {
  const Caps start = start_;
  EXPECT_CHILD_OK([&] {
    Caps c = GetCaps();
    c.inh = Bit(CAP_CHOWN);
    CHECK_IN_CHILD(SetCaps(c) == 0);
    CHECK_IN_CHILD(
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
    CHECK_IN_CHILD(setresuid(1000, 1000, 1000) == 0);
    CHECK_IN_CHILD(!AmbientIsSet(CAP_CHOWN));
    Caps got = GetCaps();
    CHECK_IN_CHILD(got.prm == start.prm);
    CHECK_IN_CHILD(got.inh == Bit(CAP_CHOWN));
  });
}

TEST_F(CredTest, PrctlSecurebits) {
  EXPECT_EQ(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), 0);
  const Caps start = start_;
  EXPECT_CHILD_OK([&] {
    // An unknown bit.
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_SECUREBITS, 1 << 20, 0, 0, 0), EPERM);
    // NO_SETUID_FIXUP: the capability sets ignore uid changes.
    CHECK_IN_CHILD(prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) ==
                   0);
    CHECK_IN_CHILD(setresuid(1000, 1000, 1000) == 0);
    Caps c = GetCaps();
    CHECK_IN_CHILD(c.eff == start.eff && c.prm == start.prm);
    // Locks: the locked bit cannot change, the lock cannot go.
    const int keep = SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED;
    CHECK_IN_CHILD(
        prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | keep, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) ==
                   (SECBIT_NO_SETUID_FIXUP | keep));
    CHECK_IN_CHILD(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), EPERM);
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0), EPERM);
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0), EPERM);
    // Unlocked bits still change, with CAP_SETPCAP.
    CHECK_IN_CHILD(prctl(PR_SET_SECUREBITS, keep, 0, 0, 0) == 0);
    CHECK_IN_CHILD(DropEffective(Bit(CAP_SETPCAP)));
    CHECK_ERRNO_IN_CHILD(
        prctl(PR_SET_SECUREBITS, keep | SECBIT_NOROOT, 0, 0, 0), EPERM);
  });
}

TEST_F(CredTest, PrctlTimerSlack) {
  const long initial = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  ASSERT_GT(initial, 0);
  EXPECT_CHILD_OK([&] {
    CHECK_IN_CHILD(prctl(PR_SET_TIMERSLACK, 123456, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 123456);
    // 0 restores the default: the slack at fork.
    CHECK_IN_CHILD(prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0) == 0);
    CHECK_IN_CHILD(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == initial);
    CHECK_IN_CHILD(prctl(PR_SET_TIMERSLACK, 200000, 0, 0, 0) == 0);
    CHECK_GRANDCHILD_OK([] {
      CHECK_IN_CHILD(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 200000);
      CHECK_IN_CHILD(prctl(PR_SET_TIMERSLACK, 7, 0, 0, 0) == 0);
      CHECK_IN_CHILD(prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0) == 0);
      CHECK_IN_CHILD(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 200000);
    });
  });
}

TEST_F(CredTest, PrctlSetMm) {
  unsigned size = 0;
  EXPECT_EQ(prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0), 0);
  EXPECT_EQ(size, sizeof(struct prctl_mm_map));
  EXPECT_ERRNO(prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0, 0, 1), EINVAL);
  EXPECT_ERRNO(prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0, 1, 0), EINVAL);
  EXPECT_CHILD_OK([] {
    CHECK_IN_CHILD(DropEffective(Bit(CAP_SYS_RESOURCE)));
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0x10000, 0, 0),
                         EPERM);
    CHECK_ERRNO_IN_CHILD(prctl(PR_SET_MM, PR_SET_MM_ARG_START, 0x10000, 0, 0),
                         EPERM);
  });
}

TEST_F(CredTest, PrctlUnknownOption) {
  EXPECT_ERRNO(prctl(0x7fff, 0, 0, 0, 0), EINVAL);
  EXPECT_ERRNO(prctl(-1, 0, 0, 0, 0), EINVAL);
}

// ---- priorities ----

TEST_F(CredTest, Priority) {
  errno = 0;
  const int nice0 = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  ASSERT_LE(nice0, 10);
  // The raw syscall answers 20 - nice so that no result looks like an error.
  EXPECT_EQ(syscall(SYS_getpriority, PRIO_PROCESS, 0), 20 - nice0);
  EXPECT_EQ(getpriority(PRIO_PROCESS, getpid()), nice0);
  errno = 0;
  EXPECT_GE(getpriority(PRIO_PGRP, 0), -20);
  EXPECT_EQ(errno, 0);
  EXPECT_GE(syscall(SYS_getpriority, PRIO_USER, 0), 1);
  EXPECT_ERRNO(getpriority(3, 0), EINVAL);
  EXPECT_ERRNO(setpriority(-1, 0, 0), EINVAL);
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  EXPECT_ERRNO(getpriority(PRIO_PROCESS, gone), ESRCH);
  EXPECT_ERRNO(setpriority(PRIO_PROCESS, gone, 1), ESRCH);

  EXPECT_CHILD_OK([&] {
    CHECK_IN_CHILD(setpriority(PRIO_PROCESS, 0, nice0 + 5) == 0);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, 0) == nice0 + 5);
    CHECK_IN_CHILD(syscall(SYS_getpriority, PRIO_PROCESS, 0) ==
                   20 - (nice0 + 5));
    // The value is clamped to 19.
    CHECK_IN_CHILD(setpriority(PRIO_PROCESS, 0, 100) == 0);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, 0) == 19);
    // Children inherit it.
    CHECK_GRANDCHILD_OK(
        [] { CHECK_IN_CHILD(getpriority(PRIO_PROCESS, 0) == 19); });
    // Lowering nice takes CAP_SYS_NICE (RLIMIT_NICE is 0).
    CHECK_IN_CHILD(DropEffective(Bit(CAP_SYS_NICE)));
    CHECK_ERRNO_IN_CHILD(setpriority(PRIO_PROCESS, 0, 18), EACCES);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, 0) == 19);
    CHECK_IN_CHILD(setpriority(PRIO_PROCESS, 0, 19) == 0);
  });
}

TEST_F(CredTest, PriorityOfOtherProcess) {
  errno = 0;
  const int nice0 = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  EXPECT_CHILD_OK([&] {
    Sleeper other;
    CHECK_IN_CHILD(other.pid() > 0);
    // Raising nice takes no privilege.
    CHECK_IN_CHILD(setpriority(PRIO_PROCESS, other.pid(), nice0 + 3) == 0);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, other.pid()) == nice0 + 3);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, 0) == nice0);
    // A process of another user is out of reach.
    CHECK_IN_CHILD(setresuid(1000, 1000, 1000) == 0);
    CHECK_ERRNO_IN_CHILD(setpriority(PRIO_PROCESS, other.pid(), nice0 + 4),
                         EPERM);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, other.pid()) == nice0 + 3);
  });
}

TEST_F(CredTest, PriorityOfOwnGroupAndUser) {
  EXPECT_CHILD_OK([] {
    // A process group of its own.
    CHECK_IN_CHILD(setpgid(0, 0) == 0);
    CHECK_IN_CHILD(setpriority(PRIO_PGRP, 0, 11) == 0);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, 0) == 11);
    CHECK_IN_CHILD(getpriority(PRIO_PGRP, 0) == 11);
    CHECK_IN_CHILD(getpriority(PRIO_PGRP, getpid()) == 11);
    // A user of its own.
    CHECK_IN_CHILD(setresuid(4321, 4321, 4321) == 0);
    CHECK_IN_CHILD(setpriority(PRIO_USER, 0, 12) == 0);
    CHECK_IN_CHILD(getpriority(PRIO_USER, 0) == 12);
    CHECK_IN_CHILD(getpriority(PRIO_USER, 4321) == 12);
    CHECK_IN_CHILD(getpriority(PRIO_PROCESS, 0) == 12);
  });
}

// ---- scheduling policies ----

TEST_F(CredTest, SchedPriorityRanges) {
  EXPECT_EQ(sched_get_priority_max(SCHED_FIFO), 99);
  EXPECT_EQ(sched_get_priority_min(SCHED_FIFO), 1);
  EXPECT_EQ(sched_get_priority_max(SCHED_RR), 99);
  EXPECT_EQ(sched_get_priority_min(SCHED_RR), 1);
  for (int p : {SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE}) {
    EXPECT_EQ(sched_get_priority_max(p), 0) << p;
    EXPECT_EQ(sched_get_priority_min(p), 0) << p;
  }
  EXPECT_ERRNO(sched_get_priority_max(42), EINVAL);
  EXPECT_ERRNO(sched_get_priority_min(-1), EINVAL);
}

TEST_F(CredTest, SchedPolicies) {
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
  EXPECT_EQ(sched_getscheduler(getpid()), SCHED_OTHER);
  sched_param p = {};
  p.sched_priority = 5;
  ASSERT_EQ(sched_getparam(0, &p), 0);
  EXPECT_EQ(p.sched_priority, 0);
  EXPECT_ERRNO(sched_getscheduler(-1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_sched_getparam, 0, nullptr), EINVAL);
  EXPECT_ERRNO(sched_getparam(0, static_cast<sched_param*>(kBadPtr)), EFAULT);
  timespec ts = {5, 5};
  ASSERT_EQ(sched_rr_get_interval(0, &ts), 0);
  EXPECT_EQ(ts.tv_sec, 0);
  EXPECT_ERRNO(sched_rr_get_interval(-1, &ts), EINVAL);
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  EXPECT_ERRNO(sched_getscheduler(gone), ESRCH);
  EXPECT_ERRNO(sched_getparam(gone, &p), ESRCH);

  EXPECT_CHILD_OK([] {
    sched_param zero = {}, five = {};
    five.sched_priority = 5;
    CHECK_IN_CHILD(sched_setscheduler(0, SCHED_BATCH, &zero) == 0);
    CHECK_IN_CHILD(sched_getscheduler(0) == SCHED_BATCH);
    CHECK_IN_CHILD(sched_setparam(0, &zero) == 0);
    CHECK_ERRNO_IN_CHILD(sched_setparam(0, &five), EINVAL);
    CHECK_IN_CHILD(sched_setscheduler(0, SCHED_OTHER, &zero) == 0);
    // Priorities must match the policy.
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, SCHED_OTHER, &five), EINVAL);
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, SCHED_FIFO, &zero), EINVAL);
    sched_param high = {};
    high.sched_priority = 100;
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, SCHED_RR, &high), EINVAL);
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, SCHED_DEADLINE, &zero), EINVAL);
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, 42, &zero), EINVAL);
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, -1, &zero), EINVAL);
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(-1, SCHED_OTHER, &zero), EINVAL);
    CHECK_ERRNO_IN_CHILD(
        syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, nullptr), EINVAL);
    CHECK_ERRNO_IN_CHILD(
        sched_setscheduler(0, SCHED_OTHER, static_cast<sched_param*>(kBadPtr)),
        EFAULT);
    // SCHED_RESET_ON_FORK is reported back and not inherited.
    CHECK_IN_CHILD(
        sched_setscheduler(0, SCHED_BATCH | SCHED_RESET_ON_FORK, &zero) == 0);
    CHECK_IN_CHILD(sched_getscheduler(0) ==
                   (SCHED_BATCH | SCHED_RESET_ON_FORK));
    CHECK_GRANDCHILD_OK(
        [] { CHECK_IN_CHILD(sched_getscheduler(0) == SCHED_BATCH); });

    // Without CAP_SYS_NICE (and RLIMIT_RTPRIO 0): no real-time
    // policy, no clearing the reset-on-fork flag, no leaving
    // SCHED_IDLE (RLIMIT_NICE 0).
    CHECK_IN_CHILD(DropEffective(Bit(CAP_SYS_NICE)));
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, SCHED_FIFO, &five), EPERM);
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, SCHED_RR, &five), EPERM);
    CHECK_ERRNO_IN_CHILD(sched_setscheduler(0, SCHED_BATCH, &zero), EPERM);
    CHECK_IN_CHILD(
        sched_setscheduler(0, SCHED_IDLE | SCHED_RESET_ON_FORK, &zero) == 0);
    CHECK_IN_CHILD(sched_getscheduler(0) == (SCHED_IDLE | SCHED_RESET_ON_FORK));
    CHECK_ERRNO_IN_CHILD(
        sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &zero), EPERM);
    timespec t = {};
    CHECK_IN_CHILD(sched_rr_get_interval(0, &t) == 0);
  });
}

TEST_F(CredTest, SchedSetaffinity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  ASSERT_GT(CPU_COUNT(&set), 0);
  EXPECT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
  cpu_set_t none;
  CPU_ZERO(&none);
  EXPECT_ERRNO(sched_setaffinity(0, sizeof none, &none), EINVAL);
  EXPECT_ERRNO(
      sched_setaffinity(0, sizeof set, static_cast<cpu_set_t*>(kBadPtr)),
      EFAULT);
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  EXPECT_ERRNO(sched_setaffinity(gone, sizeof set, &set), ESRCH);
}

// ---- close_range ----

// Whether fd is open.
bool IsOpen(int fd) { return fcntl(fd, F_GETFD) >= 0; }
bool IsCloexec(int fd) { return fcntl(fd, F_GETFD) == FD_CLOEXEC; }

class CloseRangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe(p_), 0);
    for (int fd = kFirst; fd < kFirst + 4; fd++) {
      ASSERT_EQ(dup2(p_[0], fd), fd);
    }
  }
  void TearDown() override {
    close(p_[0]);
    close(p_[1]);
    for (int fd = kFirst; fd < kFirst + 4; fd++) close(fd);
  }
  static constexpr int kFirst = 200;
  int p_[2];
};

TEST_F(CloseRangeTest, Errors) {
  EXPECT_ERRNO(syscall(SYS_close_range, kFirst + 1, kFirst, 0), EINVAL);
  EXPECT_ERRNO(syscall(SYS_close_range, kFirst, kFirst, 1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_close_range, kFirst, kFirst, 1 << 3), EINVAL);
  EXPECT_TRUE(IsOpen(kFirst));
  // Nothing open in the range is fine.
  EXPECT_EQ(syscall(SYS_close_range, 5000, 6000, 0), 0);
}

TEST_F(CloseRangeTest, Closes) {
  EXPECT_EQ(syscall(SYS_close_range, kFirst + 1, kFirst + 2, 0), 0);
  EXPECT_TRUE(IsOpen(kFirst));
  EXPECT_FALSE(IsOpen(kFirst + 1));
  EXPECT_FALSE(IsOpen(kFirst + 2));
  EXPECT_TRUE(IsOpen(kFirst + 3));
  EXPECT_EQ(syscall(SYS_close_range, kFirst, ~0u, 0), 0);
  for (int fd = kFirst; fd < kFirst + 4; fd++) EXPECT_FALSE(IsOpen(fd)) << fd;
  EXPECT_TRUE(IsOpen(p_[0]));
  EXPECT_TRUE(IsOpen(p_[1]));
}

TEST_F(CloseRangeTest, Cloexec) {
  EXPECT_EQ(syscall(SYS_close_range, kFirst, kFirst + 2, CLOSE_RANGE_CLOEXEC),
            0);
  for (int fd = kFirst; fd <= kFirst + 2; fd++) {
    EXPECT_TRUE(IsOpen(fd)) << fd;
    EXPECT_TRUE(IsCloexec(fd)) << fd;
  }
  EXPECT_FALSE(IsCloexec(kFirst + 3));
  EXPECT_FALSE(IsCloexec(p_[0]));
}

TEST_F(CloseRangeTest, UnshareLeavesTheSharedTableAlone) {
  // A process sharing our fd table (CLONE_FILES) closes fds in it, once
  // shared and once after unsharing.
  pid_t pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (syscall(SYS_close_range, kFirst, kFirst, 0) != 0) _exit(1);
    if (syscall(SYS_close_range, kFirst + 1, kFirst + 1, CLOSE_RANGE_UNSHARE) !=
        0) {
      _exit(2);
    }
    if (IsOpen(kFirst + 1)) _exit(3);
    // Private now: this close is not seen by the parent.
    if (close(kFirst + 2) != 0) _exit(4);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(IsOpen(kFirst));     // closed while shared
  EXPECT_TRUE(IsOpen(kFirst + 1));  // closed after unsharing
  EXPECT_TRUE(IsOpen(kFirst + 2));
}

TEST_F(CloseRangeTest, UnshareWithCloexec) {
  EXPECT_EQ(syscall(SYS_close_range, kFirst, ~0u,
                    CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC),
            0);
  for (int fd = kFirst; fd < kFirst + 4; fd++) EXPECT_TRUE(IsCloexec(fd));
}

}  // namespace
