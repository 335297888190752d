#include "platform/ptrace/stub_factory.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "platform/ptrace/stub.h"

namespace platform::ptrace_internal {
namespace {

struct Mapping {
  uint64_t start = 0, end = 0;
  std::string name;
};

absl::StatusOr<std::vector<Mapping>> ReadMaps(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/maps"));
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("ptrace platform: cannot read /proc/", pid,
                     "/maps (create the platform while /proc is mounted)"));
  }
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty()) continue;
    std::pair<std::string, std::string> r = absl::StrSplit(f[0], '-');
    Mapping m;
    if (!absl::SimpleHexAtoi(r.first, &m.start) ||
        !absl::SimpleHexAtoi(r.second, &m.end)) {
      return absl::InternalError(absl::StrCat("bad maps line: ", line));
    }
    if (f.size() >= 6) m.name = f[5];
    out.push_back(std::move(m));
  }
  return out;
}

bool IsVdsoName(const std::string& n) {
  return n == "[vdso]" || n == "[vvar]" || n == "[vvar_vclock]";
}

// Addresses at or above this are kernel-provided ([vsyscall]) and cannot be
// unmapped.
constexpr uint64_t kUserTop = uint64_t{1} << 47;

// The forked template, before it is traced: a copy of the factory thread in
// a new process. Raw syscalls only -- it shares nothing with the sentry, but
// its memory is a snapshot of a multi-threaded process whose locks may be
// held. Everything here is inherited by every stub cloned from it later.
[[noreturn]] __attribute__((noinline)) void TemplateChild(pid_t sentry,
                                                          int import_fd) {
  // No core dumps of stubs killed by seccomp or by signals.
  struct rlimit no_core = {0, 0};
  syscall(SYS_prlimit64, 0, RLIMIT_CORE, &no_core, nullptr);
  // Default dispositions (the sentry's handlers point at code that will be
  // unmapped) and an empty mask.
  struct {
    uint64_t handler = 0, flags = 0, restorer = 0, mask = 0;
  } dfl;
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
  }
  uint64_t empty_mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, nullptr, 8);
  // A session of its own: terminal signals (^C) for the sentry's process
  // group must not reach the stubs.
  syscall(SYS_setsid);
  // Die with the factory thread; close the race where it already died.
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (syscall(SYS_getppid) != sentry) syscall(SYS_exit_group, 1);
  syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  syscall(SYS_prctl, PR_SET_NAME, "cv-stub", 0, 0, 0);
  // glibc registered an rseq area in this thread's TLS, which fork keeps.
  // Once the sentry's memory is unmapped, the kernel would fail to update it
  // and kill the stub with SIGSEGV: unregister it. The length must match the
  // registration (glibc >= 2.40 exports a smaller __rseq_size than it
  // registers), so try the area size too.
  if (__rseq_size > 0) {
    char* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
    if (syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) !=
        0) {
      syscall(SYS_rseq, area, sizeof(struct rseq), RSEQ_FLAG_UNREGISTER,
              RSEQ_SIG);
    }
  }
  // The stub holds no file descriptors but its end of the fd-import socket,
  // at a fixed number and without close-on-exec (dup3 with no flags).
  if (import_fd == kStubImportFd) {
    syscall(SYS_fcntl, import_fd, F_SETFD, 0);
  } else if (syscall(SYS_dup3, import_fd, kStubImportFd, 0) < 0) {
    syscall(SYS_exit_group, 1);
  }
  if (syscall(SYS_close_range, kStubImportFd + 1, ~0U, 0) != 0) {
    for (int fd = kStubImportFd + 1; fd < 65536; ++fd) syscall(SYS_close, fd);
  }
  syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
  syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
  // Not reached: the factory redirects the template into the stub.
  for (;;) syscall(SYS_exit_group, 1);
}

}  // namespace

absl::StatusOr<std::unique_ptr<StubFactory>> StubFactory::Start(
    const StubAddresses& addrs, int import_fd) {
  std::unique_ptr<StubFactory> f(new StubFactory(addrs, import_fd));
  f->thread_ = std::thread([p = f.get()] { p->Run(); });
  absl::Status st;
  {
    std::unique_lock<std::mutex> l(f->mu_);
    f->cv_.wait(l, [&] { return f->ready_; });
    st = f->build_status_;
  }
  if (!st.ok()) return st;  // ~StubFactory joins the thread
  return f;
}

