#include "runsc/cli.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "runsc/boot_config.h"
#include "runsc/sandbox.h"
#include "runsc/spec.h"
#include "runsc/state.h"
#include "runsc/util.h"

extern char** environ;

namespace runsc {
namespace {

constexpr char kVersion[] = "0.1.0";
constexpr const char* kPlatforms[] = {"ptrace"};

// Global flags that take a value (for splitting the command line before the
// parser sees it).
const std::set<std::string>& GlobalValueFlags() {
  static const auto* s =
      new std::set<std::string>{"--root",      "--log",      "--log-format",
                                "--debug-log", "--platform", "--network"};
  return *s;
}
const std::set<std::string>& GlobalBoolFlags() {
  static const auto* s = new std::set<std::string>{
      "--debug", "--strace", "--systemd-cgroup", "--help", "--version"};
  return *s;
}

bool IsOption(const std::string& a) { return a.size() > 1 && a[0] == '-'; }
std::string OptionName(const std::string& a) {
  return a.substr(0, a.find('='));
}

// The runc commands that are not here yet get a clearer message than
// "unknown command".
bool IsPlannedCommand(const std::string& c) {
  static const auto* s = new std::set<std::string>{
      "create",     "start",   "exec", "kill",   "delete",  "state",
      "list",       "ps",      "wait", "events", "pause",   "resume",
      "checkpoint", "restore", "spec", "update", "features"};
  return s->count(c) > 0;
}

struct RunFlags {
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool detach = false;
  bool keep = false;
  bool no_subreaper = false;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  std::string id;
};

struct DoFlags {
  bool root_readonly = true;
  std::string cwd;
  std::vector<std::string> command;
};

struct BootFlags {
  int config_fd = -1;
  int gofer_fd = -1;
  int error_fd = -1;
  int log_fd = -1;
  std::string id;
};

struct GoferFlags {
  int sock_fd = -1;
  int log_fd = -1;
  std::string rootfs;
  bool readonly = false;
  std::vector<std::string> mounts;  // "ro:PATH" or "rw:PATH"
  std::string id;
};

// Where the CLI's own log goes, so that errors reach it too.
struct CliLog {
  bool to_file = false;          // the logger writes to a file, not stderr
  std::string extra_error_path;  // --log when the logger writes elsewhere
  bool json = false;
};

CliLog& TheCliLog() {
  static CliLog* log = new CliLog;
  return *log;
}

// Containers' and tools' stdio may be closed; make sure fds 0-2 are taken
// so that no file runsc opens lands on them and is mistaken for stdio.
void EnsureStdio() {
  for (int fd = 0; fd < 3; ++fd) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", O_RDWR);
      if (n >= 0 && n != fd) {
        dup2(n, fd);
        close(n);
      }
    }
  }
}

void WriteAll(int fd, absl::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s.remove_prefix(n);
  }
}

