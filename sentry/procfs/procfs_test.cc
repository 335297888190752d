#include "sentry/procfs/procfs.h"

#include <signal.h>
#include <sys/mount.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/fs/pipe.h"
#include "sentry/procfs/proc_text.h"

namespace sentry::procfs {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::StartsWith;

// ---- formats ----

TEST(ProcTextTest, StatHasFiftyTwoFieldsWithCommInParens) {
  TaskInfo t;
  t.tid = 12;
  t.tgid = 12;
  t.ppid = 1;
  t.pgid = 12;
  t.sid = 1;
  t.comm = "a b) c";  // parsers find the last ')'
  t.state = 'S';
  t.nice = 5;
  t.threads = 3;
  t.vm_size = 10 * 4096;
  t.vm_rss = 4 * 4096;
  t.utime_ns = 250'000'000;  // 25 ticks
  t.sig_blocked = 1;
  t.arg_start = 0x1000;
  t.env_end = 0x2000;
  std::string s = FormatStat(t);
  ASSERT_THAT(s, StartsWith("12 (a b) c) S 1 12 1 0 -1 "));
  ASSERT_EQ(s.back(), '\n');
  std::string rest = s.substr(s.rfind(')') + 2);
  std::vector<std::string> f =
      absl::StrSplit(rest.substr(0, rest.size() - 1), ' ');
  ASSERT_EQ(f.size() + 2, 52u);  // pid and comm come before
  // f[i] is field i + 3 of proc_pid_stat(5).
  EXPECT_EQ(f[14 - 3], "25");     // utime
  EXPECT_EQ(f[18 - 3], "25");     // priority: 20 + nice
  EXPECT_EQ(f[19 - 3], "5");      // nice
  EXPECT_EQ(f[20 - 3], "3");      // num_threads
  EXPECT_EQ(f[23 - 3], "40960");  // vsize, bytes
  EXPECT_EQ(f[24 - 3], "4");      // rss, pages
  EXPECT_EQ(f[32 - 3], "1");      // blocked
  EXPECT_EQ(f[38 - 3], "17");     // exit_signal
  EXPECT_EQ(f[48 - 3], "4096");   // arg_start
  EXPECT_EQ(f[51 - 3], "8192");   // env_end
}

TEST(ProcTextTest, StatusFieldsAsToolsParseThem) {
  TaskInfo t;
  t.tid = 8;
  t.tgid = 7;
  t.ppid = 1;
  t.comm = "sh";
  t.state = 'R';
  t.creds.ruid = 1;
  t.creds.euid = 2;
  t.creds.suid = 3;
  t.creds.fsuid = 4;
  t.creds.groups = {10, 20};
  t.creds.cap_effective = 0x1fffeffffffULL;
  t.sig_blocked = 1ULL << (SIGINT - 1);
  t.sig_ignored = 1ULL << (SIGPIPE - 1);
  t.umask = 027;
  t.vm_size = 3060 * 1024;
  t.vm_rss = 1736 * 1024;
  t.no_new_privs = true;
  std::string s = FormatStatus(t);
  EXPECT_THAT(s, StartsWith("Name:\tsh\nUmask:\t0027\nState:\tR (running)\n"
                            "Tgid:\t7\n"));
  EXPECT_THAT(s, HasSubstr("\nPid:\t8\nPPid:\t1\n"));
  EXPECT_THAT(s, HasSubstr("\nUid:\t1\t2\t3\t4\n"));
  EXPECT_THAT(s, HasSubstr("\nGroups:\t10 20 \n"));
  EXPECT_THAT(s, HasSubstr("\nVmSize:\t    3060 kB\n"));
  EXPECT_THAT(s, HasSubstr("\nVmRSS:\t    1736 kB\n"));
  EXPECT_THAT(s, HasSubstr("\nSigBlk:\t0000000000000002\n"));
  EXPECT_THAT(s, HasSubstr("\nSigIgn:\t0000000000001000\n"));
  EXPECT_THAT(s, HasSubstr("\nCapEff:\t000001fffeffffff\n"));
  EXPECT_THAT(s, HasSubstr("\nNoNewPrivs:\t1\n"));
  EXPECT_THAT(s, HasSubstr("\nThreads:\t1\n"));

  t.state = 'Z';
  std::string z = FormatStatus(t);
  EXPECT_THAT(z, HasSubstr("State:\tZ (zombie)\n"));
  EXPECT_THAT(z, Not(HasSubstr("VmSize")));  // as Linux, no mm to show
}

TEST(ProcTextTest, StatmInPages) {
  TaskInfo t;
  t.vm_size = 100 * 4096;
  t.vm_rss = 30 * 4096;
  t.rss_file = 10 * 4096;
  t.vm_exe = 2 * 4096;
  t.vm_data = 5 * 4096;
  t.vm_stk = 1 * 4096;
  EXPECT_EQ(FormatStatm(t), "100 30 10 2 0 6 0\n");
}

TEST(ProcTextTest, LimitsTable) {
  std::array<rlimit, RLIM_NLIMITS> l{};
  for (rlimit& r : l) r = {RLIM_INFINITY, RLIM_INFINITY};
  l[RLIMIT_NOFILE] = {1024, 4096};
  std::string s = FormatLimits(l);
  std::vector<std::string> lines = absl::StrSplit(s, '\n');
  ASSERT_EQ(lines.size(), 18u);  // header, 16 limits, trailing ""
  EXPECT_EQ(lines[0],
            "Limit                     Soft Limit           Hard Limit         "
            "  Units     ");
  EXPECT_EQ(lines[8],
            "Max open files            1024                 4096               "
            "  files     ");
  EXPECT_THAT(lines[1], StartsWith("Max cpu time              unlimited  "));
}

TEST(ProcTextTest, MountsAndMountinfo) {
  MountEntry root{1, 1, 0, 50, "/", "/", MS_RDONLY, "gofer", "none"};
  MountEntry proc{
      3,      1,     0, 51, "/", "/my proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
      "proc", "proc"};
  EXPECT_EQ(FormatMounts({root, proc}),
            "none / gofer ro,relatime 0 0\n"
            "proc /my\\040proc proc rw,nosuid,nodev,noexec,relatime 0 0\n");
  EXPECT_EQ(FormatMountinfo({proc}),
            "3 1 0:51 / /my\\040proc rw,nosuid,nodev,noexec,relatime - proc "
            "proc rw\n");
}

TEST(ProcTextTest, UptimeAndLoadavg) {
  EXPECT_EQ(FormatUptime(12'345'678'901, 0), "12.34 0.00\n");
  EXPECT_EQ(FormatLoadavg(0.5, 1, 0.25, 1, 4, 9), "0.50 1.00 0.25 1/4 9\n");
}

TEST(ProcTextTest, MeminfoKeys) {
  MemInfo m;
  m.total_kb = 2048;
  m.free_kb = 1024;
  m.available_kb = 1500;
  std::string s = FormatMeminfo(m);
  EXPECT_THAT(s, StartsWith("MemTotal:           2048 kB\n"
                            "MemFree:            1024 kB\n"
                            "MemAvailable:       1500 kB\n"));
  for (const char* key : {"Buffers:", "Cached:", "SwapTotal:", "SwapFree:",
                          "Shmem:", "SReclaimable:"}) {
    EXPECT_THAT(s, HasSubstr(std::string("\n") + key)) << key;
  }
}

// ---- the tree, over a kernel with hand-made processes ----

class ProcfsTest : public ::testing::Test {
 protected:
  ProcfsTest() : kernel_(nullptr, Options()) {
    ProcfsMount m = NewProcfs(kernel_);
    mntns_ = vfs::MountNamespace::New(m.fs, m.root,
                                      MS_NOSUID | MS_NODEV | MS_NOEXEC);
    fsctx_ = vfs::FsContext::New(mntns_);

    // Process 7 with threads 7 and 8; process 9 a zombie.
    tg7_ = std::make_shared<ThreadGroup>(7);
    tg7_->ppid = 1;
    tg7_->pgid = 7;
    tg7_->sid = 7;
    tg7_->rlimits = kernel_.DefaultRlimits();
    tg7_->actions[SIGPIPE - 1].handler = kSigIgn;
    tg7_->actions[SIGTERM - 1].handler = 0x401000;
    leader_ = std::make_unique<Task>(kernel_, tg7_, 7);
    thread_ = std::make_unique<Task>(kernel_, tg7_, 8);
    fds_ = std::make_shared<vfs::FdTable>();
    for (Task* t : {leader_.get(), thread_.get()}) {
      t->comm = "worker";
      t->creds().euid = 1000;
      t->creds().egid = 100;
      t->set_fd_table(fds_);
      t->set_fs(fsctx_);
      tg7_->tasks.push_back(t);
    }
    leader_->signal_mask = 1ULL << (SIGINT - 1);
    kernel_.AddThreadGroup(tg7_);
    auto tg9 = std::make_shared<ThreadGroup>(9);
    tg9->ppid = 7;
    tg9->zombie = true;
    kernel_.AddThreadGroup(tg9);
  }
  ~ProcfsTest() override { vfs::SetThreadInterruptor(nullptr); }

  static KernelOptions Options() {
    KernelOptions o;
    o.hostname = "box";
    return o;
  }

  absl::StatusOr<vfs::Path> Resolve(const std::string& path,
                                    int flags = vfs::kFollowFinal) {
    vfs::ResolveContext ctx = vfs::MakeResolveContext(*fsctx_, nullptr);
    return vfs::ResolvePath(ctx, path, flags);
  }

  std::string Read(const std::string& path) {
    absl::StatusOr<vfs::Path> p = Resolve(path);
    if (!p.ok()) return "<" + p.status().ToString() + ">";
    absl::StatusOr<vfs::FileRef> f = p->inode()->Open(*p, O_RDONLY);
    if (!f.ok()) return "<" + f.status().ToString() + ">";
    std::string out;
    char buf[100];  // small reads: the offset must carry between them
    for (;;) {
      vfs::IoSequence io = vfs::IoSequence::Buffer(buf, sizeof buf);
      int64_t n = (*f)->Read(io);
      if (n <= 0) break;
      out.append(buf, n);
    }
    return out;
  }

  std::vector<std::string> List(const std::string& path) {
    std::vector<std::string> names;
    absl::StatusOr<vfs::Path> p = Resolve(path);
    if (!p.ok()) return {"<" + p.status().ToString() + ">"};
    absl::StatusOr<vfs::DirBatch> b = p->inode()->ReadDir(0);
    if (!b.ok()) return {"<" + b.status().ToString() + ">"};
    for (const vfs::DirEntry& e : b->entries) names.push_back(e.name);
    return names;
  }

  std::string Link(const std::string& path) {
    absl::StatusOr<vfs::Path> p = Resolve(path, 0);
    if (!p.ok()) return "<" + p.status().ToString() + ">";
    absl::StatusOr<std::string> t = p->inode()->Readlink();
    return t.ok() ? *t : "<" + t.status().ToString() + ">";
  }

  Kernel kernel_;
  std::shared_ptr<vfs::MountNamespace> mntns_;
  std::shared_ptr<vfs::FsContext> fsctx_;
  std::shared_ptr<ThreadGroup> tg7_;
  std::unique_ptr<Task> leader_, thread_;
  std::shared_ptr<vfs::FdTable> fds_;
};

TEST_F(ProcfsTest, RootListsProcessesAndSystemFiles) {
  std::vector<std::string> names = List("/");
  EXPECT_THAT(names,
              IsSupersetOf({".", "..", "7", "9", "self", "thread-self",
                            "meminfo", "cpuinfo", "stat", "uptime", "loadavg",
                            "version", "filesystems", "mounts", "sys"}));
  // Threads are reachable by tid but not listed.
  EXPECT_THAT(names, Not(Contains("8")));
  EXPECT_TRUE(Resolve("/8").ok());
  EXPECT_EQ(cv::StatusToErrno(Resolve("/42").status()), ENOENT);
  EXPECT_EQ(cv::StatusToErrno(Resolve("/007").status()), ENOENT);
}

TEST_F(ProcfsTest, SelfFollowsTheCallingTask) {
  EXPECT_EQ(cv::StatusToErrno(Resolve("/self").status()), ENOENT);
  vfs::SetThreadInterruptor(thread_.get());
  EXPECT_EQ(Link("/self"), "7");
  EXPECT_EQ(Link("/thread-self"), "7/task/8");
  EXPECT_THAT(Read("/self/status"), HasSubstr("\nPid:\t7\n"));
  // The caller is the one running; the other thread sleeps.
  EXPECT_THAT(Read("/thread-self/status"), HasSubstr("State:\tR (running)"));
  EXPECT_THAT(Read("/7/task/7/status"), HasSubstr("State:\tS (sleeping)"));
}

TEST_F(ProcfsTest, PidStatusAndStat) {
  std::string status = Read("/7/status");
  EXPECT_THAT(status, StartsWith("Name:\tworker\nUmask:\t0022\n"));
  EXPECT_THAT(status, HasSubstr("\nTgid:\t7\nNgid:\t0\nPid:\t7\nPPid:\t1\n"));
  EXPECT_THAT(status, HasSubstr("\nUid:\t0\t1000\t0\t0\n"));
  EXPECT_THAT(status, HasSubstr("\nThreads:\t2\n"));
  EXPECT_THAT(status, HasSubstr("\nSigBlk:\t0000000000000002\n"));
  EXPECT_THAT(status, HasSubstr("\nSigIgn:\t0000000000001000\n"));
  EXPECT_THAT(status, HasSubstr("\nSigCgt:\t0000000000004000\n"));
  EXPECT_THAT(Read("/7/task/8/status"), HasSubstr("\nPid:\t8\n"));
  EXPECT_THAT(Read("/7/stat"), StartsWith("7 (worker) S 1 7 7 0 -1 "));
  EXPECT_EQ(Read("/7/comm"), "worker\n");
  EXPECT_EQ(Read("/7/cgroup"), "0::/\n");
  EXPECT_EQ(Read("/7/oom_score_adj"), "0\n");
  EXPECT_EQ(Read("/7/cmdline"), "");  // no address space in this test
  EXPECT_THAT(Read("/7/limits"), HasSubstr("Max open files"));
  EXPECT_EQ(Link("/7/cwd"), "/");
  EXPECT_EQ(Link("/7/root"), "/");
  EXPECT_THAT(List("/7/task"), IsSupersetOf({"7", "8"}));
  // Owned by the process's effective ids, as ps's USER column expects.
  absl::StatusOr<vfs::Path> dir = Resolve("/7");
  ASSERT_TRUE(dir.ok());
  absl::StatusOr<struct stat> st = dir->inode()->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_uid, 1000u);
  EXPECT_EQ(st->st_gid, 100u);
  EXPECT_TRUE(S_ISDIR(st->st_mode));
}

TEST_F(ProcfsTest, ZombieShowsStateZ) {
  std::string status = Read("/9/status");
  EXPECT_THAT(status, HasSubstr("State:\tZ (zombie)\n"));
  EXPECT_THAT(status, HasSubstr("\nPPid:\t7\n"));
  EXPECT_THAT(Read("/9/stat"), StartsWith("9 () Z 7 "));
  EXPECT_EQ(cv::StatusToErrno(Resolve("/9/cwd").status()), ENOENT);
}

TEST_F(ProcfsTest, FdDirectoryListsOpenFiles) {
  auto [r, w] = fs::NewPipe(0);
  ASSERT_EQ(fds_->Install(r, false, 1024), 0);
  ASSERT_EQ(fds_->Install(w, true, 1024, 5), 5);
  absl::StatusOr<vfs::Path> up = Resolve("/uptime");
  ASSERT_TRUE(up.ok());
  absl::StatusOr<vfs::FileRef> uf = up->inode()->Open(*up, O_RDONLY);
  ASSERT_TRUE(uf.ok());
  ASSERT_EQ(fds_->Install(*uf, false, 1024), 1);

  std::vector<std::string> names = List("/7/fd");
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "0", "1", "5"}));
  absl::StatusOr<struct stat> pst = r->Stat();
  ASSERT_TRUE(pst.ok());
  EXPECT_EQ(Link("/7/fd/0"), "pipe:[" + std::to_string(pst->st_ino) + "]");
  EXPECT_EQ(Link("/7/fd/1"), "/uptime");
  EXPECT_EQ(cv::StatusToErrno(Resolve("/7/fd/3", 0).status()), ENOENT);
  EXPECT_THAT(Read("/7/fdinfo/5"), StartsWith("pos:\t0\nflags:\t02000001\n"));
  EXPECT_THAT(Read("/7/fdinfo/1"), HasSubstr("\nmnt_id:\t1\n"));
}

