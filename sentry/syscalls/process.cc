// Process and thread identity, credentials, limits and exit.
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <climits>
#include <cstring>

#include "common/errno_status.h"
#include "sentry/kernel/clone.h"
#include "sentry/kernel/exec.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

using A = ArgKind;

// The highest canonical user address + 1 on x86-64 with 4-level paging.
constexpr uint64_t kUserAddressLimit = 1ULL << 47;

int64_t Exit(Task& t, const SyscallArgs& a) {
  // Only this thread ends; the process ends with its last thread.
  t.exiting = true;
  t.exit_status = ExitedStatus(static_cast<int>(a[0]));
  return 0;
}

int64_t ExitGroup(Task& t, const SyscallArgs& a) {
  int status = ExitedStatus(static_cast<int>(a[0]));
  t.kernel().ExitGroup(t, status);
  t.exiting = true;
  t.exit_status = status;
  return 0;
}

int64_t DoClone(Task& t, CloneArgs args) { return Clone(t, args); }

int64_t CloneSyscall(Task& t, const SyscallArgs& a) {
  // x86-64 argument order: flags, stack, parent_tid, child_tid, tls.
  CloneArgs args;
  args.flags = a[0] & ~uint64_t{CSIGNAL};
  args.exit_signal = static_cast<int>(a[0] & CSIGNAL);
  args.stack = a[1];
  args.parent_tid = a[2];
  args.child_tid = a[3];
  args.tls = a[4];
  return DoClone(t, args);
}

int64_t Clone3(Task& t, const SyscallArgs& a) {
  // struct clone_args, version 0 is 64 bytes.
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
        stack_size, tls, set_tid, set_tid_size, cgroup;
  } ca{};
  size_t size = a[1];
  if (size < 64 || size > 4096) return -EINVAL;
  size_t n = std::min(size, sizeof ca);
  if (int err = t.CopyIn(a[0], &ca, n); err) return err;
  if (size > sizeof ca) {
    // Unknown trailing fields must be zero.
    std::vector<char> rest(size - sizeof ca);
    if (int err = t.CopyIn(a[0] + sizeof ca, rest.data(), rest.size()); err) {
      return err;
    }
    for (char c : rest) {
      if (c != 0) return -E2BIG;
    }
  }
  if (ca.exit_signal > 64 || (ca.flags & CSIGNAL)) return -EINVAL;
  // pidfd and cgroup are read only with CLONE_PIDFD / CLONE_INTO_CGROUP,
  // which Clone() refuses; choosing pids (set_tid) is not offered.
  if (ca.set_tid_size != 0) return -EINVAL;
  if ((ca.stack == 0) != (ca.stack_size == 0)) return -EINVAL;
  CloneArgs args;
  args.flags = ca.flags;
  args.exit_signal = static_cast<int>(ca.exit_signal);
  args.stack = ca.stack == 0 ? 0 : ca.stack + ca.stack_size;
  args.parent_tid = ca.parent_tid;
  args.child_tid = ca.child_tid;
  args.tls = ca.tls;
  return DoClone(t, args);
}

int64_t Fork(Task& t, const SyscallArgs&) {
  CloneArgs args;
  args.exit_signal = SIGCHLD;
  return DoClone(t, args);
}

int64_t Vfork(Task& t, const SyscallArgs&) {
  CloneArgs args;
  args.flags = CLONE_VM | CLONE_VFORK;
  args.exit_signal = SIGCHLD;
  return DoClone(t, args);
}

constexpr int kWaitOptions =
    WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL;

struct rusage RusageOf(const Kernel::WaitResult& r) {
  struct rusage ru {};
  ru.ru_utime = {r.utime_ns / 1000000000, (r.utime_ns % 1000000000) / 1000};
  ru.ru_stime = {r.stime_ns / 1000000000, (r.stime_ns % 1000000000) / 1000};
  return ru;
}