// An error a user sees: one line on stderr, and the log (JSON lines with
// --log-format json, which containerd reads back from --log).
void ReportError(absl::string_view msg) {
  WriteAll(STDERR_FILENO, absl::StrCat("runsc: ", msg, "\n"));
  const CliLog& log = TheCliLog();
  if (log.to_file) cv::LogError(msg);
  if (!log.extra_error_path.empty()) {
    int fd = open(log.extra_error_path.c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    std::string line;
    if (log.json) {
      nlohmann::json j = {{"level", "error"},
                          {"msg", std::string(msg)},
                          {"time", NowRfc3339()}};
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = absl::StrCat(NowRfc3339(), " error runsc: ", msg);
    }
    line.push_back('\n');
    WriteAll(fd, line);
    close(fd);
  }
}

int Fail(const absl::Status& s) {
  ReportError(s.message());
  return 1;
}

// The CLI process's own log: --debug-log DIR/runsc.<command>.log, else
// --log, else stderr with --debug, else nowhere (errors still reach stderr
// through ReportError).
absl::Status SetUpCliLogging(const GlobalOptions& g,
                             absl::string_view command) {
  cv::InitLogging(
      {.path = "", .json = g.log_json, .debug = g.debug, .component = "runsc"});
  CliLog& log = TheCliLog();
  log.json = g.log_json;
  std::string path;
  if (!g.debug_log_dir.empty()) {
    RETURN_IF_ERROR(MakeDirs(g.debug_log_dir, 0755));
    path = absl::StrCat(g.debug_log_dir, "/runsc.", command, ".log");
    log.extra_error_path = g.log_path;
  } else if (!g.log_path.empty()) {
    path = g.log_path;
  } else if (g.debug) {
    return absl::OkStatus();
  } else {
    path = "/dev/null";
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return PathError("open", path, errno);
  cv::SetLogFd(fd);
  log.to_file = path != "/dev/null";
  return absl::OkStatus();
}

// The child commands log to the fd runsc opened for them, or nowhere.
void SetUpChildLogging(const GlobalOptions& g, int log_fd,
                       absl::string_view component) {
  cv::InitLogging({.path = "",
                   .json = g.log_json,
                   .debug = g.debug,
                   .component = std::string(component)});
  if (log_fd >= 0) {
    fcntl(log_fd, F_SETFD, FD_CLOEXEC);
    cv::SetLogFd(log_fd);
  } else {
    cv::SetLogFd(open("/dev/null", O_WRONLY | O_CLOEXEC));
  }
}

// A bind mount is read-only when its options say "ro" (the last of "ro" and
// "rw" wins, as mount(8) reads them).
bool MountIsReadOnly(const SpecMount& m) {
  bool ro = false;
  for (const std::string& o : m.options) {
    if (o == "ro") ro = true;
    if (o == "rw") ro = false;
  }
  return ro;
}

// The spec's mounts as the sentry takes them; bind mounts get the gofer
// attach points CmdRun asked the gofer for, in the same order.
std::vector<sentry::MountConfig> SentryMounts(
    const std::vector<SpecMount>& mounts) {
  std::vector<sentry::MountConfig> out;
  uint32_t next_gofer_mount = 1;
  for (const SpecMount& m : mounts) {
    sentry::MountConfig c;
    c.type = MountKindName(m.kind);
    c.destination = m.destination;
    c.options = m.options;
    if (m.kind == MountKind::kBind) c.gofer_mount = next_gofer_mount++;
    out.push_back(std::move(c));
  }
  return out;
}

absl::Status ValidateGlobals(const GlobalOptions& g) {
  bool known_platform = false;
  for (const char* p : kPlatforms) known_platform |= g.platform == p;
  if (!known_platform) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --platform \"", g.platform,
        "\": supported platforms: ", absl::StrJoin(kPlatforms, ", ")));
  }
  if (g.network == "sandbox" || g.network == "host") {
    return absl::UnimplementedError(absl::StrCat(
        "--network=", g.network,
        " is not supported yet: only --network=none is implemented"));
  }
  if (g.network != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --network \"", g.network,
                     "\": expected none, sandbox or host"));
  }
  if (g.overlay != "memory" && g.overlay != "none") {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --overlay \"", g.overlay, "\": expected memory or none"));
  }
  return absl::OkStatus();
}

std::string Hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::vector<std::string> Environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

