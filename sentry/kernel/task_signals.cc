// Signal delivery on the task's own thread: taking the next signal, its
// action (ignore, stop, terminate, or a handler), syscall restarts, and the
// x86-64 rt_sigframe the handler runs on.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstddef>
#include <cstring>

#include "common/log.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/timers.h"

namespace sentry {
namespace {

// The x86-64 kernel's struct sigcontext (glibc's mcontext_t gregs, then the
// FP state pointer).
struct SigContext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;
  uint64_t reserved[8];
};
static_assert(sizeof(SigContext) == 256);

struct UserStack {
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
};

struct UContext {
  uint64_t flags;
  uint64_t link;
  UserStack stack;
  SigContext mcontext;
  uint64_t sigmask;
};
static_assert(sizeof(UContext) == 304);

// What the handler finds at its stack pointer: the return address (the
// restorer, which calls rt_sigreturn), then the ucontext and the siginfo.
struct RtSigframe {
  uint64_t pretcode;
  UContext uc;
  siginfo_t info;
};
static_assert(offsetof(RtSigframe, uc) == 8);
static_assert(sizeof(RtSigframe) == 440);

constexpr uint64_t kUcFpXstate = 0x1;
constexpr uint64_t kUcSigcontextSs = 0x2;
constexpr uint64_t kUcStrictRestoreSs = 0x4;
constexpr uint32_t kFpXstateMagic1 = 0x46505853;
constexpr uint32_t kFpXstateMagic2 = 0x46505845;
constexpr size_t kSwReservedOffset = 464;  // in the FXSAVE area
constexpr size_t kXsaveHeaderOffset = 512;
constexpr size_t kFxsaveSize = 512;
constexpr uint64_t kRedZone = 128;
// The flags rt_sigreturn takes from the frame (AC OF DF TF SF ZF AF PF CF
// RF); the rest (IF, IOPL...) stay as the kernel wants them.
constexpr uint64_t kUserEflags =
    0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000;
constexpr uint64_t kSysRestartSyscall = 219;
constexpr int kSsAutodisarm = 1 << 31;
constexpr uint64_t kSaRestorer = 0x04000000;  // not in glibc's headers
constexpr uint64_t kMinSigStackSize = 2048;   // the kernel's MINSIGSTKSZ

struct FpxSwBytes {
  uint32_t magic1;
  uint32_t extended_size;
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);

uint64_t Xcr0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

bool IsRestart(int64_t ret) {
  return ret == -kERestartSys || ret == -kERestartNoIntr ||
         ret == -kERestartNoHand || ret == -kERestartBlock;
}

bool OnStack(uint64_t sp, uint64_t base, uint64_t size) {
  return size != 0 && sp > base && sp - base <= size;
}

}  // namespace

// ---- waking ----

void Task::Wake() {
  interrupt_pending_.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(block_mu_);
    if (blocker_ != nullptr) blocker_->Notify();
  }
  // Only application code needs kicking out (a host signal to the stub
  // costs a round trip); the sentry side looks at the flag before every
  // switch. The run loop publishes in_app_ before it checks the flag, so
  // one of the two always sees the other.
  if (in_app_.load(std::memory_order_seq_cst)) Interrupt();
}

bool Task::Arm(vfs::Waiter* w) {
  std::lock_guard<std::mutex> lock(block_mu_);
  if (interrupt_pending_.load(std::memory_order_acquire)) return false;
  blocker_ = w;
  return true;
}

bool Task::Disarm() {
  std::lock_guard<std::mutex> lock(block_mu_);
  blocker_ = nullptr;
  return interrupt_pending_.load(std::memory_order_acquire);
}

bool Task::NeedsWakeLocked() const {
  if (exiting) return true;
  if (tg_->stop_requested && !parked) return true;
  return ((pending.pending() | tg_->pending.pending()) & ~signal_mask) != 0;
}

void Task::RecalcWakeLocked() {
  interrupt_pending_.store(NeedsWakeLocked(), std::memory_order_release);
}

// ---- delivery ----