StubFactory::~StubFactory() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<pid_t> StubFactory::NewProcess() {
  Request req;
  {
    std::unique_lock<std::mutex> l(mu_);
    if (stopping_) return absl::UnavailableError("stub factory stopped");
    queue_.push_back(&req);
    cv_.notify_all();
    cv_.wait(l, [&] { return req.done; });
  }
  if (req.result < 0) {
    return cv::ErrnoStatus(static_cast<int>(-req.result),
                           "cloning a stub from the template");
  }
  return static_cast<pid_t>(req.result);
}

void StubFactory::Run() {
  absl::Status st = BuildTemplate();
  if (!st.ok()) KillTemplate();
  {
    std::lock_guard<std::mutex> l(mu_);
    build_status_ = st;
    ready_ = true;
  }
  cv_.notify_all();
  if (!st.ok()) return;

  bool broken = false;
  for (;;) {
    Request* req;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        for (Request* r : queue_) {
          r->result = -EAGAIN;
          r->done = true;
        }
        queue_.clear();
        cv_.notify_all();
        break;
      }
      req = queue_.front();
      queue_.pop_front();
    }
    int64_t result = -EAGAIN;
    if (!broken) {
      // The child shares the template's parent (CLONE_PARENT: the sentry,
      // with the factory thread as the parent thread) and its exit signal
      // (0: no SIGCHLD for the sentry). It lands in the pause loop.
      InjectResult r =
          Inject(template_pid_, template_regs_, addrs_, Site::kClone, SYS_clone,
                 {CLONE_PARENT, 0, 0, 0, 0, 0});
      if (r.gone) {
        cv::LogError("ptrace platform: the stub template died (status ",
                     r.wait_status, ")");
        template_pid_ = -1;
        broken = true;
      }
      result = r.value;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      req->result = result;
      req->done = true;
    }
    cv_.notify_all();
  }
  KillTemplate();
}

void StubFactory::KillTemplate() {
  if (template_pid_ <= 0) return;
  kill(template_pid_, SIGKILL);
  ReapExited(template_pid_);
  template_pid_ = -1;
}

absl::Status StubFactory::BuildTemplate() {
  // Built before the fork, so the child has the program at the same address.
  std::vector<sock_filter> filter = StubSeccompFilter(addrs_.base, addrs_.size);
  struct sock_fprog prog = {static_cast<unsigned short>(filter.size()),
                            filter.data()};
  const pid_t sentry = getpid();
  // A raw clone rather than fork(): exit signal 0, so neither the template
  // nor the stubs cloned from it (CLONE_PARENT inherits it) ever send the
  // sentry SIGCHLD on exit, and no atfork handlers run.
  long pid = syscall(SYS_clone, 0, 0, 0, 0, 0);
  if (pid < 0) return cv::ErrnoStatus(errno, "forking the stub template");
  if (pid == 0) TemplateChild(sentry, import_fd_);
  template_pid_ = static_cast<pid_t>(pid);

  int status = 0;
  if (WaitTid(template_pid_, &status) < 0 || !WIFSTOPPED(status) ||
      WSTOPSIG(status) != SIGSTOP) {
    // Exited (and reaped by that wait): no pid of ours to kill any more.
    if (!WIFSTOPPED(status)) template_pid_ = -1;
    return absl::InternalError(
        absl::StrCat("stub template did not stop for its tracer (wait status ",
                     status, ")"));
  }
  if (ptrace(PTRACE_SETOPTIONS, template_pid_, nullptr, PTRACE_O_EXITKILL) !=
          0 ||
      !GetRegs(template_pid_, template_regs_)) {
    return cv::ErrnoStatus(errno, "tracing the stub template");
  }
  InjectResult r = Inject(
      template_pid_, template_regs_, addrs_, Site::kInject, SYS_seccomp,
      {SECCOMP_SET_MODE_FILTER, 0, reinterpret_cast<uint64_t>(&prog), 0, 0, 0});
  if (r.value != 0) {
    return cv::ErrnoStatus(static_cast<int>(-r.value),
                           "installing the stub seccomp filter");
  }
  RETURN_IF_ERROR(UnmapAllButStub());
  RETURN_IF_ERROR(SetUpFpState());
  return absl::OkStatus();
}