absl::StatusOr<int> CmdRun(const GlobalOptions& g, const RunFlags& f) {
  if (f.detach) {
    return absl::UnimplementedError("run --detach is not supported yet");
  }
  if (!f.console_socket.empty()) {
    return absl::UnimplementedError("--console-socket is not supported yet");
  }
  if (f.keep)
    return absl::UnimplementedError("run --keep is not supported yet");
  if (f.preserve_fds != 0) {
    return absl::UnimplementedError("--preserve-fds is not supported yet");
  }
  RETURN_IF_ERROR(ValidateContainerId(f.id));
  ASSIGN_OR_RETURN(std::string bundle, AbsolutePath(f.bundle));
  ASSIGN_OR_RETURN(Spec spec, LoadSpec(bundle));

  SandboxSpec s;
  for (const SpecMount& m : spec.mounts) {
    cv::LogDebug("mount ", MountKindName(m.kind), " at ", m.destination);
    if (m.kind == MountKind::kBind) {
      s.gofer_mounts.emplace_back(m.source, MountIsReadOnly(m));
    }
  }
  for (const SpecNamespace& ns : spec.namespaces) {
    if (!ns.path.empty()) {
      cv::LogWarning("namespace ", ns.type, " path ", ns.path,
                     " ignored: the sandbox always gets new namespaces");
    }
  }

  s.id = f.id;
  s.bundle = bundle;
  s.annotations = spec.annotations;
  s.rootfs = spec.root_path;
  // Under an overlay the gofer never writes the root; the container may,
  // into the overlay, unless the spec makes the root read-only.
  const bool overlay = g.overlay == "memory";
  s.rootfs_readonly = spec.root_readonly || overlay;
  if (!f.pid_file.empty()) {
    ASSIGN_OR_RETURN(s.pid_file, AbsolutePath(f.pid_file));
  }
  BootRequest& b = s.boot;
  b.container_id = f.id;
  b.network = g.network;
  b.mounts = spec.mounts;
  sentry::BootConfig& c = b.config;
  c.argv = spec.args;
  c.envp = spec.env;
  c.cwd = spec.cwd;
  c.uid = spec.uid;
  c.gid = spec.gid;
  c.no_new_privs = spec.no_new_privileges;
  c.umask = spec.umask.value_or(022);
  c.additional_gids = spec.additional_gids;
  if (spec.capabilities.has_value()) {
    const SpecCapabilities& caps = *spec.capabilities;
    c.capabilities = {caps.effective, caps.permitted, caps.inheritable,
                      caps.bounding, caps.ambient};
  }
  // runc leaves the UTS namespace's name alone when the spec sets none, so
  // the container sees the host's.
  c.hostname = spec.hostname.empty() ? Hostname() : spec.hostname;
  for (const SpecRlimit& r : spec.rlimits) {
    c.rlimits.push_back({r.resource, r.soft, r.hard});
  }
  c.platform = g.platform;
  c.strace = g.strace;
  c.root_readonly = spec.root_readonly;
  c.overlay = overlay;
  cv::LogInfo("running container ", f.id, " from bundle ", bundle);
  return RunSandbox(g, s);
}

absl::StatusOr<int> CmdDo(const GlobalOptions& g, const DoFlags& f) {
  if (f.command.empty()) {
    return absl::InvalidArgumentError(
        "do: a command is required: runsc do [flags] CMD [ARG...]");
  }
  unsigned char rnd[4];
  if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
    return cv::ErrnoStatus(errno, "getrandom");
  }
  SandboxSpec s;
  s.id = absl::StrFormat("runsc-do-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                         rnd[3]);
  s.rootfs = "/";
  // With the overlay (the default), the host's root is served read-only
  // and the sandbox writes into memory; --overlay=none serves it as
  // --root-readonly says.
  const bool overlay = g.overlay == "memory";
  s.rootfs_readonly = f.root_readonly || overlay;
  BootRequest& b = s.boot;
  b.container_id = s.id;
  b.network = g.network;
  sentry::BootConfig& c = b.config;
  c.argv = f.command;
  c.envp = Environment();
  if (!f.cwd.empty()) {
    if (f.cwd[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("do: --cwd \"", f.cwd, "\" must be an absolute path"));
    }
    c.cwd = f.cwd;
  } else {
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof buf) == nullptr) {
      return cv::ErrnoStatus(errno, "getcwd");
    }
    c.cwd = buf;
  }
  c.hostname = Hostname();
  c.uid = 0;
  c.gid = 0;
  // Root with the capabilities Docker gives a container by default.
  c.capabilities.effective = c.capabilities.permitted =
      c.capabilities.bounding = DefaultCapabilities();
  c.platform = g.platform;
  c.strace = g.strace;
  c.overlay = overlay;
  c.root_readonly = f.root_readonly && !overlay;
  if (!f.root_readonly && !overlay) {
    cv::LogWarning(
        "do: the host's root file system is writable from the "
        "sandbox (--root-readonly=false)");
  }
  cv::LogInfo("do: running ", absl::StrJoin(f.command, " "), " as ", s.id);
  return RunSandbox(g, s);
}

