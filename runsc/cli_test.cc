// runsc's command line end to end, through runsc_fake: the real CLI, state
// handling, process spawning and signal forwarding, with stand-ins for the
// sentry (runs the command on the host as pid 1 of the sandbox's pid
// namespace) and the gofer (answers a ping). See testing/fake_main.cc.
#include "runsc/cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runsc/process.h"
#include "runsc/util.h"

extern char** environ;

namespace runsc {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Slurp(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFile(path, 1 << 20);
  return s.ok() ? *s : "";
}

std::vector<std::string> DirEntries(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  return out;
}

// Host pids whose command line contains `needle`.
std::vector<pid_t> ProcessesMatching(const std::string& needle) {
  std::vector<pid_t> out;
  for (const std::string& e : DirEntries("/proc")) {
    pid_t pid = atoi(e.c_str());
    if (pid <= 0 || pid == getpid()) continue;
    std::string cmd = Slurp(absl::StrCat("/proc/", e, "/cmdline"));
    for (char& c : cmd) {
      if (c == '\0') c = ' ';
    }
    if (cmd.find(needle) != std::string::npos) out.push_back(pid);
  }
  return out;
}

bool WaitFor(const std::function<bool()>& cond, int ms = 10000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

struct Result {
  int status = -1;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runsc_cli_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    root_ = tmp_ + "/state";
    bundle_ = tmp_ + "/bundle";
    dump_ = tmp_ + "/dump";
    for (const std::string& d : {bundle_, bundle_ + "/rootfs", dump_}) {
      ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
    }
    // Unique per test, so process scans cannot see another test's.
    id_ = absl::StrCat("cli-test-", getpid(), "-", counter_++);
  }
  void TearDown() override {
    ASSERT_EQ(system(absl::StrCat("rm -rf ", tmp_).c_str()), 0);
  }

  json Config(const std::vector<std::string>& args) {
    return {{"ociVersion", "1.0.2"},
            {"process",
             {{"args", args},
              {"env", {"PATH=/usr/bin:/bin", "FROM_SPEC=1"}},
              {"cwd", "/tmp"},
              {"user", {{"uid", 0}, {"gid", 0}}}}},
            {"root", {{"path", "rootfs"}, {"readonly", true}}},
            {"hostname", "spec-host"},
            {"annotations", {{"k", "v"}}}};
  }
  void WriteConfig(const json& j) {
    std::ofstream(bundle_ + "/config.json") << j.dump();
  }

  SpawnOptions Options(const std::vector<std::string>& args,
                       const std::vector<std::string>& env_extra) {
    SpawnOptions o;
    o.name = "runsc_fake";
    o.path = RUNSC_FAKE_PATH;
    o.argv = {"runsc"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    for (char** e = environ; *e; ++e) o.env.emplace_back(*e);
    o.env.push_back("CVISOR_FAKE_DUMP_DIR=" + dump_);
    o.env.insert(o.env.end(), env_extra.begin(), env_extra.end());
    out_fd_.reset(open((tmp_ + "/out").c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    err_fd_.reset(open((tmp_ + "/err").c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    devnull_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    o.fds = {{devnull_.get(), 0}, {out_fd_.get(), 1}, {err_fd_.get(), 2}};
    return o;
  }

  Child Start(const std::vector<std::string>& args,
              const std::vector<std::string>& env_extra = {}) {
    absl::StatusOr<Child> c = Child::Spawn(Options(args, env_extra));
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  Result Finish(Child& c) {
    Result r;
    pollfd p{c.pidfd(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 30000), 1) << "runsc did not exit";
    absl::StatusOr<ExitStatus> s = c.Wait();
    EXPECT_TRUE(s.ok());
    r.status = s.ok() ? s->ShellStatus() : -1;
    r.out = Slurp(tmp_ + "/out");
    r.err = Slurp(tmp_ + "/err");
    return r;
  }

  Result Run(const std::vector<std::string>& args,
             const std::vector<std::string>& env_extra = {}) {
    Child c = Start(args, env_extra);
    return Finish(c);
  }

  // `runsc --root <root> run --bundle <bundle> <id>`, plus `extra` flags.
  Result RunContainer(const std::vector<std::string>& global = {},
                      const std::vector<std::string>& env_extra = {}) {
    std::vector<std::string> args = {"--root", root_};
    args.insert(args.end(), global.begin(), global.end());
    args.insert(args.end(), {"run", "--bundle", bundle_, id_});
    return Run(args, env_extra);
  }

  json Dump(const char* name) { return json::parse(Slurp(dump_ + "/" + name)); }

  std::string tmp_, root_, bundle_, dump_, id_;
  cv::UniqueFd out_fd_, err_fd_, devnull_;
  static inline int counter_ = 0;
};

TEST_F(CliTest, RunReturnsTheExitCode) {
  WriteConfig(Config({"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}));
  Result r = RunContainer();
  EXPECT_EQ(r.status, 7);
  EXPECT_EQ(r.out, "out\n");  // the caller's stdio are the container's
  EXPECT_EQ(r.err, "err\n");
  EXPECT_THAT(DirEntries(root_), ElementsAre());  // state removed
}

TEST_F(CliTest, RunReturns128PlusSignal) {
  WriteConfig(Config({"/bin/sh", "-c", "kill -TERM $$"}));
  EXPECT_EQ(RunContainer().status, 128 + SIGTERM);
  WriteConfig(Config({"/bin/sh", "-c", "kill -KILL $$"}));
  EXPECT_EQ(RunContainer().status, 128 + SIGKILL);
}

TEST_F(CliTest, BootGetsTheSpec) {
  json c = Config({"/bin/true", "arg one"});
  c["process"]["user"] = {{"uid", 5}, {"gid", 6}, {"additionalGids", {7}}};
  c["process"]["rlimits"] = {
      {{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 20}}};
  WriteConfig(c);
  Result r = RunContainer({"--strace"});
  EXPECT_EQ(r.status, 0) << r.err;
  json b = Dump("boot.json");
  EXPECT_EQ(b["argv"], json({"/bin/true", "arg one"}));
  EXPECT_EQ(b["env"], json({"PATH=/usr/bin:/bin", "FROM_SPEC=1"}));
  EXPECT_EQ(b["cwd"], "/tmp");
  EXPECT_EQ(b["uid"], 5);
  EXPECT_EQ(b["gid"], 6);
  EXPECT_EQ(b["additional_gids"], json({7}));
  EXPECT_EQ(b["hostname"], "spec-host");
  EXPECT_EQ(b["rlimits"], json({{RLIMIT_NOFILE, 10, 20}}));
  EXPECT_EQ(b["platform"], "ptrace");
  EXPECT_EQ(b["strace"], true);
  EXPECT_EQ(b["root_readonly"], true);
  // The gofer serves the bundle's rootfs, read-only as the spec says, over
  // the socket the boot got.
  EXPECT_EQ(b["gofer_reply"], absl::StrCat("pong ", bundle_, "/rootfs ro"));
  // The sandbox is pid 1 of new pid, net, mount, uts and ipc namespaces, in
  // a session of its own; it holds stdio plus the gofer socket and nothing
  // of runsc's (the config fd is closed, error and log fds are close-on-exec
  // for the application but open here).
  EXPECT_EQ(b["pid"], 1);
  for (const char* ns : {"net", "mnt", "uts", "ipc", "pid"}) {
    char buf[128] = {};
    ASSERT_GT(readlink(absl::StrCat("/proc/self/ns/", ns).c_str(), buf,
                       sizeof buf - 1),
              0);
    EXPECT_NE(b[absl::StrCat("ns_", ns)], std::string(buf)) << ns;
  }
  EXPECT_EQ(b["fds"], json({0, 1, 2, 4, 5, 6}));  // 6: the --strace log fd
  json g = Dump("gofer.json");
  EXPECT_EQ(g["root"], bundle_ + "/rootfs");
  EXPECT_EQ(g["readonly"], true);
  EXPECT_EQ(g["sid"], g["pid"]);
  char buf[128] = {};
  ASSERT_GT(readlink("/proc/self/ns/mnt", buf, sizeof buf - 1), 0);
  EXPECT_NE(g["ns_mnt"], std::string(buf));
}

// The protocol between runsc and the processes it re-executes.
TEST_F(CliTest, ChildCommandLines) {
  WriteConfig(Config({"/bin/true"}));
  std::string dir = tmp_ + "/logs";
  ASSERT_EQ(
      RunContainer({"--debug", "--debug-log", dir, "--log-format=json"}).status,
      0);
  EXPECT_EQ(
      Dump("boot.json")["cmdline"],
      json({"runsc", "--debug", "--log-format=json", "boot", "--config-fd=3",
            "--gofer-fd=4", "--error-fd=5", "--log-fd=6", "--", id_}));
  EXPECT_EQ(
      Dump("gofer.json")["cmdline"],
      json({"runsc", "--debug", "--log-format=json", "gofer", "--sock-fd=3",
            "--log-fd=4", absl::StrCat("--rootfs=", bundle_, "/rootfs"),
            "--readonly", "--", id_}));
  // Without logging flags the children get no log fd.
  ASSERT_EQ(RunContainer().status, 0);
  EXPECT_EQ(Dump("boot.json")["cmdline"],
            json({"runsc", "boot", "--config-fd=3", "--gofer-fd=4",
                  "--error-fd=5", "--", id_}));
  // 6 is now the boot's own /dev/null log (close-on-exec).
  EXPECT_EQ(Dump("boot.json")["fds"], json({0, 1, 2, 4, 5, 6}));
}

TEST_F(CliTest, HostnameDefaultsToTheHosts) {
  json c = Config({"/bin/true"});
  c.erase("hostname");
  WriteConfig(c);
  ASSERT_EQ(RunContainer().status, 0);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(Dump("boot.json")["hostname"], host);
}

TEST_F(CliTest, StateAndPidFileWhileRunning) {
  // The fake runs the command on the host, so it can read runsc's state.
  std::string state = absl::StrCat(root_, "/", id_, "/state.json");
  WriteConfig(Config({"/bin/sh", "-c", "cat " + state}));
  std::string pid_file = tmp_ + "/pid";
  Result r = Run({"--root", root_, "run", "--bundle", bundle_, "--pid-file",
                  pid_file, id_});
  ASSERT_EQ(r.status, 0) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["ociVersion"], "1.0.2");
  EXPECT_EQ(s["id"], id_);
  EXPECT_EQ(s["status"], "running");
  EXPECT_EQ(s["bundle"], bundle_);
  EXPECT_EQ(s["annotations"], json({{"k", "v"}}));
  EXPECT_GT(s["pid"].get<int>(), 1);
  EXPECT_EQ(Slurp(pid_file), absl::StrCat(s["pid"].get<int>()));
  EXPECT_FALSE(Exists(absl::StrCat(root_, "/", id_)));
}

TEST_F(CliTest, RelativeBundleAndDefaultBundle) {
  WriteConfig(Config({"/bin/true"}));
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(chdir(bundle_.c_str()), 0);
  Result a = Run({"--root", root_, "run", id_});
  Result b = Run({"--root", root_, "run", "-b", "../bundle", id_});
  ASSERT_EQ(chdir(cwd), 0);
  EXPECT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(b.status, 0) << b.err;
}

TEST_F(CliTest, MissingBinary) {
  WriteConfig(Config({"/nonexistent/bin"}));
  Result r = RunContainer();
  // runc: exit status 1 and one error line.
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: unable to start container process: /nonexistent/bin: no "
            "such file or directory\n");
  EXPECT_THAT(DirEntries(root_), ElementsAre());
}

TEST_F(CliTest, MissingBundleLeavesNothing) {
  Result r = Run({"--root", root_, "run", "--bundle", "/nonexistent/b", id_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: open /nonexistent/b/config.json: no such file or "
            "directory\n");
  EXPECT_FALSE(Exists(absl::StrCat(root_, "/", id_)));
  EXPECT_THAT(DirEntries(root_), ElementsAre());
}

TEST_F(CliTest, BadConfigLeavesNothing) {
  json c = Config({"/bin/true"});
  c["process"]["terminal"] = true;
  WriteConfig(c);
  Result r = RunContainer();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: config.json: process.terminal: terminals are not supported "
            "yet\n");
  EXPECT_THAT(DirEntries(root_), ElementsAre());

  std::ofstream(bundle_ + "/config.json") << "{\n\"ociVersion\": \"1\",,\n}";
  r = RunContainer();
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, StartsWith("runsc: config.json: line 2: syntax error"));
}

TEST_F(CliTest, ExistingIdIsRefused) {
  WriteConfig(Config({"/bin/true"}));
  ASSERT_EQ(mkdir(root_.c_str(), 0700), 0);
  ASSERT_EQ(mkdir(absl::StrCat(root_, "/", id_).c_str(), 0700), 0);
  Result r = RunContainer();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            absl::StrCat("runsc: container \"", id_, "\" already exists\n"));
  EXPECT_TRUE(Exists(absl::StrCat(root_, "/", id_)));  // not ours to remove
  EXPECT_FALSE(Exists(dump_ + "/boot.json"));          // nothing started
}

TEST_F(CliTest, InvalidId) {
  WriteConfig(Config({"/bin/true"}));
  Result r = Run({"--root", root_, "run", "--bundle", bundle_, "a/b"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: invalid container id \"a/b\": must be 1 to 255 characters "
            "from [A-Za-z0-9_.-], not \".\" or \"..\"\n");
  EXPECT_FALSE(Exists(root_));
}

TEST_F(CliTest, SignalsAreForwarded) {
  for (int sig :
       {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGQUIT}) {
    SCOPED_TRACE(sig);
    std::string ready = tmp_ + "/ready";
    unlink(ready.c_str());
    std::string name = sigabbrev_np(sig);
    WriteConfig(Config({"/bin/sh", "-c",
                        absl::StrCat("trap 'exit 42' ", name, "; touch ", ready,
                                     "; while :; do sleep 0.02; done")}));
    Child c = Start({"--root", root_, "run", "--bundle", bundle_, id_});
    ASSERT_TRUE(WaitFor([&] { return Exists(ready); }));
    ASSERT_TRUE(c.Signal(sig).ok());
    Result r = Finish(c);
    EXPECT_EQ(r.status, 42) << r.err;
  }
}

TEST_F(CliTest, NoProcessOutlivesTheContainer) {
  std::string marker = absl::StrCat("1000.", getpid());
  WriteConfig(Config({"/bin/sh", "-c", "sleep " + marker + " & exit 3"}));
  EXPECT_EQ(RunContainer().status, 3);
  // The background sleep was in the sandbox's pid namespace: it died with
  // the sandbox, before runsc could reap it.
  EXPECT_THAT(ProcessesMatching("sleep " + marker), ElementsAre());
  EXPECT_THAT(ProcessesMatching(id_), ElementsAre());  // no gofer either
}

TEST_F(CliTest, HangingGoferIsKilled) {
  WriteConfig(Config({"/bin/sh", "-c", "exit 4"}));
  auto start = std::chrono::steady_clock::now();
  Result r = RunContainer({}, {"CVISOR_FAKE_GOFER=hang"});
  EXPECT_EQ(r.status, 4);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(ProcessesMatching(id_), ElementsAre());
}

TEST_F(CliTest, DyingGoferStopsTheSandbox) {
  WriteConfig(Config({"/bin/sh", "-c", "sleep 20"}));
  auto start = std::chrono::steady_clock::now();
  Result r = RunContainer({}, {"CVISOR_FAKE_GOFER=fail"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("runsc: gofer: fake gofer failure\n"));
  EXPECT_THAT(r.err, HasSubstr("runsc: gofer exited unexpectedly (exit status "
                               "1); stopping the sandbox\n"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT(DirEntries(root_), ElementsAre());
  EXPECT_THAT(ProcessesMatching(id_), ElementsAre());
}

TEST_F(CliTest, KilledRunscTakesTheSandboxAlong) {
  std::string marker = absl::StrCat("1001.", getpid());
  std::string ready = tmp_ + "/ready";
  WriteConfig(Config(
      {"/bin/sh", "-c", absl::StrCat("touch ", ready, "; sleep ", marker)}));
  Child c = Start({"--root", root_, "run", "--bundle", bundle_, id_});
  ASSERT_TRUE(WaitFor([&] { return Exists(ready); }));
  // runsc itself, boot and gofer carry the id on their command lines.
  std::vector<pid_t> procs = ProcessesMatching(id_);
  EXPECT_EQ(procs.size(), 3u);
  EXPECT_THAT(procs, ::testing::Contains(c.pid()));
  ASSERT_TRUE(c.Signal(SIGKILL).ok());
  Finish(c);
  EXPECT_TRUE(WaitFor([&] {
    return ProcessesMatching(id_).empty() &&
           ProcessesMatching("sleep " + marker).empty();
  }));
}

TEST_F(CliTest, Do) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  Result r = Run({"--root", root_, "do", "/bin/sh", "-c", "echo hi; exit 5"},
                 {"DO_MARKER=yes"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  json b = Dump("boot.json");
  EXPECT_EQ(b["argv"], json({"/bin/sh", "-c", "echo hi; exit 5"}));
  EXPECT_EQ(b["cwd"], std::string(cwd));
  EXPECT_THAT(b["env"].get<std::vector<std::string>>(),
              ::testing::Contains("DO_MARKER=yes"));
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(b["hostname"], host);
  EXPECT_EQ(b["uid"], 0);
  EXPECT_EQ(b["gid"], 0);
  // The default overlay: the gofer serves the host's root read-only, and
  // the container writes into memory.
  EXPECT_EQ(b["root_readonly"], false);
  EXPECT_EQ(b["overlay"], true);
  EXPECT_EQ(b["gofer_reply"], "pong / ro");
  EXPECT_EQ(b["pid"], 1);
  // It leaves nothing behind.
  std::string id = b["cmdline"].back();
  EXPECT_THAT(id, StartsWith("runsc-do-"));
  EXPECT_THAT(DirEntries(root_), ElementsAre());
  EXPECT_THAT(ProcessesMatching(id), ElementsAre());
}

TEST_F(CliTest, DoCommandFlagsAreTheCommands) {
  Result r = Run({"--root", root_, "do", "--cwd", "/", "/bin/sh", "-c",
                  "exit 0", "--root", "x", "--debug"});
  EXPECT_EQ(r.status, 0) << r.err;
  json b = Dump("boot.json");
  EXPECT_EQ(b["argv"],
            json({"/bin/sh", "-c", "exit 0", "--root", "x", "--debug"}));
  EXPECT_EQ(b["cwd"], "/");
  r = Run({"--root", root_, "--overlay=none", "do", "--root-readonly=false",
           "--", "/bin/true", "-x"});
  EXPECT_EQ(r.status, 0) << r.err;
  b = Dump("boot.json");
  EXPECT_EQ(b["argv"], json({"/bin/true", "-x"}));
  EXPECT_EQ(b["root_readonly"], false);
  EXPECT_EQ(b["overlay"], false);
  EXPECT_EQ(b["gofer_reply"], "pong / rw");
  // Without the overlay, the host's root is read-only by default.
  r = Run({"--root", root_, "--overlay=none", "do", "/bin/true"});
  EXPECT_EQ(r.status, 0) << r.err;
  b = Dump("boot.json");
  EXPECT_EQ(b["root_readonly"], true);
  EXPECT_EQ(b["gofer_reply"], "pong / ro");
  r = Run({"--root", root_, "--overlay=disk", "do", "/bin/true"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("invalid --overlay \"disk\""));
}

TEST_F(CliTest, DoWithoutCommand) {
  Result r = Run({"--root", root_, "do"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(
      r.err,
      "runsc: do: a command is required: runsc do [flags] CMD [ARG...]\n");
}

TEST_F(CliTest, DoMissingBinary) {
  Result r = Run({"--root", root_, "do", "no-such-command-xyz"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: unable to start container process: no-such-command-xyz: "
            "no such file or directory\n");
  EXPECT_THAT(DirEntries(root_), ElementsAre());
}

TEST_F(CliTest, GlobalFlagErrors) {
  WriteConfig(Config({"/bin/true"}));
  auto run = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"--root", root_};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"run", "--bundle", bundle_, id_});
    return Run(args);
  };
  Result r = run({"--platform", "kvm"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: invalid --platform \"kvm\": supported platforms: ptrace\n");
  r = run({"--network=sandbox"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: --network=sandbox is not supported yet: only "
            "--network=none is implemented\n");
  r = run({"--network", "host"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("--network=host is not supported yet"));
  r = run({"--network", "bogus"});
  EXPECT_EQ(
      r.err,
      "runsc: invalid --network \"bogus\": expected none, sandbox or host\n");
  r = run({"--log-format", "xml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: invalid --log-format \"xml\": expected text or json\n");
  EXPECT_FALSE(Exists(dump_ + "/boot.json"));
  EXPECT_THAT(DirEntries(root_), ElementsAre());

  r = run({"--network", "none", "--platform=ptrace", "--systemd-cgroup",
           "--log-format", "text"});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(CliTest, GoStyleSingleDashFlags) {
  WriteConfig(Config({"/bin/true"}));
  Result r = Run({"-root", root_, "-debug", "-network=none", "run", "--bundle",
                  bundle_, id_});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(CliTest, CommandErrors) {
  Result r = Run({"bogus"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "runsc: unknown command \"bogus\" (see runsc --help)\n");
  r = Run({"create", "x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "runsc: command \"create\" is not implemented yet\n");
  r = Run({});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: a command is required: run or do (see runsc --help)\n");
  r = Run({"run"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, StartsWith("runsc: id is required"));
  r = Run({"--root", root_, "run", "--detach", "x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "runsc: run --detach is not supported yet\n");
  r = Run({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("run"));
  EXPECT_THAT(r.out, HasSubstr("--platform"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("boot")));
  r = Run({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, StartsWith("runsc version"));
}

TEST_F(CliTest, JsonLogGetsErrors) {
  std::string log = tmp_ + "/log.json";
  Result r = Run({"--root", root_, "--log", log, "--log-format", "json", "run",
                  "--bundle", "/nonexistent/b", id_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "runsc: open /nonexistent/b/config.json: no such file or "
            "directory\n");
  std::vector<std::string> lines =
      absl::StrSplit(Slurp(log), '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  json last = json::parse(lines.back());
  EXPECT_EQ(last["level"], "error");
  EXPECT_EQ(last["msg"],
            "open /nonexistent/b/config.json: no such file or directory");
  EXPECT_TRUE(last.contains("time"));
}

TEST_F(CliTest, DebugLogDirectory) {
  WriteConfig(Config({"/bin/true"}));
  std::string dir = tmp_ + "/logs";
  std::string log = tmp_ + "/log.json";
  Result r = RunContainer(
      {"--debug", "--debug-log", dir, "--log", log, "--log-format=json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");  // logs went to files, not to the container's stderr
  for (const char* f : {"runsc.run.log", "runsc.boot.log", "runsc.gofer.log"}) {
    std::string text = Slurp(absl::StrCat(dir, "/", f));
    EXPECT_FALSE(text.empty()) << f;
    for (absl::string_view line :
         absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      EXPECT_TRUE(json::accept(line)) << f << ": " << line;
    }
  }
  EXPECT_THAT(Slurp(dir + "/runsc.boot.log"), HasSubstr("booting container"));
  EXPECT_THAT(Slurp(dir + "/runsc.run.log"), HasSubstr("\"level\":\"debug\""));
}

#ifdef CVISOR_HAVE_GOFER
// The real gofer (gofer::RunGofer) started the way runsc starts it: it
// confines itself and serves the bundle's rootfs, or the host's / for `do`.
TEST_F(CliTest, RealGoferServesTheRootfs) {
  std::ofstream(bundle_ + "/rootfs/hello") << "hi";
  struct stat hello;
  ASSERT_EQ(stat((bundle_ + "/rootfs/hello").c_str(), &hello), 0);
  struct stat rootfs;
  ASSERT_EQ(stat((bundle_ + "/rootfs").c_str(), &rootfs), 0);
  WriteConfig(Config({"/bin/true"}));
  Result r =
      RunContainer({}, {"CVISOR_FAKE_GOFER=real", "CVISOR_FAKE_WALK=hello"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Dump("boot.json")["gofer_reply"],
            absl::StrCat("root ino=", rootfs.st_ino,
                         "; walk hello: ino=", hello.st_ino));
  EXPECT_THAT(ProcessesMatching(id_), ElementsAre());

  r = RunContainer({}, {"CVISOR_FAKE_GOFER=real", "CVISOR_FAKE_WALK=missing"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Dump("boot.json")["gofer_reply"],
            absl::StrCat("root ino=", rootfs.st_ino, "; walk missing: errno ",
                         ENOENT));
}

TEST_F(CliTest, RealGoferServesTheHostRootForDo) {
  struct stat root, etc;
  ASSERT_EQ(stat("/", &root), 0);
  ASSERT_EQ(stat("/etc", &etc), 0);
  Result r = Run({"--root", root_, "do", "/bin/true"},
                 {"CVISOR_FAKE_GOFER=real", "CVISOR_FAKE_WALK=etc"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(
      Dump("boot.json")["gofer_reply"],
      absl::StrCat("root ino=", root.st_ino, "; walk etc: ino=", etc.st_ino));
  EXPECT_THAT(DirEntries(root_), ElementsAre());
}
#endif  // CVISOR_HAVE_GOFER

TEST(CommandLineTest, NormalizeGlobalFlags) {
  EXPECT_THAT(NormalizeGlobalFlags({"runsc", "-root", "/r", "-debug",
                                    "-platform=ptrace", "-x", "do", "-root"}),
              ElementsAre("runsc", "--root", "/r", "--debug",
                          "--platform=ptrace", "-x", "do", "-root"));
  // A value that looks like a flag is left alone.
  EXPECT_THAT(NormalizeGlobalFlags({"runsc", "--log", "-debug", "run"}),
              ElementsAre("runsc", "--log", "-debug", "run"));
}

TEST(CommandLineTest, SplitDo) {
  SplitArgs s = SplitCommandLine(
      {"runsc", "--root", "do", "do", "--cwd", "/x", "ls", "-la", "--", "y"});
  EXPECT_EQ(s.subcommand, "do");
  EXPECT_THAT(s.head,
              ElementsAre("runsc", "--root", "do", "do", "--cwd", "/x"));
  EXPECT_THAT(s.command, ElementsAre("ls", "-la", "--", "y"));

  s = SplitCommandLine({"runsc", "do", "--root-readonly=false", "--", "-x"});
  EXPECT_THAT(s.head, ElementsAre("runsc", "do", "--root-readonly=false"));
  EXPECT_THAT(s.command, ElementsAre("-x"));

  s = SplitCommandLine({"runsc", "--debug", "run", "--bundle", "b", "id"});
  EXPECT_EQ(s.subcommand, "run");
  EXPECT_EQ(s.head.size(), 6u);
  EXPECT_TRUE(s.command.empty());

  s = SplitCommandLine({"runsc", "--debug"});
  EXPECT_EQ(s.subcommand, "");
}

}  // namespace
}  // namespace runsc
