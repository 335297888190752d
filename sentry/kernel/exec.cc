#include "sentry/kernel/exec.h"

#include <signal.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "sentry/kernel/credentials.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/timers.h"
#include "sentry/loader/loader.h"
#include "sentry/mm/mm.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

// execvp's default search path when the environment has no PATH.
constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

absl::StatusOr<loader::ExecFile> ExecFileFor(vfs::FileRef file,
                                             const std::string& path) {
  ASSIGN_OR_RETURN(struct stat st, file->Stat());
  loader::ExecFile ef;
  vfs::PReadFn pread = vfs::MakePReadFn(file);
  ef.pread = [pread](void* buf, size_t len, uint64_t off) -> ssize_t {
    return pread(buf, len, static_cast<int64_t>(off));
  };
  ef.size = st.st_size;
  ef.path = path;
  ef.dev = st.st_dev;
  ef.inode = st.st_ino;
  ef.host_fd = file->host_fd();
  ef.keep_alive = file;
  return ef;
}

}  // namespace

absl::StatusOr<std::string> LookPath(Task& task, const std::string& name,
                                     const std::vector<std::string>& envp) {
  if (name.empty()) return cv::ErrnoStatus(ENOENT, "exec \"\"");
  if (name.find('/') != std::string::npos) return name;
  std::string search = kDefaultPath;
  for (const std::string& kv : envp) {
    if (absl::StartsWith(kv, "PATH=")) search = kv.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(search, ':')) {
    std::string candidate =
        absl::StrCat(dir.empty() ? "." : std::string(dir), "/", name);
    auto file = vfs::OpenExecutable(task.fs(), task.creds(), candidate);
    if (file.ok()) return candidate;
  }
  return cv::ErrnoStatus(
      ENOENT,
      absl::StrCat("exec \"", name, "\": executable file not found in $PATH"));
}

namespace {

// Parses a "#!" line: the interpreter and at most one argument (the rest of
// the line, trimmed), as Linux's binfmt_script does.
bool ParseShebang(const std::string& head, std::string* interp,
                  std::string* arg) {
  if (head.size() < 2 || head[0] != '#' || head[1] != '!') return false;
  size_t end = head.find('\n');
  std::string line =
      head.substr(2, end == std::string::npos ? std::string::npos : end - 2);
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  size_t i = 0;
  while (i < line.size() && blank(line[i])) i++;
  size_t j = i;
  while (j < line.size() && !blank(line[j])) j++;
  *interp = line.substr(i, j - i);
  while (j < line.size() && blank(line[j])) j++;
  size_t k = line.size();
  while (k > j && blank(line[k - 1])) k--;
  *arg = line.substr(j, k - j);
  return true;
}

}  // namespace