void Task::HandleSignals(int64_t syscall_ret) {
  std::unique_lock<std::mutex> lock(kernel_.signal_mu());
  ThreadGroup& tg = *tg_;
  bool restart = IsRestart(syscall_ret);
  for (;;) {
    if (exiting) return;
    if (tg.stop_requested && !tg.group_exiting) {
      // Job-control stop: park until SIGCONT or SIGKILL.
      parked = true;
      kernel_.CompleteGroupStopLocked(tg);
      while (tg.stop_requested && !exiting) {
        interrupt_pending_.store(false, std::memory_order_release);
        lock.unlock();
        vfs::SyncWaiter w;
        (void)w.WaitInterruptible();
        lock.lock();
      }
      parked = false;
      continue;
    }
    std::optional<siginfo_t> info = pending.Dequeue(~signal_mask);
    if (!info) info = tg.pending.Dequeue(~signal_mask);
    if (!info) break;
    const int signo = info->si_signo;
    if (info->si_code == SI_TIMER) {
      // The timer table learns which expiry was delivered (for
      // timer_getoverrun); it takes its own locks, so not under ours.
      lock.unlock();
      if (std::shared_ptr<TimerTable> timers = TimerTable::Find(tg)) {
        timers->SignalDelivered(*info);
      }
      lock.lock();
      if (exiting) return;
    }
    KernelSigaction act = tg.actions[signo - 1];
    if (act.handler == kSigIgn) continue;
    if (act.handler == kSigDfl) {
      switch (DefaultActionOf(signo)) {
        case DefaultAction::kIgnore:
        case DefaultAction::kContinue:
          continue;
        case DefaultAction::kStop: {
          // The terminal stops do nothing to an orphaned process group:
          // nobody is left to continue it.
          if (signo != SIGSTOP && kernel_.OrphanedPgrpLocked(tg)) continue;
          std::lock_guard<std::mutex> tg_lock(tg.mu);
          if (!tg.stop_requested) {
            tg.stop_requested = true;
            tg.stop_signal = signo;
            for (Task* t : tg.tasks) {
              if (t != this) t->Wake();
            }
          }
          continue;
        }
        case DefaultAction::kTerminate:
        case DefaultAction::kCore:
          // No core files are written, so the status never has 0x80.
          kernel_.ExitGroupLocked(tg, SignaledStatus(signo));
          return;
      }
    }

    // A handler runs. First settle the interrupted syscall: it reports
    // EINTR, or restarts when the handler returns.
    if (restart) {
      bool again = syscall_ret == -kERestartNoIntr ||
                   (syscall_ret == -kERestartSys && (act.flags & SA_RESTART));
      if (again) {
        regs_.rax = regs_.orig_rax;
        regs_.rip -= 2;
      } else {
        regs_.rax = static_cast<uint64_t>(-EINTR);
      }
      restart = false;
      restart_fn = nullptr;
    }
    const uint64_t frame_mask = saved_mask.value_or(signal_mask);
    saved_mask.reset();
    if (act.flags & SA_RESETHAND) tg.actions[signo - 1].handler = kSigDfl;
    lock.unlock();
    bool ok = SetupFrame(*info, act, frame_mask);
    lock.lock();
    if (!ok) {
      // An unusable stack kills the process with SIGSEGV, as in Linux.
      cv::LogInfo("task ", tid_, ": cannot build a frame for signal ", signo,
                  " at rsp 0x", absl::Hex(regs_.rsp));
      kernel_.ExitGroupLocked(tg, SignaledStatus(SIGSEGV));
      return;
    }
    signal_mask = frame_mask | act.mask;
    if (!(act.flags & SA_NODEFER)) signal_mask |= SigBit(signo);
    signal_mask &= ~kUnblockableSignals;
    // Further signals get their own frames, on top of this one, before the
    // application runs again.
    RecalcWakeLocked();
    return;
  }
  if (restart) {
    // No handler ran: the syscall continues as if never interrupted.
    if (syscall_ret == -kERestartBlock) {
      regs_.rax = kSysRestartSyscall;
    } else {
      regs_.rax = regs_.orig_rax;
      restart_fn = nullptr;
    }
    regs_.rip -= 2;
  }
  if (saved_mask) {
    signal_mask = *saved_mask;
    saved_mask.reset();
  }
  RecalcWakeLocked();
}