int64_t Wait4(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  int options = static_cast<int>(a[2]);
  if (options & ~kWaitOptions) return -EINVAL;
  if (pid == INT_MIN) return -ESRCH;
  Kernel::WaitResult r;
  int64_t rc = t.kernel().WaitChild(t, pid, options | WEXITED, &r);
  if (rc <= 0) return rc;
  if (a[1] != 0) {
    if (int err = t.CopyOutObj(a[1], r.status); err) return err;
  }
  if (a[3] != 0) {
    if (int err = t.CopyOutObj(a[3], RusageOf(r)); err) return err;
  }
  return rc;
}

int64_t Waitid(Task& t, const SyscallArgs& a) {
  int idtype = static_cast<int>(a[0]);
  int id = static_cast<int>(a[1]);
  int options = static_cast<int>(a[3]);
  if (options & ~(kWaitOptions | WEXITED | WSTOPPED | WNOWAIT)) return -EINVAL;
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return -EINVAL;
  int pid;
  switch (idtype) {
    case P_ALL:
      pid = -1;
      break;
    case P_PID:
      if (id <= 0) return -EINVAL;
      pid = id;
      break;
    case P_PGID:
      if (id < 0) return -EINVAL;
      pid = id == 0 ? 0 : -id;
      break;
    default:
      return -EINVAL;
  }
  Kernel::WaitResult r;
  int64_t rc = t.kernel().WaitChild(t, pid, options, &r);
  if (rc < 0) return rc;
  // The SIGCHLD siginfo: signo, errno, code, then pid, uid, status. With
  // WNOHANG and nothing to report it is all zeroes.
  siginfo_t info{};
  if (rc > 0) {
    info.si_signo = SIGCHLD;
    info.si_code = r.code;
    info.si_pid = r.pid;
    info.si_uid = r.uid;
    const int st = r.status;
    info.si_status = r.code == CLD_EXITED      ? WEXITSTATUS(st)
                     : r.code == CLD_STOPPED   ? WSTOPSIG(st)
                     : r.code == CLD_CONTINUED ? SIGCONT
                                               : WTERMSIG(st);
    info.si_utime = r.utime_ns / 10000000;
    info.si_stime = r.stime_ns / 10000000;
  }
  if (a[2] != 0) {
    if (int err = t.CopyOutObj(a[2], info); err) return err;
  }
  if (a[4] != 0) {
    if (int err = t.CopyOutObj(a[4], RusageOf(r)); err) return err;
  }
  return 0;
}

int64_t ExecveAt(Task& t, int dirfd, uint64_t path_addr, uint64_t argv_addr,
                 uint64_t envp_addr, int flags) {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return -EINVAL;
  std::string path;
  if (int err = t.CopyInString(path_addr, 4096, &path); err) return err;
  std::vector<std::string> argv, envp;
  if (int err = t.CopyInStringVector(argv_addr, &argv); err) return err;
  if (int err = t.CopyInStringVector(envp_addr, &envp); err) return err;
  if (path.empty() && !(flags & AT_EMPTY_PATH)) return -ENOENT;
  vfs::Path start;
  if (path.empty() || (dirfd != AT_FDCWD && path[0] != '/')) {
    vfs::FileRef f = t.fd_table().Get(dirfd);
    if (f == nullptr) return -EBADF;
    if (!f->path().valid()) return -EACCES;  // a pipe, a socket
    if (path.empty()) {
      // fexecve: the file the fd names, found again by its path.
      path = t.fs().PathName(f->path());
    } else {
      if (!f->path().dentry->IsDir()) return -ENOTDIR;
      start = f->path();
    }
  }
  if (flags & AT_SYMLINK_NOFOLLOW) {
    // The final component may not be a symlink (ELOOP), as Linux's
    // do_open_execat with LOOKUP_FOLLOW cleared.
    vfs::AccessIdentity who = vfs::FsIdentity(t.creds());
    vfs::ResolveContext ctx = vfs::MakeResolveContext(t.fs(), &who, start);
    absl::StatusOr<vfs::Path> p = vfs::ResolvePath(ctx, path, 0);
    if (p.ok() && p->dentry->IsSymlink()) return -ELOOP;
  }
  absl::Status s = Exec(t, path, argv, envp, start);
  if (!s.ok()) return -cv::StatusToErrno(s);
  return 0;
}