absl::Status Exec(Task& task, const std::string& path,
                  const std::vector<std::string>& argv_in,
                  const std::vector<std::string>& envp,
                  const vfs::Path& start) {
  std::string file_path = path;
  std::vector<std::string> argv = argv_in;
  loader::ExecFile file;
  // Linux follows at most 4 levels of interpreters (BINPRM_MAX_RECURSION).
  std::string exe;  // /proc/[pid]/exe: the file finally loaded
  for (int depth = 0;; depth++) {
    // Only the program itself is relative to execveat's dirfd; a #!
    // interpreter's path is the kernel's own lookup.
    auto opened = vfs::OpenExecutable(task.fs(), task.creds(), file_path,
                                      depth == 0 ? start : vfs::Path{});
    if (!opened.ok()) {
      return cv::ErrnoStatus(cv::StatusToErrno(opened.status()),
                             absl::StrCat("exec \"", file_path, "\""));
    }
    // maps and exe show where the file is, not how it was named.
    exe = task.fs().PathName((*opened)->path());
    ASSIGN_OR_RETURN(file, ExecFileFor(*opened, exe));
    char head[256];
    ssize_t n = file.pread(head, sizeof head, 0);
    if (n < 0) return cv::ErrnoStatus(static_cast<int>(-n), "exec: read");
    std::string interp, arg;
    if (!ParseShebang(std::string(head, n), &interp, &arg)) break;
    if (depth >= 4)
      return cv::ErrnoStatus(ELOOP, "exec: too many interpreters");
    if (interp.empty()) return cv::ErrnoStatus(ENOEXEC, "exec: empty #! line");
    std::vector<std::string> next = {interp};
    if (!arg.empty()) next.push_back(arg);
    next.push_back(file_path);
    if (argv.size() > 1) next.insert(next.end(), argv.begin() + 1, argv.end());
    argv = std::move(next);
    file_path = interp;
  }
  ASSIGN_OR_RETURN(loader::ElfInfo info, loader::ParseElf(file));

  Kernel& kernel = task.kernel();
  ASSIGN_OR_RETURN(std::unique_ptr<platform::Context> ctx,
                   kernel.platform().NewAddressSpace());
  auto mm = std::make_shared<mm::MemoryManager>(kernel.platform().layout(),
                                                ctx->shared_address_space());
  uint64_t stack_limit;
  {
    std::lock_guard<std::mutex> lock(task.thread_group().mu);
    stack_limit = task.thread_group().rlimits[RLIMIT_STACK].rlim_cur;
  }
  if (stack_limit == RLIM_INFINITY || stack_limit < (128 << 10)) {
    stack_limit = mm::kDefaultStackRlimit;
  }
  mm->SetStackRlimit(stack_limit);

  loader::InterpOpener open_interp =
      [&task](const std::string& p) -> absl::StatusOr<loader::ExecFile> {
    ASSIGN_OR_RETURN(vfs::FileRef f,
                     vfs::OpenExecutable(task.fs(), task.creds(), p));
    return ExecFileFor(f, task.fs().PathName(f->path()));
  };
  ASSIGN_OR_RETURN(loader::LoadResult load,
                   loader::LoadElf(*mm, *ctx, file, info, open_interp));

  const Credentials& creds = task.creds();
  loader::StackSpec spec;
  spec.argv = argv;
  spec.envp = envp;
  spec.execfn = path;
  spec.stack_size = stack_limit;
  spec.uid = creds.ruid;
  spec.euid = creds.euid;
  spec.gid = creds.rgid;
  spec.egid = creds.egid;
  ASSIGN_OR_RETURN(uint64_t sp, loader::SetUpStack(*mm, *ctx, load, spec));
  {
    mm::MemoryManager::ExecInfo exec_info = mm->exec_info();
    exec_info.exe = exe;
    mm->set_exec_info(std::move(exec_info));
  }

  // The point of no return: the old image (if any) goes away now, with the
  // other threads of the process.
  task.kernel().KillOtherThreads(task);
  task.set_context(std::move(ctx));
  std::shared_ptr<mm::MemoryManager> old_mm = task.shared_mm();
  {
    // /proc reads other tasks' mm and comm under the tree lock.
    std::lock_guard<std::mutex> lock(task.kernel().signal_mu());
    task.set_mm(std::move(mm));
  }
  old_mm.reset();  // outside the lock: it may unmap the old address space
  task.fd_table().CloseOnExec();
  ExecCredentials(task);
  {
    // Caught signals revert to their default; ignored ones stay ignored.
    // The mask and pending signals carry over.
    std::lock_guard<std::mutex> lock(task.kernel().signal_mu());
    for (KernelSigaction& act : task.thread_group().actions) {
      if (act.handler != kSigIgn) act = {};
    }
  }
  task.altstack_sp = task.altstack_size = 0;
  task.altstack_autodisarm = false;
  // POSIX timers do not survive exec; interval timers do.
  if (std::shared_ptr<TimerTable> timers =
          TimerTable::Find(task.thread_group())) {
    timers->DeletePosixTimers();
  }
  task.clear_child_tid = 0;
  if (task.vfork_done) {
    task.vfork_done->Signal();
    task.vfork_done.reset();
  }
  platform::Registers& regs = task.regs();
  regs = {};
  regs.rip = load.entry;
  regs.rsp = sp;
  regs.cs = 0x33;  // __USER_CS
  regs.ss = 0x2b;  // __USER_DS
  regs.eflags = 0x202;
  size_t slash = path.rfind('/');
  std::lock_guard<std::mutex> lock(task.kernel().signal_mu());
  task.comm = path.substr(slash == std::string::npos ? 0 : slash + 1, 15);
  return absl::OkStatus();
}

}  // namespace sentry