bool Task::SetupFrame(const siginfo_t& info, const KernelSigaction& act,
                      uint64_t mask) {
  if (!(act.flags & kSaRestorer)) return false;  // x86-64 requires one
  platform::FpState fp;
  if (!context_->GetFpState(fp).ok()) return false;

  const uint64_t interrupted_sp = regs_.rsp;
  uint64_t sp = interrupted_sp - kRedZone;
  const bool was_on_stack = OnStack(interrupted_sp, altstack_sp, altstack_size);
  UserStack saved_stack = {altstack_sp,
                           altstack_size == 0 ? SS_DISABLE
                           : was_on_stack     ? SS_ONSTACK
                                              : 0,
                           0, altstack_size};
  if (altstack_autodisarm) saved_stack.flags |= kSsAutodisarm;
  if ((act.flags & SA_ONSTACK) && altstack_size != 0 && !was_on_stack) {
    sp = altstack_sp + altstack_size;
    if (altstack_autodisarm) altstack_sp = altstack_size = 0;
  }

  // The XSAVE area, 64-byte aligned, with the magic that tells
  // rt_sigreturn (and readers of uc_mcontext.fpregs) its extent.
  const size_t fp_size = fp.size;
  uint64_t fp_addr = (sp - fp_size - sizeof(uint32_t)) & ~uint64_t{63};
  FpxSwBytes sw{};
  sw.magic1 = kFpXstateMagic1;
  sw.extended_size = static_cast<uint32_t>(fp_size + sizeof(uint32_t));
  sw.xfeatures = Xcr0();
  sw.xstate_size = static_cast<uint32_t>(fp_size);
  memcpy(fp.data + kSwReservedOffset, &sw, sizeof sw);
  if (CopyOut(fp_addr, fp.data, fp_size) != 0) return false;
  if (CopyOutObj(fp_addr + fp_size, kFpXstateMagic2) != 0) return false;

  uint64_t frame_addr = ((fp_addr - sizeof(RtSigframe)) & ~uint64_t{15}) - 8;
  RtSigframe frame{};
  frame.pretcode = act.restorer;
  frame.uc.flags = kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs;
  frame.uc.stack = saved_stack;
  SigContext& sc = frame.uc.mcontext;
  sc.r8 = regs_.r8;
  sc.r9 = regs_.r9;
  sc.r10 = regs_.r10;
  sc.r11 = regs_.r11;
  sc.r12 = regs_.r12;
  sc.r13 = regs_.r13;
  sc.r14 = regs_.r14;
  sc.r15 = regs_.r15;
  sc.rdi = regs_.rdi;
  sc.rsi = regs_.rsi;
  sc.rbp = regs_.rbp;
  sc.rbx = regs_.rbx;
  sc.rdx = regs_.rdx;
  sc.rax = regs_.rax;
  sc.rcx = regs_.rcx;
  sc.rsp = regs_.rsp;
  sc.rip = regs_.rip;
  sc.eflags = regs_.eflags;
  sc.cs = static_cast<uint16_t>(regs_.cs);
  sc.ss = static_cast<uint16_t>(regs_.ss);
  // Set by the run loop for the fault being delivered, and only for it.
  const bool fault = fault_trapno != 0 || fault_err != 0;
  sc.trapno = fault ? fault_trapno : 0;
  sc.err = fault ? fault_err : 0;
  sc.cr2 = fault ? reinterpret_cast<uint64_t>(info.si_addr) : 0;
  sc.oldmask = mask;
  sc.fpstate = fp_addr;
  frame.uc.sigmask = mask;
  frame.info = info;
  if (CopyOutObj(frame_addr, frame) != 0) return false;

  // The handler starts with the signal number, the siginfo and the
  // ucontext as arguments, a clean FP state and DF clear.
  if (!context_->SetFpState(kernel_.platform().initial_fp_state()).ok()) {
    return false;
  }
  regs_.rsp = frame_addr;
  regs_.rip = act.handler;
  regs_.rdi = static_cast<uint64_t>(info.si_signo);
  regs_.rsi = frame_addr + offsetof(RtSigframe, info);
  regs_.rdx = frame_addr + offsetof(RtSigframe, uc);
  regs_.rax = 0;
  regs_.eflags &= ~uint64_t{0x400 | 0x100 | 0x10000};  // DF TF RF
  regs_.cs = platform::kUserCs;
  regs_.ss = platform::kUserSs;
  fault_trapno = fault_err = 0;
  return true;
}