int64_t Execve(Task& t, const SyscallArgs& a) {
  return ExecveAt(t, AT_FDCWD, a[0], a[1], a[2], 0);
}

int64_t Execveat(Task& t, const SyscallArgs& a) {
  return ExecveAt(t, static_cast<int>(a[0]), a[1], a[2], a[3],
                  static_cast<int>(a[4]));
}

int64_t SetPgid(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  int pgid = static_cast<int>(a[1]);
  if (pgid < 0) return -EINVAL;
  const int self = t.thread_group().tgid();
  if (pid == 0) pid = self;
  std::shared_ptr<ThreadGroup> target = t.kernel().FindThreadGroup(pid);
  if (target == nullptr || target->zombie) return -ESRCH;
  if (pid != self && target->ppid != self) return -ESRCH;
  if (pgid == 0) pgid = pid;
  std::lock_guard<std::mutex> lock(target->mu);
  // A session leader cannot change its group.
  if (target->sid == target->tgid()) return -EPERM;
  target->pgid = pgid;
  return 0;
}

int64_t SetSid(Task& t, const SyscallArgs&) {
  ThreadGroup& tg = t.thread_group();
  std::lock_guard<std::mutex> lock(tg.mu);
  // A process group leader cannot start a session.
  if (tg.pgid == tg.tgid()) return -EPERM;
  tg.sid = tg.pgid = tg.tgid();
  return tg.tgid();
}

int64_t GetPid(Task& t, const SyscallArgs&) { return t.thread_group().tgid(); }

int64_t GetPpid(Task& t, const SyscallArgs&) {
  std::shared_ptr<ThreadGroup> self =
      t.kernel().FindThreadGroup(t.thread_group().tgid());
  return self ? self->ppid : 0;
}

int64_t GetTid(Task& t, const SyscallArgs&) { return t.tid(); }

int64_t GetPgrp(Task& t, const SyscallArgs&) {
  std::lock_guard<std::mutex> lock(t.thread_group().mu);
  return t.thread_group().pgid;
}

std::shared_ptr<ThreadGroup> Target(Task& t, int pid) {
  if (pid == 0) return t.shared_thread_group();
  return t.kernel().FindThreadGroup(pid);
}

int64_t GetPgid(Task& t, const SyscallArgs& a) {
  std::shared_ptr<ThreadGroup> g = Target(t, static_cast<int>(a[0]));
  if (g == nullptr) return -ESRCH;
  std::lock_guard<std::mutex> lock(g->mu);
  return g->pgid;
}

int64_t GetSid(Task& t, const SyscallArgs& a) {
  std::shared_ptr<ThreadGroup> g = Target(t, static_cast<int>(a[0]));
  if (g == nullptr) return -ESRCH;
  std::lock_guard<std::mutex> lock(g->mu);
  return g->sid;
}

int64_t SetTidAddress(Task& t, const SyscallArgs& a) {
  t.clear_child_tid = a[0];
  return t.tid();
}

int64_t SetRobustList(Task& t, const SyscallArgs& a) {
  // struct robust_list_head is three words.
  if (a[1] != 24) return -EINVAL;
  t.robust_list_head = a[0];
  t.robust_list_len = a[1];
  return 0;
}

int64_t GetRobustList(Task& t, const SyscallArgs& a) {
  int pid = static_cast<int>(a[0]);
  if (pid != 0 && pid != t.tid()) return -ESRCH;
  if (int err = t.CopyOutObj(a[1], t.robust_list_head); err) return err;
  if (int err = t.CopyOutObj(a[2], t.robust_list_len); err) return err;
  return 0;
}

