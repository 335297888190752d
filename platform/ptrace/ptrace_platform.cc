#include "platform/ptrace/ptrace_platform.h"

#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "platform/ptrace/stub.h"

namespace platform::ptrace_internal {
namespace {

// Options for application threads: the stub dies if its owner thread does,
// and syscall stops are told apart from SIGTRAP.
constexpr unsigned kContextOptions = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;

constexpr uint64_t kThreadCloneFlags = CLONE_VM | CLONE_FS | CLONE_FILES |
                                       CLONE_SIGHAND | CLONE_THREAD |
                                       CLONE_SYSVSEM;

constexpr size_t kFxsaveSize = 512;

// XSAVE header: xstate_bv at byte 512. Bits 0 and 1 are x87 and SSE.
constexpr size_t kXstateBvOffset = 512;
constexpr uint64_t kFpSseBits = 3;

uint64_t XstateBv(const uint8_t* data) {
  uint64_t bv;
  memcpy(&bv, data + kXstateBvOffset, sizeof(bv));
  return bv;
}

// Gives a freshly cloned stub process (one thread, untraced, on its way to
// the pause loop) its standard shape: an application thread beside the leader,
// which goes back to sleep untraced as the manager. Returns the new thread's
// tid; it waits in the pause loop to be claimed.
absl::StatusOr<pid_t> SetUpStubProcess(const StubAddresses& a, pid_t leader) {
  ASSIGN_OR_RETURN(Registers regs, SeizeAndStop(leader, PTRACE_O_EXITKILL));
  InjectResult r = Inject(leader, regs, a, Site::kClone, SYS_clone,
                          {kThreadCloneFlags, 0, 0, 0, 0, 0});
  if (r.value <= 0) {
    return cv::ErrnoStatus(r.value < 0 ? static_cast<int>(-r.value) : EIO,
                           "cloning the first stub thread");
  }
  // Put the leader back exactly where it was: it may have been seized
  // before it ran the clone site's PR_SET_PDEATHSIG, and if it was asleep in
  // pause() the kernel restarts that (orig_rax and rax as they were).
  if (!SetRegs(leader, regs) ||
      ptrace(PTRACE_DETACH, leader, nullptr, nullptr) != 0) {
    return cv::ErrnoStatus(errno, "detaching the stub's manager thread");
  }
  return static_cast<pid_t>(r.value);
}

void KillStubProcess(pid_t pid) {
  kill(pid, SIGKILL);
  ReapExited(pid);
}

// Whether [addr, addr+len) rounded to pages touches [base, base+size).
bool Overlaps(uint64_t addr, uint64_t len, uint64_t base, uint64_t size) {
  if (len == 0) return false;
  uint64_t rounded = (len + 4095) & ~uint64_t{4095};
  if (rounded < len) return true;  // wraps: the host refuses it anyway
  uint64_t last = addr + rounded - 1;
  if (last < addr) return true;
  return addr < base + size && last >= base;
}

// Refuses injected memory calls that would change the stub region: the stub
// code is what every injection and the seccomp filter rely on. Returns the
// errno Linux gives for a range beyond TASK_SIZE, or 0.
int RefuseStubChange(long nr, const std::array<uint64_t, 6>& a,
                     const StubAddresses& s) {
  switch (nr) {
    case SYS_munmap:
    case SYS_madvise:
      return Overlaps(a[0], a[1], s.base, s.size) ? EINVAL : 0;
    case SYS_mprotect:
    case SYS_pkey_mprotect:
      return Overlaps(a[0], a[1], s.base, s.size) ? ENOMEM : 0;
    case SYS_mmap:
      if ((a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE)) == 0) return 0;
      return Overlaps(a[0], a[1], s.base, s.size) ? ENOMEM : 0;
    case SYS_mremap:
      if (Overlaps(a[0], std::max(a[1], a[2]), s.base, s.size)) return EINVAL;
      if ((a[3] & MREMAP_FIXED) && Overlaps(a[4], a[2], s.base, s.size)) {
        return EINVAL;
      }
      return 0;
    case SYS_close:
      // The fd-import socket must stay open (the stub cannot get it back).
      return a[0] == kStubImportFd ? EBADF : 0;
    case SYS_dup2:
    case SYS_dup3:
      return a[1] == kStubImportFd ? EBADF : 0;
    default:
      return 0;
  }
}

constexpr uint64_t kVsyscallPage = 0xffffffffff600000;
constexpr int kSysSeccomp = 1;  // si_code of a seccomp SIGSYS

bool IsFaultSignal(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
         sig == SIGTRAP;
}

uint64_t ReadMmapMinAddr() {
  std::ifstream in("/proc/sys/vm/mmap_min_addr");
  uint64_t v = 0;
  if (in >> v) return std::max<uint64_t>(v, 4096);
  return 65536;
}

}  // namespace