// `runsc boot`: the sandbox process. Exits rather than returns: sentry
// threads may still run, and static destructors must not race them.
[[noreturn]] void CmdBoot(const GlobalOptions& g, const BootFlags& f,
                          const Entrypoints& entry) {
  SetUpChildLogging(g, f.log_fd, "sentry");
  // None of these fds is the application's business.
  for (int fd : {f.config_fd, f.gofer_fd, f.error_fd}) {
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  auto fail = [&](absl::string_view msg) {
    cv::LogError(msg);
    if (f.error_fd >= 0) {
      WriteAll(f.error_fd, msg);
    } else {
      WriteAll(STDERR_FILENO, absl::StrCat("runsc: ", msg, "\n"));
    }
    _exit(1);
  };
  if (f.config_fd < 0) fail("boot: --config-fd is required");
  absl::StatusOr<std::string> text = ReadAll(f.config_fd, 64 << 20);
  if (!text.ok())
    fail(absl::StrCat("boot: reading config: ", text.status().message()));
  close(f.config_fd);
  absl::StatusOr<BootRequest> request = BootRequestFromJson(*text);
  if (!request.ok()) fail(request.status().message());
  if (!entry.boot) fail("boot: this runsc binary was built without the sentry");

  sentry::BootConfig config = std::move(request->config);
  config.gofer_fd = f.gofer_fd;
  config.mounts = SentryMounts(request->mounts);
  config.stdio_fds[0] = STDIN_FILENO;
  config.stdio_fds[1] = STDOUT_FILENO;
  config.stdio_fds[2] = STDERR_FILENO;
  cv::LogInfo("booting container ", request->container_id, ": ",
              absl::StrJoin(config.argv, " "), " (pid ", getpid(),
              " in the sandbox's pid namespace)");
  absl::StatusOr<int> status = entry.boot(config);
  if (!status.ok()) {
    fail(absl::StrCat("unable to start container process: ",
                      status.status().message()));
  }
  cv::LogInfo("container init exited with status ", *status);
  fflush(nullptr);
  _exit(*status & 0xff);
}

[[noreturn]] void CmdGofer(const GlobalOptions& g, const GoferFlags& f,
                           const Entrypoints& entry) {
  SetUpChildLogging(g, f.log_fd, "gofer");
  auto fail = [](absl::string_view msg) {
    cv::LogError(msg);
    WriteAll(STDERR_FILENO, absl::StrCat("runsc: gofer: ", msg, "\n"));
    _exit(1);
  };
  if (f.sock_fd < 0) fail("--sock-fd is required");
  if (f.rootfs.empty()) fail("--rootfs is required");
  if (!entry.gofer) fail("this runsc binary was built without the gofer");
  fcntl(f.sock_fd, F_SETFD, FD_CLOEXEC);
  cv::LogInfo("serving ", f.rootfs, f.readonly ? " read-only" : "",
              " for container ", f.id);
  gofer::GoferOptions options{.root = f.rootfs, .readonly = f.readonly};
  for (const std::string& m : f.mounts) {
    bool ro = absl::StartsWith(m, "ro:");
    if (!ro && !absl::StartsWith(m, "rw:")) {
      fail(absl::StrCat("--mount=", m, ": expected ro:PATH or rw:PATH"));
    }
    options.mounts.push_back({.path = m.substr(3), .readonly = ro});
    cv::LogInfo("serving bind mount source ", m.substr(3),
                ro ? " read-only" : "");
  }
  absl::Status s = entry.gofer(options, cv::UniqueFd(f.sock_fd));
  if (!s.ok()) fail(s.message());
  cv::LogInfo("gofer done");
  fflush(nullptr);
  _exit(0);
}

}  // namespace

