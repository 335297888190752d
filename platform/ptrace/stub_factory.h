// The stub factory: a dedicated host thread that forks and traces the stub
// template -- a process holding nothing but the stub region and the vDSO,
// confined by the stub seccomp filter -- and clones fresh stub processes
// from it on request.
#ifndef CVISOR_PLATFORM_PTRACE_STUB_FACTORY_H_
#define CVISOR_PLATFORM_PTRACE_STUB_FACTORY_H_

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "platform/platform.h"
#include "platform/ptrace/tracee.h"

namespace platform::ptrace_internal {

// What the factory learned about the template while building it.
struct TemplateFacts {
  uint64_t vdso_base = 0, vdso_size = 0;
  uint64_t vvar_base = 0, vvar_size = 0;
  // Size of the NT_X86_XSTATE regset, or 0 if it does not fit FpState and
  // the FP state moves with PTRACE_GETFPREGS (legacy FXSAVE area) instead.
  size_t xstate_size = 0;
  FpState initial_fp;
};

class StubFactory final {
 public:
  // Starts the factory thread and builds the template; fails if the
  // template cannot be built.
  // `import_fd` is the stub's end of the fd-import socket: the template
  // keeps it as kStubImportFd (the caller still owns and closes its copy).
  static absl::StatusOr<std::unique_ptr<StubFactory>> Start(
      const StubAddresses& addrs, int import_fd);
  // Stops the factory thread; the template is killed and reaped. Stubs whose
  // PR_SET_PDEATHSIG points at the factory thread die with it.
  ~StubFactory();
  StubFactory(const StubFactory&) = delete;
  StubFactory& operator=(const StubFactory&) = delete;

  const TemplateFacts& facts() const { return facts_; }
  pid_t template_pid() const { return template_pid_; }

  // Clones a new stub process (one thread, untraced, in the pause loop, a
  // child of this process). Any thread.
  absl::StatusOr<pid_t> NewProcess();

 private:
  struct Request {
    int64_t result = 0;
    bool done = false;
  };

  StubFactory(const StubAddresses& addrs, int import_fd)
      : addrs_(addrs), import_fd_(import_fd) {}
  void Run();
  absl::Status BuildTemplate();
  absl::Status UnmapAllButStub();
  absl::Status SetUpFpState();
  void KillTemplate();

  const StubAddresses addrs_;
  const int import_fd_;
  TemplateFacts facts_;
  pid_t template_pid_ = -1;
  Registers template_regs_{};  // registers at the template's first stop
  std::thread thread_;

  // std::mutex rather than absl::Mutex: ThreadSanitizer understands it
  // (Debian's abseil is not built with TSan annotations).
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  bool ready_ = false;
  absl::Status build_status_;
  bool stopping_ = false;
  std::deque<Request*> queue_;
};

}  // namespace platform::ptrace_internal

#endif  // CVISOR_PLATFORM_PTRACE_STUB_FACTORY_H_
