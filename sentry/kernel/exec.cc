#include "sentry/kernel/exec.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "sentry/kernel/kernel.h"
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

absl::Status Exec(Task& task, const std::string& path,
                  const std::vector<std::string>& argv,
                  const std::vector<std::string>& envp) {
  auto opened = vfs::OpenExecutable(task.fs(), task.creds(), path);
  if (!opened.ok()) {
    return cv::ErrnoStatus(cv::StatusToErrno(opened.status()),
                           absl::StrCat("exec \"", path, "\""));
  }
  ASSIGN_OR_RETURN(loader::ExecFile file, ExecFileFor(*opened, path));
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
    return ExecFileFor(f, p);
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

  // The point of no return: the old image (if any) goes away now.
  task.set_context(std::move(ctx));
  task.set_mm(std::move(mm));
  task.fd_table().CloseOnExec();
  platform::Registers& regs = task.regs();
  regs = {};
  regs.rip = load.entry;
  regs.rsp = sp;
  regs.cs = 0x33;  // __USER_CS
  regs.ss = 0x2b;  // __USER_DS
  regs.eflags = 0x202;
  size_t slash = path.rfind('/');
  task.comm = path.substr(slash == std::string::npos ? 0 : slash + 1, 15);
  return absl::OkStatus();
}

}  // namespace sentry