int64_t ArchPrctl(Task& t, const SyscallArgs& a) {
  platform::Registers& regs = t.regs();
  switch (a[0]) {
    case ARCH_SET_FS:
      if (a[1] >= kUserAddressLimit) return -EPERM;
      regs.fs_base = a[1];
      regs.fs = 0;
      return 0;
    case ARCH_GET_FS:
      return t.CopyOutObj(a[1], regs.fs_base);
    case ARCH_SET_GS:
      if (a[1] >= kUserAddressLimit) return -EPERM;
      regs.gs_base = a[1];
      regs.gs = 0;
      return 0;
    case ARCH_GET_GS:
      return t.CopyOutObj(a[1], regs.gs_base);
    case ARCH_GET_CPUID:
      // CPUID faulting is not offered: cpuid always works.
      return 1;
    case ARCH_SET_CPUID:
      return -ENODEV;
    default:
      return -EINVAL;
  }
}

int64_t DoPrlimit(Task& t, int pid, int resource, uint64_t new_addr,
                  uint64_t old_addr) {
  if (pid != 0 && pid != t.thread_group().tgid()) return -ESRCH;
  if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
  rlimit next{};
  if (new_addr != 0) {
    if (int err = t.CopyInObj(new_addr, &next); err) return err;
    if (next.rlim_cur > next.rlim_max) return -EINVAL;
    // fs.nr_open bounds RLIMIT_NOFILE even for a privileged caller.
    if (resource == RLIMIT_NOFILE && next.rlim_max > 1048576) return -EPERM;
  }
  ThreadGroup& tg = t.thread_group();
  std::lock_guard<std::mutex> lock(tg.mu);
  rlimit old = tg.rlimits[resource];
  if (new_addr != 0) {
    // Raising a hard limit takes CAP_SYS_RESOURCE (24).
    if (next.rlim_max > old.rlim_max && !t.creds().HasCap(24)) return -EPERM;
  }
  if (old_addr != 0) {
    if (int err = t.CopyOutObj(old_addr, old); err) return err;
  }
  if (new_addr != 0) tg.rlimits[resource] = next;
  return 0;
}

int64_t Prlimit64(Task& t, const SyscallArgs& a) {
  return DoPrlimit(t, static_cast<int>(a[0]), static_cast<int>(a[1]), a[2],
                   a[3]);
}

int64_t GetRlimit(Task& t, const SyscallArgs& a) {
  return DoPrlimit(t, 0, static_cast<int>(a[0]), 0, a[1]);
}

int64_t SetRlimit(Task& t, const SyscallArgs& a) {
  return DoPrlimit(t, 0, static_cast<int>(a[0]), a[1], 0);
}

}  // namespace

void RegisterProcessSyscalls(SyscallTable& table) {
  table.Register(60, Exit, {A::kInt});
  table.Register(231, ExitGroup, {A::kInt});
  table.Register(56, CloneSyscall,
                 {A::kHex, A::kHex, A::kHex, A::kHex, A::kHex});
  table.Register(435, Clone3, {A::kHex, A::kInt});
  table.Register(57, Fork, {});
  table.Register(58, Vfork, {});
  table.Register(61, Wait4, {A::kInt, A::kHex, A::kHex, A::kHex});
  table.Register(247, Waitid, {A::kInt, A::kInt, A::kHex, A::kHex, A::kHex});
  table.Register(59, Execve, {A::kPath, A::kHex, A::kHex});
  table.Register(322, Execveat, {A::kFd, A::kPath, A::kHex, A::kHex, A::kHex});
  table.Register(109, SetPgid, {A::kInt, A::kInt});
  table.Register(112, SetSid, {});
  table.Register(39, GetPid, {});
  table.Register(110, GetPpid, {});
  table.Register(186, GetTid, {});
  table.Register(111, GetPgrp, {});
  table.Register(121, GetPgid, {A::kInt});
  table.Register(124, GetSid, {A::kInt});
  table.Register(218, SetTidAddress, {A::kHex});
  table.Register(273, SetRobustList, {A::kHex, A::kInt});
  table.Register(274, GetRobustList, {A::kInt, A::kHex, A::kHex});
  table.Register(158, ArchPrctl, {A::kHex, A::kHex});
  table.Register(302, Prlimit64, {A::kInt, A::kInt, A::kHex, A::kHex});
  table.Register(97, GetRlimit, {A::kInt, A::kHex});
  table.Register(160, SetRlimit, {A::kInt, A::kHex});
}

}  // namespace sentry