int Task::SigReturn() {
  // The handler's `ret` popped pretcode: the ucontext is at rsp.
  const uint64_t uc_addr = regs_.rsp;
  UContext uc;
  if (CopyInObj(uc_addr, &uc) != 0) return -EFAULT;
  const SigContext& sc = uc.mcontext;

  platform::FpState fp;
  if (!context_->GetFpState(fp).ok()) return -EFAULT;
  if (sc.fpstate != 0) {
    // The full XSAVE image if the frame says it has one, else the legacy
    // FXSAVE part with only x87 and SSE state valid.
    FpxSwBytes sw{};
    uint8_t head[kFxsaveSize];
    if (CopyIn(sc.fpstate, head, sizeof head) != 0) return -EFAULT;
    memcpy(&sw, head + kSwReservedOffset, sizeof sw);
    uint32_t magic2 = 0;
    bool xsave = sw.magic1 == kFpXstateMagic1 && sw.xstate_size == fp.size &&
                 sw.extended_size == fp.size + sizeof(uint32_t) &&
                 CopyInObj(sc.fpstate + fp.size, &magic2) == 0 &&
                 magic2 == kFpXstateMagic2;
    if (xsave) {
      if (CopyIn(sc.fpstate, fp.data, fp.size) != 0) return -EFAULT;
    } else {
      memcpy(fp.data, head, sizeof head);
      if (fp.size >= kXsaveHeaderOffset + 64) {
        memset(fp.data + kXsaveHeaderOffset, 0, fp.size - kXsaveHeaderOffset);
      }
    }
    if (fp.size >= kXsaveHeaderOffset + 8) {
      // x87 and SSE are always marked present (see platform.h).
      uint64_t bv;
      memcpy(&bv, fp.data + kXsaveHeaderOffset, sizeof bv);
      bv |= 3;
      memcpy(fp.data + kXsaveHeaderOffset, &bv, sizeof bv);
    }
  } else {
    fp = kernel_.platform().initial_fp_state();
  }
  if (!context_->SetFpState(fp).ok()) return -EFAULT;

  regs_.r8 = sc.r8;
  regs_.r9 = sc.r9;
  regs_.r10 = sc.r10;
  regs_.r11 = sc.r11;
  regs_.r12 = sc.r12;
  regs_.r13 = sc.r13;
  regs_.r14 = sc.r14;
  regs_.r15 = sc.r15;
  regs_.rdi = sc.rdi;
  regs_.rsi = sc.rsi;
  regs_.rbp = sc.rbp;
  regs_.rbx = sc.rbx;
  regs_.rdx = sc.rdx;
  regs_.rax = sc.rax;
  regs_.rcx = sc.rcx;
  regs_.rsp = sc.rsp;
  regs_.rip = sc.rip;
  regs_.eflags = (regs_.eflags & ~kUserEflags) | (sc.eflags & kUserEflags);
  regs_.cs = platform::kUserCs;
  regs_.ss = platform::kUserSs;
  regs_replaced = true;

  // The alternate stack as the frame recorded it; errors are ignored, as
  // Linux's restore_altstack does.
  const UserStack& st = uc.stack;
  if (!OnStack(regs_.rsp, altstack_sp, altstack_size)) {
    int mode = st.flags & ~kSsAutodisarm;
    if (mode == SS_DISABLE) {
      altstack_sp = altstack_size = 0;
      altstack_autodisarm = false;
    } else if (st.size >= kMinSigStackSize) {
      altstack_sp = st.sp;
      altstack_size = st.size;
      altstack_autodisarm = st.flags & kSsAutodisarm;
    }
  }

  std::lock_guard<std::mutex> lock(kernel_.signal_mu());
  signal_mask = uc.sigmask & ~kUnblockableSignals;
  RecalcWakeLocked();
  return 0;
}

}  // namespace sentry
