// runsc with stand-ins for the sentry and the gofer, for runsc's own tests.
// The fake sentry runs the container's command on the host (it is pid 1 of
// the sandbox's pid namespace, as the real one), passes on the signals runsc
// forwards, and reports what it was given; the fake gofer answers a ping.
// Environment knobs (inherited from the test through runsc):
//   CVISOR_FAKE_DUMP_DIR   write boot.json / gofer.json there
//   CVISOR_FAKE_GOFER      "hang": never exit; "fail": exit 1 after the ping;
//                          "real": gofer::RunGofer, and the fake sentry
//                          attaches and walks CVISOR_FAKE_WALK through
//                          gofer::Client (when built with the gofer)
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "runsc/cli.h"
#include "runsc/sandbox.h"
#ifdef CVISOR_HAVE_GOFER
#include "gofer/client.h"
#endif

namespace {

using nlohmann::json;

volatile pid_t g_child = 0;

void Forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

std::string NsId(const char* ns) {
  char buf[128] = {};
  ssize_t n =
      readlink(absl::StrCat("/proc/self/ns/", ns).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : "";
}

// This process's argv: how runsc started it.
std::vector<std::string> Cmdline() {
  std::ifstream in("/proc/self/cmdline");
  std::string all((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  std::vector<std::string> out = absl::StrSplit(all, '\0');
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

void Dump(const char* name, const json& j) {
  const char* dir = getenv("CVISOR_FAKE_DUMP_DIR");
  if (dir == nullptr) return;
  std::ofstream(absl::StrCat(dir, "/", name)) << j.dump(2);
}

std::string FindExecutable(const std::string& name,
                           const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) {
    return access(name.c_str(), X_OK) == 0 ? name : "";
  }
  std::string path = "/usr/bin:/bin";
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string full = absl::StrCat(dir, "/", name);
    if (access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

bool RealGofer() {
  const char* mode = getenv("CVISOR_FAKE_GOFER");
  return mode != nullptr && std::string(mode) == "real";
}

#ifdef CVISOR_HAVE_GOFER
// "root ino=N; walk NAME: ino=M" or "...: errno E".
std::string TalkToRealGofer(int fd) {
  gofer::Client client{cv::UniqueFd(dup(fd))};
  absl::StatusOr<gofer::InodeInfo> root = client.Attach();
  if (!root.ok()) return "";
  std::string out = absl::StrCat("root ino=", root->stat.st_ino);
  if (const char* name = getenv("CVISOR_FAKE_WALK")) {
    absl::StatusOr<gofer::WalkResult> w = client.Walk(root->fid, {name});
    if (!w.ok()) {
      absl::StrAppend(&out, "; walk ", name, ": failed");
    } else if (w->inodes.empty()) {
      absl::StrAppend(&out, "; walk ", name, ": errno ", w->stop_errno);
    } else {
      absl::StrAppend(&out, "; walk ", name,
                      ": ino=", w->inodes[0].stat.st_ino);
    }
  }
  return out;
}
#endif

absl::StatusOr<int> FakeBoot(const sentry::BootConfig& c) {
  // Reach the gofer first, as the real sentry mounts the root through it.
  std::string gofer_reply;
  if (RealGofer()) {
#ifdef CVISOR_HAVE_GOFER
    gofer_reply = TalkToRealGofer(c.gofer_fd);
#endif
  } else if (send(c.gofer_fd, "ping", 4, 0) == 4) {
    char buf[4096];
    ssize_t n = recv(c.gofer_fd, buf, sizeof buf, 0);
    if (n > 0) gofer_reply.assign(buf, n);
  }
  if (gofer_reply.empty()) return absl::UnavailableError("gofer not reachable");

  json rl = json::array();
  for (const auto& r : c.rlimits) rl.push_back({r.resource, r.soft, r.hard});
  Dump("boot.json", {{"argv", c.argv},
                     {"env", c.envp},
                     {"cwd", c.cwd},
                     {"uid", c.uid},
                     {"gid", c.gid},
                     {"additional_gids", c.additional_gids},
                     {"hostname", c.hostname},
                     {"rlimits", rl},
                     {"platform", c.platform},
                     {"strace", c.strace},
                     {"root_readonly", c.root_readonly},
                     {"overlay", c.overlay},
                     {"gofer_reply", gofer_reply},
                     {"pid", getpid()},
                     {"sid", getsid(0)},
                     {"cmdline", Cmdline()},
                     {"ns_net", NsId("net")},
                     {"ns_mnt", NsId("mnt")},
                     {"ns_uts", NsId("uts")},
                     {"ns_ipc", NsId("ipc")},
                     {"ns_pid", NsId("pid")},
                     {"fds", [] {
                        json fds = json::array();
                        for (int fd = 0; fd < 64; ++fd) {
                          if (fcntl(fd, F_GETFD) >= 0) fds.push_back(fd);
                        }
                        return fds;
                      }()}});

  std::string exe = FindExecutable(c.argv[0], c.envp);
  if (exe.empty()) {
    return absl::NotFoundError(
        absl::StrCat(c.argv[0], ": no such file or directory"));
  }
  // pid 1 ignores signals it has no handler for (the kernel drops them), so
  // the real sentry must catch what runsc forwards, as this does.
  struct sigaction sa {};
  sa.sa_handler = Forward;
  sa.sa_flags = SA_RESTART;
  for (int sig : runsc::kForwardedSignals) sigaction(sig, &sa, nullptr);

  std::vector<char*> argv, envp;
  for (const auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : c.envp) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : runsc::kForwardedSignals) sigaction(sig, &dfl, nullptr);
    if (chdir(c.cwd.c_str()) != 0) _exit(126);
    execve(exe.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  g_child = pid;
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

absl::Status FakeGofer(const gofer::GoferOptions& o, cv::UniqueFd sock) {
#ifdef CVISOR_HAVE_GOFER
  if (RealGofer()) return gofer::RunGofer(o, std::move(sock));
#endif
  const char* mode = getenv("CVISOR_FAKE_GOFER");
  std::string m = mode ? mode : "";
  Dump("gofer.json", {{"root", o.root},
                      {"readonly", o.readonly},
                      {"pid", getpid()},
                      {"sid", getsid(0)},
                      {"cmdline", Cmdline()},
                      {"ns_mnt", NsId("mnt")}});
  char buf[4096];
  for (;;) {
    ssize_t n = recv(sock.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string reply =
        absl::StrCat("pong ", o.root, o.readonly ? " ro" : " rw");
    send(sock.get(), reply.data(), reply.size(), 0);
    if (m == "fail") return absl::InternalError("fake gofer failure");
  }
  if (m == "hang") {
    for (;;) pause();
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return runsc::Main(argc, argv, {.boot = FakeBoot, .gofer = FakeGofer});
}