std::vector<std::string> NormalizeGlobalFlags(std::vector<std::string> args) {
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--" || !IsOption(a)) break;
    if (a[1] != '-' && a.size() > 2) {
      std::string name = "-" + OptionName(a);
      if (GlobalValueFlags().count(name) || GlobalBoolFlags().count(name)) {
        a = "-" + a;
      }
    }
    if (GlobalValueFlags().count(OptionName(a)) &&
        a.find('=') == std::string::npos) {
      ++i;  // its value
    }
  }
  return args;
}

SplitArgs SplitCommandLine(const std::vector<std::string>& args) {
  SplitArgs out;
  size_t i = 1;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (IsOption(a)) {
      if (GlobalValueFlags().count(OptionName(a)) &&
          a.find('=') == std::string::npos) {
        ++i;
      }
      continue;
    }
    out.subcommand = a;
    break;
  }
  if (out.subcommand == "do") {
    for (size_t j = i + 1; j < args.size(); ++j) {
      const std::string& a = args[j];
      if (a == "--" || !IsOption(a)) {
        out.head.assign(args.begin(), args.begin() + j);
        out.command.assign(args.begin() + j + (a == "--" ? 1 : 0), args.end());
        return out;
      }
      std::string name = OptionName(a);
      if ((GlobalValueFlags().count(name) || name == "--cwd") &&
          a.find('=') == std::string::npos) {
        ++j;
      }
    }
  }
  out.head = args;
  return out;
}

