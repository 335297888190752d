#include "platform/platform.h"

#include <cpuid.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "platform/ptrace/ptrace_platform.h"

namespace platform {

absl::StatusOr<std::unique_ptr<Platform>> Platform::Create(
    const std::string& name) {
  if (name == "ptrace") {
    absl::StatusOr<std::unique_ptr<ptrace_internal::PtracePlatform>> p =
        ptrace_internal::PtracePlatform::Create();
    if (!p.ok()) return p.status();
    return std::unique_ptr<Platform>(std::move(*p));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown platform \"", name, "\" (supported: ptrace)"));
}

absl::StatusOr<int> Context::ImportFd(int) {
  return absl::UnimplementedError("this platform cannot import fds");
}

namespace {

// The execve FP state sized from CPUID: the XSAVE area for the features
// enabled in XCR0, or the FXSAVE area if that does not fit FpState.
FpState BuildDefaultFpState() {
  FpState s;
  memset(s.data, 0, sizeof(s.data));
  uint16_t fcw = 0x37f;
  uint32_t mxcsr = 0x1f80;
  memcpy(s.data + 0, &fcw, sizeof(fcw));
  memcpy(s.data + 24, &mxcsr, sizeof(mxcsr));
  s.size = 512;
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_OSXSAVE) &&
      __get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx) && ebx >= 576 &&
      ebx <= sizeof(s.data)) {
    uint64_t xstate_bv = 3;  // x87 and SSE as above, the rest in init state
    memcpy(s.data + 512, &xstate_bv, sizeof(xstate_bv));
    s.size = ebx;
  }
  return s;
}

}  // namespace

const FpState& Platform::initial_fp_state() const {
  static const FpState* state = new FpState(BuildDefaultFpState());
  return *state;
}

}  // namespace platform