absl::Status StubFactory::UnmapAllButStub() {
  ASSIGN_OR_RETURN(std::vector<Mapping> maps, ReadMaps(template_pid_));
  struct Range {
    uint64_t start, end;
  };
  std::vector<Range> keep;
  uint64_t top = 0;
  for (const Mapping& m : maps) {
    if (m.start >= kUserTop) continue;  // [vsyscall]
    top = std::max(top, m.end);
    bool in_stub = m.start >= addrs_.base && m.end <= addrs_.base + addrs_.size;
    if (in_stub || IsVdsoName(m.name)) keep.push_back({m.start, m.end});
    if (m.name == "[vdso]") {
      facts_.vdso_base = m.start;
      facts_.vdso_size = m.end - m.start;
    } else if (m.name == "[vvar]" || m.name == "[vvar_vclock]") {
      uint64_t end = facts_.vvar_base == 0
                         ? m.end
                         : std::max(m.end, facts_.vvar_base + facts_.vvar_size);
      facts_.vvar_base =
          facts_.vvar_base == 0 ? m.start : std::min(m.start, facts_.vvar_base);
      facts_.vvar_size = end - facts_.vvar_base;
    }
  }
  std::sort(keep.begin(), keep.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  uint64_t from = 0;
  auto unmap = [&](uint64_t start, uint64_t end) -> absl::Status {
    if (end <= start) return absl::OkStatus();
    InjectResult r =
        Inject(template_pid_, template_regs_, addrs_, Site::kInject, SYS_munmap,
               {start, end - start, 0, 0, 0, 0});
    if (r.value != 0) {
      return cv::ErrnoStatus(static_cast<int>(-r.value),
                             "unmapping the sentry's memory in the stub");
    }
    return absl::OkStatus();
  };
  for (const Range& k : keep) {
    RETURN_IF_ERROR(unmap(from, k.start));
    from = std::max(from, k.end);
  }
  RETURN_IF_ERROR(unmap(from, top));

  ASSIGN_OR_RETURN(maps, ReadMaps(template_pid_));
  for (const Mapping& m : maps) {
    bool in_stub = m.start >= addrs_.base && m.end <= addrs_.base + addrs_.size;
    if (!in_stub && !IsVdsoName(m.name) && m.start < kUserTop) {
      return absl::InternalError(absl::StrCat("stub template still maps ",
                                              absl::Hex(m.start), "-",
                                              absl::Hex(m.end), " ", m.name));
    }
  }
  return absl::OkStatus();
}

absl::Status StubFactory::SetUpFpState() {
  // How big is this host's XSAVE regset? Ask with a buffer larger than any.
  std::vector<uint8_t> probe(1 << 16);
  struct iovec iov = {probe.data(), probe.size()};
  size_t size = 0;
  if (ptrace(PTRACE_GETREGSET, template_pid_, NT_X86_XSTATE, &iov) == 0) {
    size = iov.iov_len;
  }
  FpState& init = facts_.initial_fp;
  memset(init.data, 0, sizeof(init.data));
  // The x87 control word and MXCSR Linux starts a process with; all
  // registers zero and the x87 stack empty (abridged tag word 0).
  uint16_t fcw = 0x37f;
  uint32_t mxcsr = 0x1f80;
  memcpy(init.data + 0, &fcw, sizeof(fcw));
  memcpy(init.data + 24, &mxcsr, sizeof(mxcsr));
  if (size >= 576 && size <= sizeof(init.data)) {
    facts_.xstate_size = size;
    // XSAVE header: only the x87 and SSE components are given; the others
    // (AVX upper halves, AVX-512, PKRU...) are left in their init state.
    uint64_t xstate_bv = 3;
    memcpy(init.data + 512, &xstate_bv, sizeof(xstate_bv));
    iov = {init.data, size};
    if (ptrace(PTRACE_SETREGSET, template_pid_, NT_X86_XSTATE, &iov) != 0) {
      return cv::ErrnoStatus(errno, "resetting the template's XSAVE state");
    }
    iov = {init.data, sizeof(init.data)};
    if (ptrace(PTRACE_GETREGSET, template_pid_, NT_X86_XSTATE, &iov) != 0) {
      return cv::ErrnoStatus(errno, "reading the template's XSAVE state");
    }
    init.size = iov.iov_len;
    // x87 and SSE marked present, as GetFpState() returns them.
    memcpy(init.data + 512, &xstate_bv, sizeof(xstate_bv));
  } else {
    // No XSAVE, or more state than FpState holds (AMX): the FXSAVE area.
    facts_.xstate_size = 0;
    static_assert(sizeof(user_fpregs_struct) == 512);
    if (ptrace(PTRACE_SETFPREGS, template_pid_, nullptr, init.data) != 0 ||
        ptrace(PTRACE_GETFPREGS, template_pid_, nullptr, init.data) != 0) {
      return cv::ErrnoStatus(errno, "resetting the template's FP state");
    }
    init.size = sizeof(user_fpregs_struct);
  }
  return absl::OkStatus();
}

}  // namespace platform::ptrace_internal