int Main(int argc, char** argv, const Entrypoints& entry) {
  EnsureStdio();
  std::vector<std::string> args(argv, argv + argc);
  if (args.empty()) args.push_back("runsc");
  SplitArgs split = SplitCommandLine(NormalizeGlobalFlags(std::move(args)));
  const std::string& sub = split.subcommand;
  if (!sub.empty() && sub != "run" && sub != "do" && sub != "boot" &&
      sub != "gofer") {
    if (IsPlannedCommand(sub)) {
      return Fail(absl::UnimplementedError(
          absl::StrCat("command \"", sub, "\" is not implemented yet")));
    }
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("unknown command \"", sub, "\" (see runsc --help)")));
  }

  GlobalOptions g;
  std::string log_format = "text";
  bool version = false;
  CLI::App app{"runsc (cvisor): runs OCI containers on a user-space kernel"};
  app.name("runsc");
  app.fallthrough();
  app.add_option("--root", g.root,
                 absl::StrCat("root directory for container state (default ",
                              kDefaultStateRoot, ")"));
  app.add_option("--log", g.log_path, "log file (default: none)");
  app.add_option("--log-format", log_format, "log format: text or json");
  app.add_flag("--debug", g.debug, "enable debug logging");
  app.add_option("--debug-log", g.debug_log_dir,
                 "directory for per-command logs (runsc.<command>.log)");
  app.add_option("--platform", g.platform, "syscall interception: ptrace");
  app.add_flag("--strace", g.strace, "log every application system call");
  app.add_option("--network", g.network,
                 "none (loopback only); sandbox and host are not there yet");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "accepted, ignored");
  app.add_option("--overlay", g.overlay,
                 "memory (default): the root file system is an overlay whose "
                 "writes stay in sandbox memory; none: writes reach it");
  app.add_flag("--version", version, "print the version and exit");

  RunFlags rf;
  CLI::App* run = app.add_subcommand(
      "run", "create and run a container from a bundle, in the foreground");
  run->add_option("-b,--bundle", rf.bundle,
                  "bundle directory holding config.json (default: .)");
  run->add_option("--pid-file", rf.pid_file,
                  "file to write the sandbox's host pid to");
  run->add_option("--console-socket", rf.console_socket, "not supported yet");
  run->add_flag("-d,--detach", rf.detach, "not supported yet");
  run->add_flag("--keep", rf.keep, "not supported yet");
  run->add_flag("--no-subreaper", rf.no_subreaper, "accepted, ignored");
  run->add_flag("--no-pivot", rf.no_pivot, "accepted, ignored");
  run->add_flag("--no-new-keyring", rf.no_new_keyring, "accepted, ignored");
  run->add_option("--preserve-fds", rf.preserve_fds, "not supported yet");
  run->add_option("id", rf.id, "container id")->required();

  DoFlags df;
  df.command = split.command;
  CLI::App* do_cmd = app.add_subcommand(
      "do", "run CMD in a sandbox over the host's root file system");
  do_cmd->add_flag("--root-readonly", df.root_readonly,
                   "serve the host's / read-only (default: true)");
  do_cmd->add_option("--cwd", df.cwd,
                     "working directory (default: the current one)");
  do_cmd->footer("Usage: runsc do [flags] [--] CMD [ARG...]\n");

  BootFlags bf;
  CLI::App* boot = app.add_subcommand("boot", "");
  boot->group("");  // internal: hidden from --help
  boot->add_option("--config-fd", bf.config_fd);
  boot->add_option("--gofer-fd", bf.gofer_fd);
  boot->add_option("--error-fd", bf.error_fd);
  boot->add_option("--log-fd", bf.log_fd);
  boot->add_option("id", bf.id);

  GoferFlags gf;
  CLI::App* gofer_cmd = app.add_subcommand("gofer", "");
  gofer_cmd->group("");
  gofer_cmd->add_option("--sock-fd", gf.sock_fd);
  gofer_cmd->add_option("--log-fd", gf.log_fd);
  gofer_cmd->add_option("--rootfs", gf.rootfs);
  gofer_cmd->add_flag("--readonly", gf.readonly);
  gofer_cmd->add_option("--mount", gf.mounts);
  gofer_cmd->add_option("id", gf.id);

  std::vector<const char*> head;
  for (const auto& a : split.head) head.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(head.size()), head.data());
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    return Fail(absl::InvalidArgumentError(e.what()));
  }
  if (version) {
    printf("runsc version %s (cvisor)\nspec: %s\n", kVersion, kOciVersion);
    return 0;
  }
  if (log_format != "text" && log_format != "json") {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "invalid --log-format \"", log_format, "\": expected text or json")));
  }
  g.log_json = log_format == "json";

  if (boot->parsed()) CmdBoot(g, bf, entry);
  if (gofer_cmd->parsed()) CmdGofer(g, gf, entry);
  if (!run->parsed() && !do_cmd->parsed()) {
    return Fail(absl::InvalidArgumentError(
        "a command is required: run or do (see runsc --help)"));
  }

  absl::StatusOr<std::string> root = AbsolutePath(g.root);
  if (!root.ok()) return Fail(root.status());
  g.root = *root;
  if (absl::Status s = SetUpCliLogging(g, run->parsed() ? "run" : "do");
      !s.ok()) {
    return Fail(s);
  }
  cv::LogDebug("command line: ", absl::StrJoin(argv, argv + argc, " "));
  if (absl::Status s = ValidateGlobals(g); !s.ok()) return Fail(s);

  absl::StatusOr<int> status = run->parsed() ? CmdRun(g, rf) : CmdDo(g, df);
  if (!status.ok()) return Fail(status.status());
  cv::LogDebug("exiting with status ", *status);
  return *status;
}

}  // namespace runsc
