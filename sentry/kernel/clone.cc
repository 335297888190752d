#include "sentry/kernel/clone.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>

#include "common/errno_status.h"
#include "common/log.h"
#include "sentry/kernel/credentials.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mm/mm.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

// The flags we implement; namespaces, pidfds and the rest are refused.
constexpr uint64_t kSupported =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
    CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID |
    CLONE_CHILD_CLEARTID | CLONE_VFORK | CLONE_PARENT | CLONE_PTRACE |
    CLONE_UNTRACED | CLONE_DETACHED | CLONE_IO;

}  // namespace

int64_t Clone(Task& parent, const CloneArgs& args) {
  const uint64_t flags = args.flags;
  if (flags & ~kSupported) {
    cv::LogWarning("clone: unsupported flags 0x",
                   absl::Hex(flags & ~kSupported));
    return -EINVAL;
  }
  // Linux's consistency rules (kernel/fork.c).
  if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND)) return -EINVAL;
  if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM)) return -EINVAL;
  if ((flags & CLONE_PARENT) && parent.thread_group().tgid() == 1 &&
      !(flags & CLONE_THREAD)) {
    return -EINVAL;  // the init of a PID namespace has no parent to share
  }
  if (args.exit_signal < 0 || args.exit_signal > 64) return -EINVAL;

  Kernel& kernel = parent.kernel();
  absl::StatusOr<std::unique_ptr<platform::PendingContext>> pending =
      (flags & CLONE_VM) ? parent.context().NewThread()
                         : parent.context().ForkAddressSpace();
  if (!pending.ok()) {
    cv::LogWarning("clone: ", pending.status().message());
    return -EAGAIN;
  }

  const int tid = kernel.AllocateTid();
  std::shared_ptr<ThreadGroup> tg;
  if (flags & CLONE_THREAD) {
    tg = parent.shared_thread_group();
  } else {
    tg = std::make_shared<ThreadGroup>(tid);
    ThreadGroup& ptg = parent.thread_group();
    {
      std::lock_guard<std::mutex> lock(kernel.signal_mu());
      tg->actions = ptg.actions;
    }
    std::lock_guard<std::mutex> lock(ptg.mu);
    tg->pgid = ptg.pgid;
    tg->sid = ptg.sid;
    tg->rlimits = ptg.rlimits;
    tg->ppid = (flags & CLONE_PARENT) ? ptg.ppid : ptg.tgid();
    tg->exit_signal = args.exit_signal;
    tg->uid = parent.creds().ruid;
    kernel.AddThreadGroup(tg);
  }

  auto child = std::make_unique<Task>(kernel, tg, tid);
  child->creds() = parent.creds();
  child->comm = parent.comm;
  InheritTaskCredsState(parent, *child, !(flags & CLONE_THREAD));
  // The mask is inherited; pending signals are not.
  child->signal_mask = parent.signal_mask;
  if (!(flags & CLONE_VM) || (flags & CLONE_VFORK)) {
    // A new process keeps its parent's alternate stack (fork, vfork);
    // a thread starts without one.
    child->altstack_sp = parent.altstack_sp;
    child->altstack_size = parent.altstack_size;
    child->altstack_autodisarm = parent.altstack_autodisarm;
  }
  child->set_fd_table((flags & CLONE_FILES) ? parent.shared_fd_table()
                                            : parent.fd_table().Fork());
  child->set_fs((flags & CLONE_FS) ? parent.shared_fs() : parent.fs().Fork());
  platform::Registers regs = parent.regs();
  regs.rax = 0;
  if (args.stack != 0) regs.rsp = args.stack;
  if (flags & CLONE_SETTLS) regs.fs_base = args.tls;
  child->regs() = regs;
  if (flags & CLONE_CHILD_CLEARTID) child->clear_child_tid = args.child_tid;
  std::shared_ptr<VforkDone> vfork;
  if (flags & CLONE_VFORK) {
    vfork = std::make_shared<VforkDone>();
    child->vfork_done = vfork;
  }

  if ((flags & CLONE_PARENT_SETTID) &&
      parent.CopyOutObj(args.parent_tid, static_cast<int32_t>(tid)) != 0) {
    // Linux reports the fault only after the child exists; we have not
    // started it yet, so the clone simply fails.
    return -EFAULT;
  }

  std::shared_ptr<mm::MemoryManager> parent_mm = parent.shared_mm();
  std::string error;
  // The parent waits in StartTask until the child has claimed its stub and
  // copied the VMA map, so the map matches the host's copy-on-write fork.
  int rc = kernel.StartTask(
      std::move(child),
      [&pending, parent_mm, flags, &args](Task& t, std::string* err) -> int {
        auto ctx = (*pending)->Claim();
        if (!ctx.ok()) {
          *err = std::string(ctx.status().message());
          return -EAGAIN;
        }
        if (flags & CLONE_VM) {
          t.set_mm(parent_mm);
        } else {
          t.set_mm(parent_mm->Fork((*ctx)->shared_address_space()));
        }
        t.set_context(std::move(*ctx));
        if (flags & CLONE_CHILD_SETTID) {
          // A bad address here is ignored, as Linux does.
          (void)t.CopyOutObj(args.child_tid, static_cast<int32_t>(t.tid()));
        }
        return 0;
      },
      &error);
  if (rc != 0) {
    cv::LogWarning("clone: the child could not start: ", error);
    return rc;
  }
  if (vfork) vfork->Wait();
  return tid;
}

}  // namespace sentry