// ---------------------------------------------------------------------------
// PtraceAddressSpace

ssize_t PtraceAddressSpace::ReadMemory(uint64_t addr, void* buf, size_t len) {
  if (len == 0) return 0;
  if (!alive()) return -EFAULT;
  struct iovec local = {buf, len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  // Partial transfers stop at the first page that cannot be accessed.
  ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  return n < 0 ? -EFAULT : n;
}

ssize_t PtraceAddressSpace::WriteMemory(uint64_t addr, const void* buf,
                                        size_t len) {
  if (len == 0) return 0;
  if (!alive()) return -EFAULT;
  struct iovec local = {const_cast<void*>(buf), len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_writev(pid_, &local, 1, &remote, 1, 0);
  return n < 0 ? -EFAULT : n;
}

void PtraceAddressSpace::Release() {
  std::lock_guard<std::mutex> l(mu_);
  ReleaseLocked();
}

void PtraceAddressSpace::ReleaseLocked() {
  if (released_) return;
  released_ = true;
  // Cleared before any reaping, so no one reuses a tid we reaped.
  alive_.store(false);
  kill(pid_, SIGKILL);
  // Traced threads stay zombies until their tracer's process reaps them,
  // and the leader cannot be reaped before they are. Any thread of ours may
  // reap them; an owner racing us in waitpid gets ECHILD and reports
  // kExited.
  for (Thread& t : threads_) {
    if (!t.reaped) ReapExited(t.tid);
    t.reaped = true;
  }
  ReapExited(pid_);
}

bool PtraceAddressSpace::AddThread(pid_t tid) {
  std::lock_guard<std::mutex> l(mu_);
  if (released_) return false;
  threads_.push_back({tid, false});
  return true;
}

void PtraceAddressSpace::ThreadReaped(pid_t tid) {
  std::lock_guard<std::mutex> l(mu_);
  for (Thread& t : threads_) {
    if (t.tid == tid) t.reaped = true;
  }
}

PtraceAddressSpace::Departure PtraceAddressSpace::RemoveThread(pid_t tid) {
  std::lock_guard<std::mutex> l(mu_);
  auto erase = [&] {
    threads_.erase(
        std::remove_if(threads_.begin(), threads_.end(),
                       [&](const Thread& t) { return t.tid == tid; }),
        threads_.end());
  };
  if (released_) {
    erase();
    return Departure::kGone;
  }
  if (threads_.size() > 1) {
    erase();
    return Departure::kExitThread;
  }
  ReleaseLocked();
  return Departure::kReleased;
}

// ---------------------------------------------------------------------------
// PtraceContext

PtraceContext::PtraceContext(std::shared_ptr<PtraceAddressSpace> as,
                             std::shared_ptr<const StubConfig> config,
                             pid_t tid, const Registers& regs)
    : as_(std::move(as)),
      config_(std::move(config)),
      tid_(tid),
      owner_(pthread_self()),
      base_regs_(regs) {}

PtraceContext::~PtraceContext() {
  const bool dead = dead_.load();
  if (as_->RemoveThread(tid_) != PtraceAddressSpace::Departure::kExitThread ||
      dead) {
    return;
  }
  if (!OnOwnerThread()) {
    // Only the tracer can make the thread exit. It stays stopped; when its
    // owner thread exits, PTRACE_O_EXITKILL takes the whole process down.
    cv::LogError("ptrace platform: context of stub thread ", tid_,
                 " destroyed off its owner thread; the thread is left "
                 "stopped");
    return;
  }
  // Other threads live on in this address space: only this one goes.
  InjectResult r = Inject(tid_, base_regs_, config_->addrs, Site::kInject,
                          SYS_exit, {0, 0, 0, 0, 0, 0});
  if (!r.gone) {
    cv::LogError("ptrace platform: stub thread ", tid_,
                 " did not exit: ", r.value);
  }
}

bool PtraceContext::OnOwnerThread() const {
  return pthread_equal(owner_, pthread_self());
}

bool PtraceContext::CheckOwner(const char* what) const {
  if (OnOwnerThread()) return true;
  cv::LogError("ptrace platform: ", what, " on stub thread ", tid_,
               " called off its owner thread");
  return false;
}

void PtraceContext::MarkDead(int wait_status) {
  if (dead_.exchange(true)) return;
  exit_status_ = wait_status;
  as_->ThreadReaped(tid_);
}

SwitchResult PtraceContext::Exited() const {
  SwitchResult r;
  r.reason = StopReason::kExited;
  r.exit_status = exit_status_;
  return r;
}

SwitchResult PtraceContext::Switch(Registers& regs) {
  return Resume(regs, PTRACE_SYSEMU);
}

SwitchResult PtraceContext::SwitchWithoutSysemuForTesting(Registers& regs) {
  return Resume(regs, PTRACE_CONT);
}

SwitchResult PtraceContext::Resume(Registers& regs, int request) {
  if (dead_.load(std::memory_order_relaxed)) return Exited();
  if (!as_->alive()) {
    // Released: Release() reaped this thread, and its tid may be reused.
    MarkDead(W_EXITCODE(0, SIGKILL));
    return Exited();
  }
  if (deferred_interrupt_) {
    deferred_interrupt_ = false;
    SwitchResult r;
    r.reason = StopReason::kInterrupted;
    r.signo = kInterruptSignal;
    return r;
  }
  // orig_rax = -1 keeps the host's syscall-restart logic (which runs when a
  // signal stop is resumed) away from the application's registers.
  const uint64_t orig_rax = regs.orig_rax;
  regs.orig_rax = ~uint64_t{0};
  const bool set = SetRegs(tid_, regs);
  regs.orig_rax = orig_rax;
  // The previous stop's signal, if any, is always suppressed (data 0).
  if (!set || ptrace(static_cast<enum __ptrace_request>(request), tid_, nullptr,
                     nullptr) != 0) {
    if (errno == EIO && !set) {
      // Selectors or segment bases the host refuses: what a bad iret gives.
      SwitchResult r;
      r.reason = StopReason::kFault;
      r.signo = SIGSEGV;
      r.code = SI_KERNEL;
      return r;
    }
    if (!OnOwnerThread()) {
      cv::LogError("ptrace platform: Switch of stub thread ", tid_,
                   " off its owner thread");
      return Exited();
    }
    // ESRCH: the tracee was killed while stopped; the wait reaps it.
  }
  return WaitForStop(regs);
}

SwitchResult PtraceContext::WaitForStop(Registers& regs) {
  for (;;) {
    int status;
    if (WaitTid(tid_, &status) < 0) {
      // ECHILD: Release() reaped it under us.
      MarkDead(W_EXITCODE(0, SIGKILL));
      return Exited();
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      MarkDead(status);
      return Exited();
    }
    if (!WIFSTOPPED(status)) continue;
    const int sig = WSTOPSIG(status);
    SwitchResult res;
    if (sig == (SIGTRAP | 0x80)) {
      // A failed GETREGS means the tracee was killed: the next wait says so.
      if (!GetRegs(tid_, regs)) continue;
      res.reason = StopReason::kSyscall;
      return res;
    }
    if ((status >> 16) != 0) {
      // PTRACE_EVENT_STOP (a group-stop or interrupt we did not ask for).
      if (!GetRegs(tid_, regs)) continue;
      res.reason = StopReason::kInterrupted;
      res.signo = sig;
      return res;
    }
    siginfo_t si;
    if (ptrace(PTRACE_GETSIGINFO, tid_, nullptr, &si) != 0 ||
        !GetRegs(tid_, regs)) {
      continue;
    }
    if (sig == SIGSYS && si.si_code == kSysSeccomp &&
        (reinterpret_cast<uint64_t>(si.si_call_addr) & ~uint64_t{0xfff}) ==
            kVsyscallPage) {
      // A call into the legacy [vsyscall] page: the host emulates it as a
      // syscall, which the stub's filter trapped (skipping it) with rip
      // already at the caller's return address. To the sentry it is a
      // syscall like any other.
      regs.orig_rax = static_cast<uint64_t>(si.si_syscall);
      res.reason = StopReason::kSyscall;
      return res;
    }
    res.signo = sig;
    res.code = si.si_code;
    res.fault_addr = reinterpret_cast<uint64_t>(si.si_addr);
    if (sig == kInterruptSignal) {
      res.reason = StopReason::kInterrupted;
    } else if (IsFaultSignal(sig) && si.si_code > 0) {
      // si_code > 0: raised by the kernel for an instruction, not sent by
      // kill/tgkill/sigqueue.
      res.reason = StopReason::kFault;
    } else {
      res.reason = StopReason::kSignal;
    }
    return res;
  }
}

void PtraceContext::Interrupt() {
  if (dead_.load(std::memory_order_relaxed)) return;
  syscall(SYS_tgkill, as_->pid(), tid_, kInterruptSignal);
}

int64_t PtraceContext::InjectSyscall(long nr, uint64_t a0, uint64_t a1,
                                     uint64_t a2, uint64_t a3, uint64_t a4,
                                     uint64_t a5) {
  if (dead_.load(std::memory_order_relaxed)) return -ESRCH;
  if (!CheckOwner("InjectSyscall")) return -EPERM;
  if (!as_->alive()) {
    MarkDead(W_EXITCODE(0, SIGKILL));
    return -ESRCH;
  }
  const std::array<uint64_t, 6> args = {a0, a1, a2, a3, a4, a5};
  if (int err = RefuseStubChange(nr, args, config_->addrs)) return -err;
  InjectResult r =
      Inject(tid_, base_regs_, config_->addrs, Site::kInject, nr, args);
  if (r.interrupted) deferred_interrupt_ = true;
  if (r.gone) MarkDead(r.wait_status);
  return r.value;
}

namespace {

// What the injected recvmsg reads, laid out in the stub's scratch page with
// pointers valid in the stub.
struct ImportFrame {
  struct msghdr msg;
  struct iovec iov;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  char byte;
};

// Receives and closes whatever is queued on the stubs' end of the socket:
// a datagram left behind by a failed import would otherwise be taken by the
// next one.
void DrainImportSocket(int fd) {
  for (;;) {
    ImportFrame f{};
    f.iov = {&f.byte, 1};
    f.msg.msg_iov = &f.iov;
    f.msg.msg_iovlen = 1;
    f.msg.msg_control = f.control;
    f.msg.msg_controllen = sizeof(f.control);
    if (recvmsg(fd, &f.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0) return;
    for (cmsghdr* c = CMSG_FIRSTHDR(&f.msg); c != nullptr;
         c = CMSG_NXTHDR(&f.msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int got;
        memcpy(&got, CMSG_DATA(c), sizeof(got));
        close(got);
      }
    }
  }
}

}  // namespace

absl::StatusOr<int> PtraceContext::ImportFd(int host_fd) {
  if (dead_.load(std::memory_order_relaxed)) {
    return cv::ErrnoStatus(ESRCH, "stub thread exited");
  }
  if (!CheckOwner("ImportFd")) {
    return absl::FailedPreconditionError("ImportFd off the owner thread");
  }
  if (config_->import_send_fd < 0) {
    return absl::FailedPreconditionError("no fd-import socket");
  }
  // Every stub shares the socket: one datagram in flight at a time, so the
  // stub we inject into is the one that receives it. The lock also keeps
  // the scratch page to one user.
  static std::mutex import_mu;
  std::lock_guard<std::mutex> lock(import_mu);

  const uint64_t scratch = config_->addrs.base + 4096;
  ImportFrame remote{};
  auto at = [&](const void* field) {
    return scratch + (static_cast<const char*>(field) -
                      reinterpret_cast<const char*>(&remote));
  };
  remote.iov.iov_base = reinterpret_cast<void*>(at(&remote.byte));
  remote.iov.iov_len = 1;
  remote.msg.msg_iov = reinterpret_cast<struct iovec*>(at(&remote.iov));
  remote.msg.msg_iovlen = 1;
  remote.msg.msg_control = reinterpret_cast<void*>(at(remote.control));
  remote.msg.msg_controllen = sizeof(remote.control);
  if (as_->WriteMemory(scratch, &remote, sizeof(remote)) !=
      static_cast<ssize_t>(sizeof(remote))) {
    return cv::ErrnoStatus(EFAULT, "writing the import frame into the stub");
  }

  ImportFrame local{};
  local.byte = 'F';
  local.iov = {&local.byte, 1};
  local.msg.msg_iov = &local.iov;
  local.msg.msg_iovlen = 1;
  local.msg.msg_control = local.control;
  local.msg.msg_controllen = sizeof(local.control);
  cmsghdr* c = CMSG_FIRSTHDR(&local.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &host_fd, sizeof(int));
  if (sendmsg(config_->import_send_fd, &local.msg,
              MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
    return cv::ErrnoStatus(errno, "sending an fd to the stub");
  }

  InjectResult r =
      Inject(tid_, base_regs_, config_->addrs, Site::kInject, SYS_recvmsg,
             {static_cast<uint64_t>(kStubImportFd), scratch,
              MSG_DONTWAIT | MSG_CMSG_CLOEXEC, 0, 0, 0});
  if (r.interrupted) deferred_interrupt_ = true;
  if (r.gone) MarkDead(r.wait_status);
  if (r.value != 1) {
    DrainImportSocket(config_->import_drain_fd);
    return cv::ErrnoStatus(r.value < 0 ? static_cast<int>(-r.value) : EIO,
                           "receiving an fd in the stub");
  }
  ImportFrame back{};
  if (as_->ReadMemory(scratch, &back, sizeof(back)) !=
      static_cast<ssize_t>(sizeof(back))) {
    return cv::ErrnoStatus(EFAULT, "reading the import frame from the stub");
  }
  // The stub's frame is read back as raw bytes: the cmsg header sits at the
  // start of `control`.
  cmsghdr hdr;
  memcpy(&hdr, back.control, sizeof(hdr));
  if ((back.msg.msg_flags & MSG_CTRUNC) || hdr.cmsg_level != SOL_SOCKET ||
      hdr.cmsg_type != SCM_RIGHTS || hdr.cmsg_len != CMSG_LEN(sizeof(int))) {
    return cv::ErrnoStatus(EIO, "the stub received no fd");
  }
  int fd;
  memcpy(&fd, back.control + CMSG_LEN(0), sizeof(fd));
  return fd;
}

absl::Status PtraceContext::GetFpState(FpState& out) {
  if (dead_.load()) return cv::ErrnoStatus(ESRCH, "stub thread exited");
  if (!CheckOwner("GetFpState")) {
    return absl::FailedPreconditionError("GetFpState off the owner thread");
  }
  if (config_->xstate_size != 0) {
    struct iovec iov = {out.data, sizeof(out.data)};
    if (ptrace(PTRACE_GETREGSET, tid_, NT_X86_XSTATE, &iov) != 0) {
      return cv::ErrnoStatus(errno, "PTRACE_GETREGSET NT_X86_XSTATE");
    }
    out.size = iov.iov_len;
    // As Linux does for signal frames: x87 and SSE always marked present
    // (the legacy area holds their values even when they are in the init
    // state), so that a caller that edits them and calls SetFpState() is
    // not silently ignored.
    if (out.size > kXstateBvOffset + sizeof(uint64_t)) {
      uint64_t bv = XstateBv(out.data) | kFpSseBits;
      memcpy(out.data + kXstateBvOffset, &bv, sizeof(bv));
    }
  } else {
    if (ptrace(PTRACE_GETFPREGS, tid_, nullptr, out.data) != 0) {
      return cv::ErrnoStatus(errno, "PTRACE_GETFPREGS");
    }
    out.size = kFxsaveSize;
  }
  return absl::OkStatus();
}

absl::Status PtraceContext::SetFpState(const FpState& in) {
  if (dead_.load()) return cv::ErrnoStatus(ESRCH, "stub thread exited");
  if (!CheckOwner("SetFpState")) {
    return absl::FailedPreconditionError("SetFpState off the owner thread");
  }
  const size_t want =
      config_->xstate_size != 0 ? config_->xstate_size : kFxsaveSize;
  if (in.size != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FP state of ", in.size, " bytes; this host's is ", want, " bytes"));
  }
  void* data = const_cast<uint8_t*>(in.data);
  if (config_->xstate_size != 0) {
    // Without the x87/SSE bits in xstate_bv the kernel loads their init
    // state, whatever the legacy area says; Linux's sigreturn sets them for
    // the same reason.
    FpState fixed;
    if ((XstateBv(in.data) & kFpSseBits) != kFpSseBits) {
      memcpy(fixed.data, in.data, in.size);
      uint64_t bv = XstateBv(in.data) | kFpSseBits;
      memcpy(fixed.data + kXstateBvOffset, &bv, sizeof(bv));
      data = fixed.data;
    }
    struct iovec iov = {data, in.size};
    if (ptrace(PTRACE_SETREGSET, tid_, NT_X86_XSTATE, &iov) != 0) {
      return cv::ErrnoStatus(errno, "PTRACE_SETREGSET NT_X86_XSTATE");
    }
  } else if (ptrace(PTRACE_SETFPREGS, tid_, nullptr, data) != 0) {
    return cv::ErrnoStatus(errno, "PTRACE_SETFPREGS");
  }
  return absl::OkStatus();
}

absl::StatusOr<pid_t> PtraceContext::InjectClone(uint64_t flags,
                                                 const char* what) {
  if (!CheckOwner(what)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " off the owner thread"));
  }
  if (dead_.load() || !as_->alive()) {
    return cv::ErrnoStatus(ESRCH, "stub thread exited");
  }
  InjectResult r = Inject(tid_, base_regs_, config_->addrs, Site::kClone,
                          SYS_clone, {flags, 0, 0, 0, 0, 0});
  if (r.interrupted) deferred_interrupt_ = true;
  if (r.gone) MarkDead(r.wait_status);
  if (r.value <= 0) {
    return cv::ErrnoStatus(r.value < 0 ? static_cast<int>(-r.value) : EIO,
                           what);
  }
  return static_cast<pid_t>(r.value);
}

absl::StatusOr<std::unique_ptr<PendingContext>> PtraceContext::NewThread() {
  ASSIGN_OR_RETURN(const pid_t tid,
                   InjectClone(kThreadCloneFlags, "cloning a stub thread"));
  if (!as_->AddThread(tid)) {
    return cv::ErrnoStatus(ESRCH, "address space released");
  }
  return std::make_unique<PtracePendingContext>(as_, config_, tid);
}

absl::StatusOr<std::unique_ptr<PendingContext>>
PtraceContext::ForkAddressSpace() {
  // A copy of this thread alone, in a copy-on-write copy of the memory; its
  // parent is the sentry (CLONE_PARENT), never this stub. It inherits this
  // thread's FP state, and hands it to the thread it is given below.
  ASSIGN_OR_RETURN(const pid_t leader,
                   InjectClone(CLONE_PARENT, "forking a stub"));
  absl::StatusOr<pid_t> tid = SetUpStubProcess(config_->addrs, leader);
  if (!tid.ok()) {
    KillStubProcess(leader);
    return tid.status();
  }
  auto as = std::make_shared<PtraceAddressSpace>(leader);
  as->AddThread(*tid);
  return std::make_unique<PtracePendingContext>(std::move(as), config_, *tid);
}

// ---------------------------------------------------------------------------
// PtracePendingContext

PtracePendingContext::~PtracePendingContext() {
  if (claimed_) return;
  // Seize it so that it can be told to exit; the context's destructor then
  // does what it does for any thread (exit, or release if it is the last).
  absl::StatusOr<std::unique_ptr<Context>> ctx = Claim();
  if (ctx.ok()) return;
  if (as_->RemoveThread(tid_) == PtraceAddressSpace::Departure::kExitThread) {
    cv::LogError("ptrace platform: could not stop unclaimed stub thread ", tid_,
                 ": ", ctx.status().message());
  }
}

absl::StatusOr<std::unique_ptr<Context>> PtracePendingContext::Claim() {
  if (claimed_) {
    return absl::FailedPreconditionError("stub thread already claimed");
  }
  if (!as_->alive()) return cv::ErrnoStatus(ESRCH, "address space released");
  ASSIGN_OR_RETURN(Registers regs, SeizeAndStop(tid_, kContextOptions));
  claimed_ = true;
  return std::unique_ptr<Context>(new PtraceContext(as_, config_, tid_, regs));
}

// ---------------------------------------------------------------------------
// PtracePlatform

absl::StatusOr<std::unique_ptr<PtracePlatform>> PtracePlatform::Create() {
  std::unique_ptr<PtracePlatform> p(new PtracePlatform());
  ASSIGN_OR_RETURN(p->addrs_, MapStubRegion());
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return cv::ErrnoStatus(errno, "creating the fd-import socketpair");
  }
  p->import_send_.reset(sv[0]);
  p->import_stub_.reset(sv[1]);
  ASSIGN_OR_RETURN(p->factory_,
                   StubFactory::Start(p->addrs_, p->import_stub_.get()));
  const TemplateFacts& facts = p->factory_->facts();
  Layout& l = p->layout_;
  l.min_addr = ReadMmapMinAddr();
  l.max_addr = p->addrs_.base;
  l.vdso_base = facts.vdso_base;
  l.vdso_size = facts.vdso_size;
  l.vvar_base = facts.vvar_base;
  l.vvar_size = facts.vvar_size;
  l.stub_base = p->addrs_.base;
  l.stub_size = p->addrs_.size;
  auto config = std::make_shared<StubConfig>();
  config->addrs = p->addrs_;
  config->xstate_size = facts.xstate_size;
  config->import_send_fd = p->import_send_.get();
  config->import_drain_fd = p->import_stub_.get();
  p->config_ = std::move(config);
  return p;
}

PtracePlatform::~PtracePlatform() {
  factory_.reset();
  UnmapStubRegion(addrs_);
}

absl::StatusOr<std::unique_ptr<Context>> PtracePlatform::NewAddressSpace() {
  ASSIGN_OR_RETURN(pid_t leader, factory_->NewProcess());
  absl::StatusOr<pid_t> tid = SetUpStubProcess(config_->addrs, leader);
  if (!tid.ok()) {
    KillStubProcess(leader);
    return tid.status();
  }
  auto as = std::make_shared<PtraceAddressSpace>(leader);
  as->AddThread(*tid);
  // If the claim fails, destroying the pending context releases the stub.
  PtracePendingContext pending(std::move(as), config_, *tid);
  return pending.Claim();
}

}  // namespace platform::ptrace_internal