TEST_F(ProcfsTest, MountsOfTheReader) {
  EXPECT_EQ(Read("/7/mounts"),
            "proc / proc rw,nosuid,nodev,noexec,relatime 0 0\n");
  EXPECT_EQ(Link("/mounts"), "self/mounts");
  EXPECT_THAT(Read("/7/mountinfo"), StartsWith("1 1 0:"));
}

TEST_F(ProcfsTest, SystemFiles) {
  EXPECT_EQ(Read("/sys/kernel/hostname"), "box\n");
  EXPECT_EQ(Read("/sys/kernel/domainname"), "(none)\n");
  EXPECT_EQ(Read("/sys/kernel/osrelease"), "6.1.0\n");
  EXPECT_EQ(Read("/sys/kernel/pid_max"), "4194304\n");
  EXPECT_EQ(Read("/sys/fs/nr_open"), "1048576\n");
  EXPECT_EQ(Read("/sys/vm/overcommit_memory"), "0\n");
  std::string boot_id = Read("/sys/kernel/random/boot_id");
  EXPECT_EQ(boot_id.size(), 37u);
  EXPECT_EQ(boot_id, Read("/sys/kernel/random/boot_id"));
  EXPECT_NE(Read("/sys/kernel/random/uuid"), Read("/sys/kernel/random/uuid"));
  EXPECT_THAT(Read("/meminfo"), StartsWith("MemTotal:"));
  EXPECT_THAT(Read("/stat"), StartsWith("cpu "));
  EXPECT_THAT(Read("/stat"), HasSubstr("\nbtime "));
  EXPECT_THAT(Read("/loadavg"), HasSubstr(" 1/2 9\n"));  // 2 live threads
  EXPECT_THAT(Read("/version"), StartsWith("Linux version 6.1.0 "));
  EXPECT_THAT(Read("/filesystems"), HasSubstr("nodev\tproc\n"));
  EXPECT_THAT(Read("/cpuinfo"), HasSubstr("processor"));
  std::string up = Read("/uptime");
  EXPECT_THAT(up, testing::MatchesRegex("[0-9]+\\.[0-9][0-9] 0\\.00\n"));
}

TEST_F(ProcfsTest, FilesAreReadOnlyExceptOomScoreAdj) {
  absl::StatusOr<vfs::Path> p = Resolve("/7/status");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(cv::StatusToErrno(p->inode()->Open(*p, O_WRONLY).status()), EACCES);
  absl::StatusOr<vfs::Path> adj = Resolve("/7/oom_score_adj");
  ASSERT_TRUE(adj.ok());
  absl::StatusOr<vfs::FileRef> f = adj->inode()->Open(*adj, O_WRONLY);
  ASSERT_TRUE(f.ok());
  vfs::IoSequence io = vfs::IoSequence::Buffer("100\n", 4);
  EXPECT_EQ((*f)->Write(io), 4);
}

TEST_F(ProcfsTest, MountProcfsNeedsAProcDirectory) {
  // The procfs root has no "proc" entry.
  absl::Status s = MountProcfs(kernel_, *fsctx_);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

}  // namespace
}  // namespace sentry::procfs
